"""One router process: its components, the routing flow, and its background loops.

The gRPC servicers (`router/services/`) are thin: they validate, call a method here and
convert the result. Every router process sharing a Redis runs the same loops; each loop is
safe to run concurrently (the queue scripts are atomic, the history writer idempotent).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import redis
import redis.asyncio

from queues.models import Assignment, Offer, TicketState
from queues.store import AsyncQueueStore
from router import convert
from router.admission import AdmissionLimit
from router.api.ticket_router.v1 import rule_service_pb2 as rules_pb
from router.api.ticket_router.v1 import ticket_pb2 as pb
from router.errors import (
    InvalidArgument,
    NotFound,
    NotOfferHolder,
    PermissionDenied,
    Unavailable,
)
from router.health import RedisHealth
from router.history.database import create_schema, open_database
from router.history.queries import list_agents, past_submissions
from router.history.writer_process import WriterProcess
from router.history_recorder import HistoryRecorder
from router.live_rules import LiveRules, RuleScores, decision_message, ticket_values
from router.metrics import RouterMetrics
from router.offer_hub import OfferHub
from router.outage_log import OutageLog
from router.queue_states import RecentQueueStates
from router.rule_store import StoredRuleSet
from router.rules import Condition, Decision, RuleSet, TicketValues
from router.scoring_adapter import ScoringAdapter, scoring_ticket
from router.services import SERVICE_NAMES
from router.settings import Settings
from router.sla.sweep import SlaSweep
from router.tasks import cancel_and_wait
from router.what_if import WhatIf, available_agents, past_ticket, simulate

logger = logging.getLogger(__name__)

SWEEP_INTERVAL_S = 0.25
"""How often each process hands back expired offers and retries waiting tickets."""

ASSIGN_BURST = 50
"""Most offers one queue gets per sweep, so one long queue cannot starve the others."""

REDIS_MAX_CONNECTIONS = 100
"""Connections per process to Redis; more concurrent calls wait for one (up to 5 s)."""

WRITER_CHECK_S = 1.0
"""How often a router looks whether its history writer process is alive."""


@dataclass
class Routed:
    """The outcome of submitting a ticket (first submission or the stored one)."""

    created: bool
    state: TicketState
    ticket: pb.Ticket
    scores: pb.Scores
    decision: pb.RoutingDecision


@dataclass(frozen=True)
class Scored:
    """A ticket's scores, a rule set's decision, the chosen queue's stats (None if unknown)
    and, when asked for, the SLA basis the risk was scored from (`ScoringAdapter`)."""

    scores: pb.Scores
    decision: Decision
    stats: Any
    sla_basis: str | None = None
    rule_scores: RuleScores | None = None
    """The scores the rules saw (their SLA risk without a queue state, when a rule tested it)."""


@dataclass(frozen=True)
class FirstResponse:
    """When the first response was recorded, and whether by this call."""

    at: float
    new: bool


@dataclass
class RouterApp:
    """Everything one router process needs, started and stopped together."""

    settings: Settings
    redis_url: str
    scoring: ScoringAdapter
    metrics: RouterMetrics = field(default_factory=RouterMetrics)
    writer_cpus: frozenset[int] | None = None
    """CPUs for the history writer process when this router is pinned (None: as the router)."""

    def __post_init__(self) -> None:
        # A blocking pool: a burst of concurrent calls waits for a free connection instead of
        # failing (redis-py's default pool refuses the 101st with "Too many connections").
        self.client = redis.asyncio.Redis.from_pool(
            redis.asyncio.BlockingConnectionPool.from_url(
                self.redis_url, max_connections=REDIS_MAX_CONNECTIONS, timeout=5,
                socket_timeout=5, socket_connect_timeout=2, health_check_interval=10,
            )
        )
        self.queues = AsyncQueueStore(self.client)
        self.queue_states = RecentQueueStates(self.queues)
        # SubmitTicket and ScoreTicket share one bound: both score, the costly part of a call
        self.admission = AdmissionLimit(self.settings.max_inflight_submissions,
                                        "submissions and scorings")
        self.rules = LiveRules(self.client)
        from queues.events import AsyncEventReader

        self.offer_hub = OfferHub(
            AsyncEventReader(self.client), self.client, self.queues.keys.events
        )
        self.engine = open_database(self.settings.history_url)
        self.recorder = HistoryRecorder(self.engine)
        self._tasks: list[asyncio.Task[None]] = []
        self.history_writer = WriterProcess(self.redis_url, self.settings.history_url,
                                            nice=self.settings.history_writer_nice,
                                            cpus=self.writer_cpus)
        self.tracing_interceptors: list[Any] = []
        self.health = RedisHealth(self.redis_url, SERVICE_NAMES,
                                  self.settings.health_check_interval_s)

    # --- life cycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Create the history schema, load the live rules, start the background loops (the
        health check among them)."""
        create_schema(self.engine)
        reindexed = await self.queues.reindex_agents()  # after an upgrade of the index layout
        if reindexed:
            logger.info("re-indexed %d agents in the current index layout", reindexed)
        await self.rules.start(default_text=self.settings_rules_text())
        await self.recorder.rule_version(await self.rules.store.get())
        await self.recorder.model_version(
            self.scoring.scorer.version, str(self.settings.model_dir or "default"), {}
        )
        await self.ensure_queues()
        await self.offer_hub.start()
        self._tasks.append(asyncio.create_task(self._sweep_forever(), name="sweeper"))
        self.sla_sweep = SlaSweep(self.queues, self.rules, self.scoring, self.metrics,
                                  create_queue=self._create_queue,
                                  queue_states=self.queue_states,
                                  interval_s=self.settings.sla_rescore_interval_s)
        self._tasks.append(asyncio.create_task(self.sla_sweep.run(), name="sla-sweep"))
        self.history_writer.start()
        self._tasks.append(asyncio.create_task(self._keep_writer_alive(), name="writer-watch"))
        await self.health.check()  # the statuses are set before the server takes a call
        self._tasks.append(asyncio.create_task(self.health.run(), name="health"))
        self.metrics.observe_queues(self._queue_snapshot_sync)

    async def stop(self) -> None:
        """Stop the loops and close connections (in-flight work is in Redis, not here)."""
        for task in self._tasks:
            await cancel_and_wait(task)
        await self.health.aclose()
        await self.offer_hub.stop()
        await self.rules.stop()
        await asyncio.to_thread(self.history_writer.stop)
        await self.client.aclose()
        self.engine.dispose()

    def settings_rules_text(self) -> tuple[str, str] | None:
        """The rules file named in the settings, as (text, format), if any."""
        path = self.settings.rules_file
        if path is None:
            return None
        fmt = "toml" if path.suffix == ".toml" else "yaml"
        try:
            return path.read_text(), fmt
        except OSError as error:
            raise InvalidArgument(f"cannot read the rules file {path}: {error.strerror}; "
                                  "give an existing YAML or TOML file", field="rules_file"
                                  ) from error

    async def _create_queue(self, name: str) -> None:
        await self.queues.set_queue_policy(name, offer_timeout_s=self.settings.offer_timeout_s)

    async def ensure_queues(self) -> None:
        """Create every queue the live rule set routes to (existing ones keep their policy)."""
        existing = {queue.name for queue in await self.queues.list_queues()}
        for name in sorted(self.rules.current.queue_names() - existing):
            await self.queues.set_queue_policy(name, offer_timeout_s=self.settings.offer_timeout_s)

    # --- routing ---------------------------------------------------------------------------

    async def submit(self, ticket: pb.Ticket) -> Routed:
        """Score, route and enqueue a ticket once; a known id returns the stored result."""
        # No read first: enqueue is idempotent on the id (a resubmission, rare, costs a scoring).
        scored = await self._score_and_decide(ticket, self.rules.current, keep_basis=True)
        scores, decision = scored.scores, decision_message(scored.decision)
        submitted_at = convert.aware(ticket.created_at) or datetime.now(UTC)
        priority = convert.PRIORITY_NAMES.get(decision.priority, "P3")
        deadlines = self.rules.sla_policy.deadlines(
            priority, decision.queue, ticket.customer_tier or None, submitted_at
        )
        channel = convert.channel_name(ticket.channel)
        first_check = self.sla_sweep.first_check(
            priority, deadlines, scores.sla_risk, datetime.now(UTC)
        )
        submitted = await self.queues.submit(  # enqueue and the first offer: one round trip
            ticket.id,
            decision.queue,
            decision.priority or 3,
            channel,
            skills=dict(decision.required_skills),
            deadline_ts=deadlines.first_response_at.timestamp(),
            data={
                "ticket": convert.pack(ticket),
                "scores": convert.pack(scores),
                "decision": convert.pack(decision),
                "submitted_at": submitted_at.timestamp(),
                "resolve_by": deadlines.resolve_at.timestamp(),
            },
            sla_model_risk=scores.sla_risk,
            first_sla_check=first_check,
            sla_basis=scored.sla_basis,
        )
        state = submitted.ticket
        if not state.created:  # another process won the race for this id
            return self._stored(state, created=False)
        rule = decision.rule_id or _REASON_NAMES.get(decision.reason, "model")
        self.metrics.record_submitted(decision.queue, rule, priority, channel)
        self.metrics.record_routed(decision.queue, rule, priority, channel)
        if submitted.offer is not None:
            offer = submitted.offer
            await self._offer_made(
                offer, submitted_at.timestamp() if offer.ticket_id == ticket.id else None
            )
        return Routed(True, state, ticket, scores, decision)

    async def score_and_route(
        self, ticket: pb.Ticket, *, explain: bool = False
    ) -> tuple[pb.Scores, pb.RoutingDecision]:
        """The scores and the routing decision for a ticket, without side effects."""
        scored = await self._score_and_decide(ticket, self.rules.current, explain=explain)
        return scored.scores, decision_message(scored.decision)

    async def _score_and_decide(
        self, ticket: pb.Ticket, rule_set: RuleSet, *, explain: bool = False,
        keep_basis: bool = False,
    ) -> Scored:
        """Score a ticket and decide its route; `keep_basis`: with the SLA basis to store."""
        started = time.perf_counter()
        # SLA risk depends on the queue the ticket joins and the priority it joins it with,
        # which the other scores and the rules choose: it is scored last, once, as the SLA
        # sweep scores it (the sweep keeps this value until its next scoring, which starts
        # from the basis kept with it). Rules that test the risk see it without a queue
        # state, at the model's priority (scored only for them).
        plain = scoring_ticket(ticket)  # converted once for the two or three scorings
        scores = self.scoring.score(plain, None, explain=explain, sla_risk=False)
        predicted = convert.PRIORITY_NAMES.get(scores.priority, "")
        rule_scores = RuleScores(scores, lambda: self.scoring.sla_risk(plain, None, predicted))
        decision = rule_set.decide(ticket_values(ticket), rule_scores)
        stats = await self.queue_states.get(decision.queue)
        priority, basis = str(decision.priority), None
        if keep_basis:
            scores.sla_risk, basis = self.scoring.sla_risk_with_basis(plain, stats, priority)
        else:
            scores.sla_risk = self.scoring.sla_risk(plain, stats, priority)
        self.metrics.record_scoring_duration(time.perf_counter() - started, "all")
        return Scored(scores, decision, stats, basis, rule_scores)

    def _stored(self, state: TicketState, *, created: bool) -> Routed:
        ticket, scores, decision = convert.stored_submission(state.data or {})
        return Routed(created, state, ticket, scores, decision)

    async def ticket(self, ticket_id: str) -> Routed:
        """The stored ticket.

        Raises:
            NotFound: no ticket with this id.
        """
        state = await self.queues.get_ticket(ticket_id)
        if state is None:
            raise NotFound(f"ticket {ticket_id!r} does not exist; submit it first")
        return self._stored(state, created=False)

    async def record_first_response(self, ticket_id: str, agent_id: str) -> FirstResponse:
        """Record the assignee's first reply (once; later calls return the first time)."""
        recorded = await self.queues.record_first_response(ticket_id, agent_id)
        if recorded.new:
            routed = await self.ticket(ticket_id)
            self._check_breach(routed, "first_response", recorded.at)
            submitted = (routed.state.data or {}).get("submitted_at", routed.state.enqueued_at)
            self.metrics.record_time_to_first_response(
                recorded.at - submitted, routed.state.queue,
                convert.PRIORITY_NAMES.get(convert.priority_value(routed.state.priority)),
                routed.state.channel,
            )
        return FirstResponse(at=recorded.at, new=recorded.new)

    async def resolve(
        self, ticket_id: str, agent_id: str, resolution: str | None = None
    ) -> TicketState:
        """The assignee resolved the ticket (`resolution`: how, kept in its event): its
        capacity goes to the next ticket."""
        state = await self.queues.complete(ticket_id, agent_id, resolution=resolution)
        routed = self._stored(state, created=False)
        finished = state.finished_at or time.time()
        self._check_breach(routed, "resolution", finished)
        submitted = (state.data or {}).get("submitted_at", state.enqueued_at)
        self.metrics.record_time_to_resolve(
            finished - submitted, state.queue,
            convert.PRIORITY_NAMES.get(convert.priority_value(state.priority)), state.channel,
        )
        await self.assign_agent(agent_id)
        return state

    def _check_breach(self, routed: Routed, kind: str, at: float) -> None:
        data = routed.state.data or {}
        due = routed.state.deadline_ts if kind == "first_response" else (
            routed.state.resolve_deadline_ts or data.get("resolve_by")  # escalation moves it
        )
        if due is not None and at > due:
            self.metrics.record_sla_breach(
                kind, routed.state.queue,
                convert.PRIORITY_NAMES.get(convert.priority_value(routed.state.priority), "P3"),
                routed.state.channel,
            )

    async def cancel(self, ticket_id: str, note: str | None = None) -> TicketState:
        """Withdraw a ticket wherever it is (`note`: why, kept in its event); an agent holding
        it gets the capacity back."""
        before = await self.queues.get_ticket(ticket_id)
        state = await self.queues.cancel(ticket_id, note=note)
        if before is not None and before.agent_id:
            await self.assign_agent(before.agent_id)
        return state

    async def transfer(
        self, ticket_id: str, queue: str, priority: int | None, note: str | None = None,
        holder: str | None = None,
    ) -> TicketState:
        """Move a ticket to another queue (and priority), back to waiting there (`note`: why,
        kept in its event; `holder`: only if this agent holds it, checked atomically).

        Raises:
            PermissionDenied: `holder` does not hold the ticket.
        """
        before = await self.queues.get_ticket(ticket_id)
        if before is None:
            raise NotFound(f"ticket {ticket_id!r} does not exist")
        try:
            state = await self.queues.transfer(ticket_id, queue, note=note, holder=holder)
        except NotOfferHolder as error:  # the caller's own ticket or nothing: its permission
            raise PermissionDenied(error.message) from error
        if priority is not None and priority != state.priority:
            # Deadlines follow the new priority, counted from the original submission.
            data = state.data or {}
            ticket = convert.unpack(data["ticket"], pb.Ticket()) if "ticket" in data else None
            deadlines = self.rules.sla_policy.deadlines(
                convert.PRIORITY_NAMES.get(priority, "P3"),  # type: ignore[call-overload]
                queue,
                (ticket.customer_tier or None) if isinstance(ticket, pb.Ticket) else None,
                datetime.fromtimestamp(data.get("submitted_at", state.enqueued_at), UTC),
            )
            state = await self.queues.reprioritize(
                ticket_id, priority, deadlines.first_response_at.timestamp()
            )
        if before.agent_id:
            await self.assign_agent(before.agent_id)
        await self.assign_queue(queue, limit=1)
        return await self.queues.get_ticket(ticket_id) or state

    async def accept(self, ticket_id: str, agent_id: str) -> Assignment:
        """The offer holder takes the ticket."""
        assignment = await self.queues.accept(ticket_id, agent_id)
        state = await self.queues.get_ticket(ticket_id)
        if state is not None:
            priority = convert.PRIORITY_NAMES.get(convert.priority_value(state.priority))
            submitted = (state.data or {}).get("submitted_at", state.enqueued_at)
            self.metrics.record_offer("accepted", state.queue, priority, state.channel)
            self.metrics.record_time_to_accept(
                assignment.assigned_at - submitted, state.queue, priority, state.channel
            )
        return assignment

    async def reject(self, ticket_id: str, agent_id: str, note: str | None = None) -> TicketState:
        """The offer holder declines (`note`: why, kept in its event): the ticket goes to the
        next agent, this one gets more."""
        state = await self.queues.reject(ticket_id, agent_id, note=note)
        self.metrics.record_offer("rejected", state.queue, None, state.channel)
        await self.assign_queue(state.queue, limit=1)
        await self.assign_agent(agent_id)
        return state

    async def assign_queue(self, queue: str, *, limit: int = ASSIGN_BURST) -> list[Offer]:
        """Make up to `limit` offers from the head of `queue`."""
        offers = []
        for _ in range(limit):
            offer = await self.queues.assign(queue)
            if offer is None:
                break
            offers.append(offer)
            await self._offer_made(offer)
        return offers

    async def _offer_made(self, offer: Offer, first_submitted_at: float | None = None) -> None:
        """Count the offer; the first offer of a ticket ends its time to assign."""
        priority = convert.PRIORITY_NAMES.get(convert.priority_value(offer.priority))
        self.metrics.record_offer("made", offer.queue, priority, offer.channel)
        submitted = first_submitted_at
        if submitted is None:
            state = await self.queues.get_ticket(offer.ticket_id)
            if state is None or state.offers_made != 1:
                return
            submitted = (state.data or {}).get("submitted_at", state.enqueued_at)
        # Redis stamps the offer in whole milliseconds: an offer within the submission's
        # millisecond would come out slightly negative, which a histogram refuses.
        self.metrics.record_time_to_assign(
            max(0.0, offer.offered_at - submitted), offer.queue, priority, offer.channel
        )

    async def assign_agent(self, agent_id: str) -> None:
        """Offer work to an agent who just freed capacity, until it is full or nothing fits."""
        for _ in range(ASSIGN_BURST):
            offer = await self.queues.assign_for_agent(agent_id)
            if offer is None:
                return
            await self._offer_made(offer)

    async def queue_names(self) -> set[str]:
        """The queues that exist now."""
        return {queue.name for queue in await self.queues.list_queues()}

    async def publish_rules(self, text: str, fmt: str, author: str) -> StoredRuleSet:
        """Validate and publish a rule set; its new queues (declared under `queues:`; any
        other queue it names must exist) are created before it goes live."""
        existing = await self.queue_names()
        # refused whole before any change
        candidate = self.rules.store.validate(text, fmt, known_queues=existing)
        for name in sorted(candidate.queue_names() - existing):
            await self._create_queue(name)
        stored = await self.rules.publish(text, fmt, author)
        await self.recorder.rule_version(stored)
        return stored

    async def simulate_rules(
        self, text: str, fmt: str, *, since: datetime | None, until: datetime | None,
        limit: int, max_examples: int,
    ) -> WhatIf:
        """What-if: the latest `limit` tickets of the history submitted in [since, until),
        routed by a draft rule set, against where they went (`router.what_if`). Publishes
        nothing; the replay runs in a worker thread (it scores every ticket's SLA risk).

        Raises:
            InvalidConfig: the draft has problems (each with its line).
            Unavailable: the history database is unreachable.
        """
        draft = self.rules.store.validate(text, fmt, known_queues=await self.queue_names())
        rows = await asyncio.to_thread(
            past_submissions, self.engine, since=since, until=until, limit=limit
        )
        agents = available_agents(await asyncio.to_thread(list_agents, self.engine))
        tickets = [past_ticket(row, projection) for row, projection in rows]
        return await asyncio.to_thread(
            simulate, tickets, draft, self.scoring.scorer, agents, max_examples=max_examples
        )

    async def explain(
        self, ticket: pb.Ticket, rule_version: int | None, holder: str | None = None
    ) -> rules_pb.ExplainRoutingResponse:
        """Why a ticket goes where it goes: rules checked, scores, candidate agents.

        Args:
            holder: the agent the ticket is offered or assigned to, if any: the chosen one
                (else the first eligible candidate, the one the assignment policy would pick).
        """
        rule_set = self.rules.current
        if rule_version and rule_version != rule_set.version:
            rule_set = await self.rules.store.load(rule_version)
        scored = await self._score_and_decide(ticket, rule_set, explain=True)
        scores, decision, stats = scored.scores, scored.decision, scored.stats
        lines = {rule.id: rule.line for rule in rule_set.rules}
        values, rule_scores = ticket_values(ticket), scored.rule_scores
        response = rules_pb.ExplainRoutingResponse(
            rules=[
                rules_pb.RuleCheck(
                    rule_id=check.rule_id,
                    line=lines.get(check.rule_id) or 0,
                    matched=check.matched,
                    failed_condition=_as_seen(check.failed, values, rule_scores),
                )
                for check in decision.trace
            ],
            matched_rule_id=decision.rule_id or "",
            scores=scores,
            decision=decision_message(decision),
        )
        if stats is not None:
            candidates = await self.queues.explain_candidates(
                queue=decision.queue,
                channel=convert.channel_name(ticket.channel),
                skills=dict(decision.required_skills),
            )
            chosen = holder or next((c.agent_id for c in candidates if c.eligible), None)
            response.candidates.extend(
                rules_pb.CandidateAgent(  # the holder was eligible: its capacity is the ticket's
                    agent_id=c.agent_id,
                    eligible=c.eligible or c.agent_id == holder,
                    reason="" if c.eligible or c.agent_id == holder else c.reason or "",
                    chosen=c.agent_id == chosen,
                )
                for c in candidates
            )
            if holder and holder not in {c.agent_id for c in candidates}:
                response.candidates.append(
                    rules_pb.CandidateAgent(agent_id=holder, eligible=True, chosen=True)
                )
        return response

    # --- background loops ------------------------------------------------------------------

    async def sweep_once(self) -> None:
        """Hand back expired offers, then offer waiting tickets in every queue."""
        for offer in await self.queues.expire_due(200):
            self.metrics.record_offer("expired", offer.queue, None, offer.channel)
        for queue in await self.queues.list_queues():
            stats = await self.queue_states.read(queue.name)  # also keeps submissions' view fresh
            if stats is not None and stats.depth and stats.agents_available:
                await self.assign_queue(queue.name)

    async def _keep_writer_alive(self) -> None:
        while True:
            await asyncio.sleep(WRITER_CHECK_S)
            self.history_writer.keep_alive()

    async def _sweep_forever(self) -> None:
        outage = OutageLog(logger, "sweep")
        while True:
            try:
                await self.sweep_once()
                outage.recovered()
            except Unavailable as error:
                outage.failed(error)
            except Exception:
                logger.exception("sweep failed")
            await asyncio.sleep(SWEEP_INTERVAL_S)

    def _queue_snapshot_sync(self) -> list[Any]:
        from queues.store import QueueStore

        client = redis.Redis.from_url(self.redis_url, socket_timeout=2)
        try:
            store = QueueStore(client)
            return [store.queue_stats(queue.name) for queue in store.list_queues()]
        finally:
            client.close()


_REASON_NAMES = {
    pb.ROUTING_REASON_RULE: "rule",
    pb.ROUTING_REASON_CATEGORY_MAP: "model",
    pb.ROUTING_REASON_TRIAGE: "triage",
    pb.ROUTING_REASON_DEFAULT: "default",
}


def _as_seen(
    condition: Condition | None, values: TicketValues, scores: TicketValues | None
) -> str:
    """A failed condition as written, with the value it saw: `tier in [gold] (was: basic)`."""
    if condition is None:
        return ""
    if condition.field is None or scores is None:  # all / any / not: the text says it all
        return condition.text
    seen = condition.value(values, scores)
    return f"{condition.text} (was: {'missing' if seen is None else seen})"
