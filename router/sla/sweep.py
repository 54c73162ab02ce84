"""Live SLA risk and escalation: the periodic sweep every router process runs, sharing the work.

Each tick a process claims a batch of unanswered tickets whose SLA check is due
(`claim_sla_checks`: a due ticket goes to one process, its next check moves an interval ahead).
For each it re-scores the SLA risk with the queue's current state, at most once per interval
per ticket across all processes, turns it into the live risk given the time left, sets the
at-risk flag (with hysteresis), fires the escalation levels that now hold (`escalate`: each
level exactly once per ticket, whichever process gets there first) and stores the result with
the time of the next check. The next check comes at the latest one interval later, earlier
when a level's trigger or the at-risk threshold is predicted to be crossed before then, so
"10 minutes left" fires within about a tick of the moment, not within an interval.

Live risk. The model gives r = P(first-response target missed) for a ticket joining the queue
now with the whole target T ahead. A ticket that has waited has only `time_left` of it; with a
memoryless wait for the response (rate implied by r over T) the probability that no response
comes in the time left is r ** (time_left / T): r when just submitted, rising to 1 at the
deadline. Between two scorings the same r serves, so the live risk still rises with time.

Re-scoring. A ticket's first scoring in a sweep comes from its text; that check also stores
the ticket's SLA basis (the risk model's features without the queue state,
`scoring.scorer.SlaBasis`), and later scorings, in any process, start from it: the same value
without cleaning and vectorizing the text again. A basis of another model version is made anew.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, cast

from queues.models import ClaimedCheck, FirstSlaCheck, QueueStats, SlaCheck, TicketState
from queues.store import AsyncQueueStore
from router import convert
from router.api.ticket_router.v1 import ticket_pb2 as pb
from router.errors import FailedPrecondition, NotFound, Unavailable
from router.metrics import RouterMetrics
from router.outage_log import OutageLog
from router.queue_states import RecentQueueStates
from router.sla.escalation import (
    EscalationPolicy,
    EscalationStep,
    EscalationTrigger,
    TicketEscalationState,
)
from router.sla.policy import PRIORITIES, Deadlines, SlaPolicy

logger = logging.getLogger(__name__)

RESCORE_INTERVAL_S = 30.0
"""Each unanswered ticket is scored by the risk model at most once per interval (whichever
process checks it) and checked at least once per interval."""

CHECK_TICK_S = 0.25
"""How often each process claims due checks: a trigger fires within about a tick of its time."""

CHECK_BATCH = 100
"""Most tickets one process checks per tick (up to 400 a second): bounds its model calls and
Redis calls per tick. A claim is read in one piece, so the batch is also the longest pause of
the event loop it causes: reading 100 claimed tickets takes ~3 ms of CPU here, 200 took ~6 ms
(plus ~2-3 ms of Redis time, when Redis serves no one else). A backlog waits for the next tick."""

MIN_RECHECK_S = 1.0
"""Least time before the next check of a ticket (or the interval, if shorter), so a trigger
that keeps failing to apply cannot make a busy loop."""

YIELD_EVERY = 4
"""Tickets checked between two yields to the event loop, so RPCs are served during a sweep."""


class RiskModel(Protocol):
    """Scores the SLA risk of a ticket in a queue's current state (`ScoringAdapter`)."""

    def sla_risk_with_basis(
        self, ticket: pb.Ticket, stats: Any, priority: str
    ) -> tuple[float, str | None]:
        """The risk (NaN: none), and what `sla_risk_from_basis` needs to re-score the ticket
        without its text (stored with it; None when the model cannot make one)."""
        ...

    def sla_risk_from_basis(self, basis: str, stats: Any, priority: str) -> float | None:
        """The risk from a stored basis; None when the basis does not serve this model."""
        ...


class SlaRules(Protocol):
    """The live SLA and escalation policies (`LiveRules`)."""

    @property
    def sla_policy(self) -> SlaPolicy: ...

    @property
    def escalation_policy(self) -> EscalationPolicy: ...


def live_risk(model_risk: float | None, time_left: timedelta, target: timedelta) -> float | None:
    """The probability that an unanswered ticket misses its target, given the time left.

    Args:
        model_risk: the model's probability of a miss over the whole target (None: unknown).
        time_left: time to the deadline on the target's clock (negative once passed).
        target: the whole target duration.

    Returns:
        `model_risk ** (time_left / target)`, 1.0 at or past the deadline, None if unknown.
    """
    if time_left <= timedelta(0):
        return 1.0
    if model_risk is None or math.isnan(model_risk):
        return None
    fraction = min(1.0, time_left / target) if target > timedelta(0) else 0.0
    return float(min(1.0, max(0.0, model_risk)) ** fraction)


def priority_name(priority: int) -> str:
    """P1..P4 of a queue priority (1 most urgent); beyond 4 counts as P4."""
    return PRIORITIES[min(max(priority, 1), len(PRIORITIES)) - 1]


def escalation_queues(policy: EscalationPolicy) -> frozenset[str]:
    """The queues the policy's levels move tickets to."""
    return frozenset(
        level.actions.move_to_queue for level in policy.levels if level.actions.move_to_queue
    )


@dataclass
class SweepReport:
    """What one sweep did (for logs and tests)."""

    now: float
    """Redis server time of the claim, seconds since the epoch."""
    checked: list[str] = field(default_factory=list)
    scored: list[str] = field(default_factory=list)
    """Tickets the risk model scored in this sweep."""
    escalated: list[tuple[str, str]] = field(default_factory=list)
    """(ticket, level) fired by this sweep."""
    at_risk: list[str] = field(default_factory=list)


@dataclass
class _Pass:
    """One sweep: its instant, the policies it uses throughout, what it found."""

    now: float
    policy: EscalationPolicy
    sla: SlaPolicy
    report: SweepReport
    stats: dict[str, QueueStats | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Outlook:
    """A ticket against its deadlines at one instant, and when its triggers may hold.

    Times left are on the targets' clocks. Working time never passes faster than calendar
    time, so waiting that long in calendar time is never late: in business hours only early,
    and an early check just reschedules.
    """

    model_risk: float | None
    first_left: timedelta
    """Time left to the first-response deadline."""
    target: timedelta
    """The whole first-response target."""
    time_left: timedelta
    """Time left to the nearest open deadline (what time-left triggers test)."""

    @classmethod
    def of(cls, deadlines: Deadlines, instant: datetime, model_risk: float | None) -> _Outlook:
        target = deadlines.first_response
        return cls(
            model_risk=model_risk,
            first_left=target.time_left(instant, deadlines.first_response_at),
            target=target.within,
            time_left=deadlines.time_left(instant, responded=False),
        )

    @property
    def risk(self) -> float | None:
        return live_risk(self.model_risk, self.first_left, self.target)

    def seconds_until(self, trigger: EscalationTrigger) -> float:
        """Seconds until the trigger may hold, with the model risk unchanged."""
        waits = []
        if trigger.time_left_at_most is not None:
            waits.append((self.time_left - trigger.time_left_at_most).total_seconds())
        if trigger.sla_risk_at_least is not None:
            waits.append(self.seconds_until_risk(trigger.sla_risk_at_least))
        if not waits:
            return math.inf
        return max(waits) if trigger.match == "all" else min(waits)

    def seconds_until_risk(self, threshold: float) -> float:
        """Seconds until the live risk reaches `threshold`, with the model risk unchanged:
        r ** (t / T) >= threshold  <=>  t <= T * ln(threshold) / ln(r)  for 0 < r < 1."""
        left = self.first_left.total_seconds()
        if self.model_risk is None or math.isnan(self.model_risk) or self.model_risk <= 0.0:
            return left  # the live risk is 1 from the deadline on
        if self.model_risk >= threshold:
            return 0.0
        return left - self.target.total_seconds() * math.log(threshold) / math.log(
            min(self.model_risk, 1.0)
        )


@dataclass(frozen=True, slots=True)
class _Context:
    """A ticket as one check sees it."""

    ticket: TicketState
    message: pb.Ticket | None
    submitted_at: datetime
    tier: str | None

    @classmethod
    def of(cls, ticket: TicketState) -> _Context:
        data = ticket.data or {}
        message = None
        if isinstance(data.get("ticket"), str):
            message = cast(pb.Ticket, convert.unpack(data["ticket"], pb.Ticket()))
        submitted = data.get("submitted_at", ticket.enqueued_at)
        return cls(
            ticket=ticket,
            message=message,
            submitted_at=datetime.fromtimestamp(float(submitted), UTC),
            tier=(message.customer_tier or None) if message is not None else None,
        )

    def deadlines(self, sla: SlaPolicy, priority: str, queue: str) -> Deadlines:
        return sla.deadlines(priority, queue, self.tier, self.submitted_at)


class SlaSweep:
    """Re-scores unanswered tickets and escalates them, sharing the work with other processes.

    Args:
        queues: the tenant's queue store.
        rules: where the live SLA and escalation policies come from.
        risk: the SLA-risk model; None checks time-left triggers only.
        metrics: where escalations are counted.
        create_queue: creates a missing escalation queue (the app's queue defaults).
        queue_states: the process's recent queue states, to re-score against (default: read
            each sweep's queues from `queues`).
        interval_s: see `RESCORE_INTERVAL_S`.
        batch: see `CHECK_BATCH`.
        tick_s: see `CHECK_TICK_S`.
    """

    def __init__(
        self,
        queues: AsyncQueueStore,
        rules: SlaRules,
        risk: RiskModel | None,
        metrics: RouterMetrics,
        *,
        create_queue: Callable[[str], Awaitable[object]] | None = None,
        queue_states: RecentQueueStates | None = None,
        interval_s: float = RESCORE_INTERVAL_S,
        batch: int = CHECK_BATCH,
        tick_s: float = CHECK_TICK_S,
    ) -> None:
        self.queues = queues
        self.rules = rules
        self.risk = risk
        self.metrics = metrics
        self.create_queue = create_queue
        self.queue_states = queue_states or RecentQueueStates(queues, max_age_s=0.0)
        self.interval_s = interval_s
        self.batch = batch
        self.tick_s = tick_s
        self._policy_with_queues: EscalationPolicy | None = None

    async def run(self, reports: Callable[[SweepReport], None] | None = None) -> None:
        """Sweep every tick until cancelled; a failed sweep is logged and retried next tick.

        Args:
            reports: called with each sweep's report.
        """
        outage = OutageLog(logger, "SLA sweep")
        while True:
            try:
                report = await self.sweep_once()
                outage.recovered()
                if reports is not None:
                    reports(report)
                if len(report.checked) >= self.batch:
                    logger.warning("SLA sweep checked a full batch of %d; checks run late",
                                   self.batch)
            except Unavailable as error:
                outage.failed(error)
            except Exception:
                logger.exception("SLA sweep failed")
            await asyncio.sleep(self.tick_s)

    async def sweep_once(self) -> SweepReport:
        """Check the tickets due now (up to the batch), escalate them, store the results."""
        policy = self.rules.escalation_policy
        await self._ensure_escalation_queues(policy)
        claimed = await self.queues.claim_sla_checks(self.batch, self.interval_s)
        sweep = _Pass(claimed.now, policy, self.rules.sla_policy, SweepReport(now=claimed.now))
        if not claimed.checks:
            return sweep.report
        sweep.stats = await self._queue_stats({check.ticket.queue for check in claimed.checks})
        results = []
        for index, check in enumerate(claimed.checks):
            if index and index % YIELD_EVERY == 0:
                await asyncio.sleep(0)
            result = await self._check(check, sweep)
            if result is not None:
                results.append(result)
        if results:
            await self.queues.record_sla_checks(results)
        return sweep.report

    async def _check(self, check: ClaimedCheck, sweep: _Pass) -> SlaCheck | None:
        ticket, report = check.ticket, sweep.report
        context = _Context.of(ticket)
        priority = priority_name(ticket.priority)
        deadlines = context.deadlines(sweep.sla, priority, ticket.queue)
        model_risk = ticket.sla_model_risk
        scored = basis = None
        stats = sweep.stats.get(ticket.queue)
        if check.rescore and stats is not None and (
            rescored := self._rescore(context, stats, priority)
        ) is not None:
            value, basis = rescored
            scored = model_risk = None if math.isnan(value) else value
            report.scored.append(ticket.ticket_id)
        outlook = _Outlook.of(deadlines, datetime.fromtimestamp(sweep.now, UTC), model_risk)
        at_risk = sweep.policy.at_risk.at_risk(outlook.risk, ticket.at_risk)

        state = TicketEscalationState(
            priority, frozenset(ticket.escalations), outlook.risk, outlook.time_left
        )
        fired = set(state.fired)
        for step in sweep.policy.decide(state).steps:
            try:
                won = await self._escalate(context, step, state, sweep.sla)
            except FailedPrecondition:
                return None  # completed or cancelled meanwhile: nothing left to check
            except NotFound as error:
                logger.warning("escalation %s of ticket %s not applied: %s",
                               step.level.name, ticket.ticket_id, error)
                continue
            fired.add(step.level.name)
            if won:
                report.escalated.append((ticket.ticket_id, step.level.name))

        report.checked.append(ticket.ticket_id)
        if at_risk:
            report.at_risk.append(ticket.ticket_id)
        wait = self._wait_s(sweep.policy, fired, at_risk=at_risk, outlook=outlook)
        return SlaCheck(ticket.ticket_id, at_risk=at_risk, next_check_at=sweep.now + wait,
                        sla_risk=outlook.risk, model_risk=scored, sla_basis=basis)

    def _rescore(
        self, context: _Context, stats: QueueStats, priority: str
    ) -> tuple[float, str | None] | None:
        """The risk model's value now, and a basis to store when the ticket's own did not
        serve (None when the ticket cannot be scored: no model, or no text and no basis).

        A ticket submitted through a router comes with its basis; one enqueued without, or
        whose basis another model made, is scored from its text once and that check stores
        a new basis. Re-scoring from a basis costs a fraction (no text cleaning or vectorizing).
        """
        if self.risk is None:
            return None
        stored = context.ticket.sla_basis
        if stored is not None:
            value = self.risk.sla_risk_from_basis(stored, stats, priority)
            if value is not None:
                return value, None
        if context.message is None:
            return None
        return self.risk.sla_risk_with_basis(context.message, stats, priority)

    async def _escalate(
        self,
        context: _Context,
        step: EscalationStep,
        state: TicketEscalationState,
        sla: SlaPolicy,
    ) -> bool:
        """Fire one level through the escalate script; True if this call fired it."""
        ticket, actions = context.ticket, step.level.actions
        queue = actions.move_to_queue or ticket.queue
        deadlines = {}
        for index, name in enumerate(PRIORITIES, start=1):
            due = context.deadlines(sla, name, queue)
            deadlines[index] = (due.first_response_at.timestamp(), due.resolve_at.timestamp())
        raise_to = actions.raise_priority_to
        data = step.event_data(state)
        result = await self.queues.escalate(
            ticket.ticket_id,
            step.level.name,
            raise_by=actions.raise_priority_by,
            raise_to=None if raise_to is None else PRIORITIES.index(raise_to) + 1,
            to_queue=actions.move_to_queue,
            relax_skills=actions.relax_skills,
            deadlines=deadlines,
            emit_event=actions.emit_event,
            event_data={key: data[key] for key in ("level_index", "sla_risk", "time_left_s")},
        )
        if result.won:
            self.metrics.record_escalation(
                step.level.name, ticket.queue, priority_name(ticket.priority), ticket.channel
            )
        return result.won

    def first_check(
        self, priority: str, deadlines: Deadlines, model_risk: float | None, now: datetime
    ) -> FirstSlaCheck | None:
        """A new ticket's first check, worked out at submission, when a check now would change
        nothing (no level fires, it is not at risk); None when one is due at once.

        Spares the sweep one claim and one record per ticket, and keeps new tickets from
        crowding its batches (at most `batch` per tick per process). `now` is the router's
        clock while the sweep keeps Redis's: with clocks apart, the first check comes that
        much early or late (at most one interval after submission either way).
        """
        if model_risk is not None and math.isnan(model_risk):
            model_risk = None
        policy = self.rules.escalation_policy
        outlook = _Outlook.of(deadlines, now, model_risk)
        if policy.at_risk.at_risk(outlook.risk, False):
            return None
        state = TicketEscalationState(priority, frozenset(), outlook.risk, outlook.time_left)
        if policy.decide(state).steps:
            return None
        return FirstSlaCheck(self._wait_s(policy, set(), at_risk=False, outlook=outlook),
                             outlook.risk)

    def _wait_s(
        self, policy: EscalationPolicy, fired: set[str], *, at_risk: bool, outlook: _Outlook
    ) -> float:
        """Seconds to the next check: the interval, or less when a trigger may hold sooner."""
        waits = [self.interval_s]
        waits += [outlook.seconds_until(level.trigger) for level in policy.levels
                  if level.name not in fired]
        if not at_risk:
            waits.append(outlook.seconds_until_risk(policy.at_risk.enter))
        return max(min(MIN_RECHECK_S, self.interval_s), min(waits))

    async def _queue_stats(self, names: Iterable[str]) -> dict[str, QueueStats | None]:
        return {name: await self.queue_states.get(name) for name in sorted(names)}

    async def _ensure_escalation_queues(self, policy: EscalationPolicy) -> None:
        """Create the queues a new escalation policy moves tickets to, once per policy."""
        if policy is self._policy_with_queues or self.create_queue is None:
            return
        existing = {queue.name for queue in await self.queues.list_queues()}
        for name in sorted(escalation_queues(policy) - existing):
            await self.create_queue(name)
            logger.info("created escalation queue %s", name)
        self._policy_with_queues = policy
