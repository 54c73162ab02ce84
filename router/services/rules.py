"""RuleService: read, validate and publish the rule set; explain a routing decision."""

from __future__ import annotations

import tomllib

import grpc

from router import convert
from router.api.ticket_router.v1 import rule_service_pb2 as rules_pb
from router.api.ticket_router.v1 import rule_service_pb2_grpc as rules_grpc
from router.app import RouterApp
from router.config_document import MAX_DOCUMENT_CHARS
from router.errors import InvalidArgument
from router.interceptors import current_principal
from router.validation import check_ticket
from router.what_if import DEFAULT_EXAMPLES, DEFAULT_LIMIT, MAX_EXAMPLES, MAX_LIMIT, WhatIf

FORMATS = {rules_pb.RULE_FORMAT_YAML: "yaml", rules_pb.RULE_FORMAT_TOML: "toml"}
FORMAT_VALUES = {name: value for value, name in FORMATS.items()}


def _draft_format(value: int, text: str) -> str:
    """A draft's format, named by the request or detected from the text when it names none,
    once the text is there and within the limit.

    Raises:
        InvalidArgument: an empty or too large text, or an unknown format.
    """
    if not text.strip():
        raise InvalidArgument("give the text of the rules file", field="text")
    if len(text) > MAX_DOCUMENT_CHARS:
        raise InvalidArgument(f"the text has {len(text):,} characters, more than the limit of "
                              f"{MAX_DOCUMENT_CHARS:,}; split it or remove unused parts",
                              field="text")
    if value == rules_pb.RULE_FORMAT_UNSPECIFIED:
        return detect_format(text)
    fmt = FORMATS.get(value)  # type: ignore[call-overload]
    if fmt is None:
        raise InvalidArgument(
            "use RULE_FORMAT_YAML or RULE_FORMAT_TOML, or leave it unset to detect it",
            field="format",
        )
    return fmt


def detect_format(text: str) -> str:
    """"toml" when the text parses as TOML, else "yaml" (YAML's `key: value` never does)."""
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return "yaml"
    return "toml"


class RuleService(rules_grpc.RuleServiceServicer):
    """Implements `ticket_router.v1.RuleService`."""

    def __init__(self, app: RouterApp) -> None:
        self.app = app

    async def GetRules(
        self, request: rules_pb.GetRulesRequest, context: grpc.aio.ServicerContext
    ) -> rules_pb.GetRulesResponse:
        stored = await self.app.rules.store.get(request.version or None)
        return rules_pb.GetRulesResponse(
            rules=rules_pb.RuleSet(
                version=stored.version,
                text=stored.text,
                format=FORMAT_VALUES[stored.fmt],
                published_at=convert.timestamp(stored.published_at),
                published_by=stored.author,
                sha256=stored.sha256,
            ),
            live_version=self.app.rules.version,
        )

    async def ValidateRules(
        self, request: rules_pb.ValidateRulesRequest, context: grpc.aio.ServicerContext
    ) -> rules_pb.ValidateRulesResponse:
        problems = self.app.rules.problems(
            request.text, _draft_format(request.format, request.text), await self.app.queue_names()
        )
        return rules_pb.ValidateRulesResponse(
            valid=not problems,
            problems=[
                rules_pb.RuleProblem(
                    line=p.line or 0, rule_id=p.item_id or "", path=p.path, message=p.message
                )
                for p in problems
            ],
        )

    async def PublishRules(
        self, request: rules_pb.PublishRulesRequest, context: grpc.aio.ServicerContext
    ) -> rules_pb.PublishRulesResponse:
        fmt = _draft_format(request.format, request.text)
        published = await self.app.publish_rules(request.text, fmt, current_principal().name)
        return rules_pb.PublishRulesResponse(
            version=published.version, published_at=convert.timestamp(published.published_at)
        )

    async def ExplainRouting(
        self, request: rules_pb.ExplainRoutingRequest, context: grpc.aio.ServicerContext
    ) -> rules_pb.ExplainRoutingResponse:
        holder = None
        if request.HasField("ticket_id"):
            routed = await self.app.ticket(request.ticket_id)
            ticket, holder = routed.ticket, routed.state.agent_id
        elif request.HasField("ticket"):
            ticket = request.ticket
            check_ticket(
                ticket, max_body_chars=self.app.settings.max_body_chars, require_id=False
            )
        else:
            raise InvalidArgument("give a ticket_id or a ticket", field="subject")
        return await self.app.explain(ticket, request.rule_version or None, holder)

    async def SimulateRules(
        self, request: rules_pb.SimulateRulesRequest, context: grpc.aio.ServicerContext
    ) -> rules_pb.SimulateRulesResponse:
        since = convert.aware(request.since) if request.HasField("since") else None
        until = convert.aware(request.until) if request.HasField("until") else None
        if since is not None and until is not None and since >= until:
            raise InvalidArgument("`since` must be before `until`", field="since")
        limit = _bounded(request.limit, DEFAULT_LIMIT, MAX_LIMIT, "limit")
        examples = _bounded(request.max_examples, DEFAULT_EXAMPLES, MAX_EXAMPLES, "max_examples")
        fmt = _draft_format(request.format, request.text)
        result = await self.app.simulate_rules(
            request.text, fmt, since=since, until=until, limit=limit, max_examples=examples
        )
        return _what_if_response(result)


def _bounded(value: int, default: int, most: int, name: str) -> int:
    """A count from a request: 0 means the default; 1..most, else INVALID_ARGUMENT."""
    if value == 0:
        return default
    if not 1 <= value <= most:
        raise InvalidArgument(f"give {name} between 1 and {most:,}, or 0 for {default:,}",
                              field=name)
    return value


def _what_if_response(result: WhatIf) -> rules_pb.SimulateRulesResponse:
    return rules_pb.SimulateRulesResponse(
        tickets=result.tickets,
        first_submitted_at=convert.timestamp(result.first_submitted_at),
        last_submitted_at=convert.timestamp(result.last_submitted_at),
        queue_changed=result.queue_changed,
        priority_changed=result.priority_changed,
        predicted_breaches_before=result.predicted_breaches_before,
        predicted_breaches_after=result.predicted_breaches_after,
        risk_scored=result.risk_scored,
        queues=[
            rules_pb.QueueImpact(
                queue=q.queue, tickets_before=q.tickets_before, tickets_after=q.tickets_after,
                agents_available=q.agents_available,
                predicted_breaches_before=q.predicted_breaches_before,
                predicted_breaches_after=q.predicted_breaches_after,
            )
            for q in result.queues
        ],
        moves=[rules_pb.RouteChange(from_queue=a, to_queue=b, tickets=n)
               for a, b, n in result.moves],
        rules=[rules_pb.RuleHits(rule_id=rule, line=line or 0, tickets=n)
               for rule, line, n in result.rule_hits],
        changed=[
            rules_pb.SimulatedTicket(
                ticket_id=c.ticket_id, queue_before=c.queue_before, queue_after=c.queue_after,
                priority_before=convert.priority_value(c.priority_before),
                priority_after=convert.priority_value(c.priority_after),
                rule_id=c.decision.rule_id or "",
                reason_after=convert.REASON_VALUES[c.decision.reason],
            )
            for c in result.changed
        ],
        warnings=result.warnings,
        reasons=result.reasons,
    )
