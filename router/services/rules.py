"""RuleService: read, validate and publish the rule set; explain a routing decision."""

from __future__ import annotations

import tomllib

import grpc

from router import convert
from router.api.ticket_router.v1 import rule_service_pb2 as rules_pb
from router.api.ticket_router.v1 import rule_service_pb2_grpc as rules_grpc
from router.app import RouterApp
from router.errors import InvalidArgument
from router.interceptors import current_principal
from router.validation import check_ticket

FORMATS = {rules_pb.RULE_FORMAT_YAML: "yaml", rules_pb.RULE_FORMAT_TOML: "toml"}
FORMAT_VALUES = {name: value for value, name in FORMATS.items()}


def _format(value: int, text: str) -> str:
    """The format named by the request, or detected from the text when it names none."""
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
        problems = self.app.rules.problems(request.text, _format(request.format, request.text))
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
        fmt = _format(request.format, request.text)
        published = await self.app.publish_rules(request.text, fmt, current_principal().name)
        return rules_pb.PublishRulesResponse(
            version=published.version, published_at=convert.timestamp(published.published_at)
        )

    async def ExplainRouting(
        self, request: rules_pb.ExplainRoutingRequest, context: grpc.aio.ServicerContext
    ) -> rules_pb.ExplainRoutingResponse:
        if request.HasField("ticket_id"):
            ticket = (await self.app.ticket(request.ticket_id)).ticket
        elif request.HasField("ticket"):
            ticket = request.ticket
            check_ticket(
                ticket, max_body_chars=self.app.settings.max_body_chars, require_id=False
            )
        else:
            raise InvalidArgument("give a ticket_id or a ticket", field="subject")
        return await self.app.explain(ticket, request.rule_version or None)
