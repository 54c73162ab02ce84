"""The rule set live in this router process, kept in step with every other process.

Published versions live in Redis (`router.rule_store`); each process compiles the newest one
and swaps it in atomically (one reference assignment), so a decision uses one version whole.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from importlib import resources

import redis.asyncio

from router import convert
from router.api.ticket_router.v1 import ticket_pb2 as pb
from router.config_document import ConfigProblem, InvalidConfig
from router.errors import NotFound
from router.rule_store import RuleStore, RuleWatcher, StoredRuleSet
from router.rules import SCORE_FIELDS, Decision, RuleSet
from router.sla.escalation import EscalationPolicy, load_escalation_policy
from router.sla.policy import SlaPolicy, load_sla_policy

DEFAULT_RULES_RESOURCE = "default_rules.yaml"
"""Packaged rule set published when a router starts against a Redis that has none."""

DEFAULT_AUTHOR = "ticket-router (default rules)"


def default_rules_text() -> str:
    """The packaged default rule set (YAML)."""
    return resources.files("router").joinpath(DEFAULT_RULES_RESOURCE).read_text()


def ticket_values(ticket: pb.Ticket) -> dict[str, object]:
    """The ticket fields rules may test (empty ones as None: conditions on them fail)."""
    fields = convert.ticket_fields(ticket)
    del fields["created_at"]
    return {name: value or None for name, value in fields.items()} | {
        "attributes": fields["attributes"]
    }


class RuleScores(Mapping[str, object]):
    """The scores rules may test, with the SLA risk scored only when a rule tests it.

    Args:
        scores: the model's category and priority scores.
        sla_risk: scores the risk, called on first use.
    """

    def __init__(self, scores: pb.Scores, sla_risk: Callable[[], float]) -> None:
        self._values: dict[str, object] = {
            "category": scores.category or None,
            "category_confidence": scores.category_confidence if scores.category else None,
            "priority": convert.PRIORITY_NAMES.get(scores.priority),  # type: ignore[call-overload]
        }
        self._sla_risk = sla_risk

    def __getitem__(self, name: str) -> object:
        if name == "sla_risk" and name not in self._values:
            self._values[name] = self._sla_risk()
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(SCORE_FIELDS)

    def __len__(self) -> int:
        return len(SCORE_FIELDS)


def decision_message(decision: Decision) -> pb.RoutingDecision:
    """The proto form of a routing decision."""
    return pb.RoutingDecision(
        queue=decision.queue,
        priority=int(decision.priority),
        required_skills=dict(decision.required_skills),
        tags=list(decision.tags),
        rule_id=decision.rule_id or "",
        rule_version=decision.rule_set_version or 0,
        reason=convert.REASON_VALUES[decision.reason],
    )


class LiveRules:
    """The current compiled rule set of this process, following the published versions."""

    def __init__(self, client: redis.asyncio.Redis) -> None:
        self.store = RuleStore(client, validators=(load_sla_policy, load_escalation_policy))
        self.watcher = RuleWatcher(self.store)
        self._sla_policy: tuple[int, SlaPolicy] | None = None
        self._escalation_policy: tuple[int, EscalationPolicy] | None = None

    @property
    def current(self) -> RuleSet:
        assert self.watcher.current is not None, "start() loads the rule set"
        return self.watcher.current

    @property
    def version(self) -> int:
        return self.watcher.version

    @property
    def sla_policy(self) -> SlaPolicy:
        """The SLA policy of the live rule set (its `sla_policy` section, else the default)."""
        version = self.version
        if self._sla_policy is None or self._sla_policy[0] != version:
            self._sla_policy = (version, load_sla_policy(self.current.document))
        return self._sla_policy[1]

    @property
    def escalation_policy(self) -> EscalationPolicy:
        """The escalation policy of the live rule set (its `escalation` section, else the
        default)."""
        version = self.version
        if self._escalation_policy is None or self._escalation_policy[0] != version:
            self._escalation_policy = (version, load_escalation_policy(self.current.document))
        return self._escalation_policy[1]

    async def start(self, default_text: tuple[str, str] | None = None) -> None:
        """Follow the published versions, publishing first `default_text` (a configured
        rules file) when it differs from the live one, or the packaged default when none."""
        try:
            latest: StoredRuleSet | None = await self.store.get()
        except NotFound:
            latest = None
        if default_text is not None and (latest is None or latest.text != default_text[0]):
            await self.store.publish(default_text[0], default_text[1], "settings")
        elif latest is None:
            await self.store.publish(default_rules_text(), "yaml", DEFAULT_AUTHOR)
        await self.watcher.start()

    async def stop(self) -> None:
        await self.watcher.stop()

    async def publish(self, text: str, fmt: str, author: str) -> StoredRuleSet:
        """Validate and publish a new version; this process switches to it at once."""
        stored = await self.store.publish(text, fmt, author)
        await self.watcher.refresh()
        return stored

    def problems(
        self, text: str, fmt: str, known_queues: set[str] | None = None
    ) -> list[ConfigProblem]:
        """Every problem of a draft rule set (empty when it is valid); with `known_queues`,
        a queue it names that is neither one of them nor declared under `queues:` is one."""
        try:
            self.store.validate(text, fmt, known_queues=known_queues)
        except InvalidConfig as error:
            return list(error.problems)
        return []
