"""The queue store: `QueueStore` (redis.Redis) and `AsyncQueueStore` (redis.asyncio.Redis).

Both are thin: every method builds its `Call` with `queues.operations.Operations` and sends it
with an executor; checks, script arguments and reply parsing live in `operations`. Every state
change is one Lua script (atomic on the Redis server) that also appends its event to the
tenant's stream. Errors are domain errors from `router.errors` (see each method).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import redis
import redis.asyncio

from queues.execution import AsyncExecutor, SyncExecutor
from queues.keys import DEFAULT_TENANT, Keys
from queues.models import (
    AgentState,
    AgentStatus,
    AgentUpdate,
    Assignment,
    Candidate,
    ClaimedChecks,
    Escalation,
    FirstResponse,
    FirstSlaCheck,
    Offer,
    Policy,
    QueueConfig,
    QueueStats,
    SlaCheck,
    Submitted,
    TicketState,
)
from queues.operations import (
    CANDIDATE_BOUND,
    DEFAULT_COOLOFF_S,
    DEFAULT_EXPLAIN_LIMIT,
    HEAD_WINDOW,
    MAX_BATCH,
    STREAM_MAXLEN,
    Operations,
)
from router.settings import DEFAULT_OFFER_TIMEOUT_S


class QueueStore:
    """Agent queues of one tenant on Redis, blocking API.

    Args:
        client: a redis-py client; its scripts are registered once, here.
        tenant: the key hash tag (see queues/keys.py).
        head_window, candidate_bound, stream_maxlen: see queues/operations.py.
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        tenant: str = DEFAULT_TENANT,
        head_window: int = HEAD_WINDOW,
        candidate_bound: int = CANDIDATE_BOUND,
        stream_maxlen: int = STREAM_MAXLEN,
    ) -> None:
        self.keys = Keys(tenant)
        self.ops = Operations(self.keys, head_window=head_window,
                              candidate_bound=candidate_bound, stream_maxlen=stream_maxlen)
        self._executor = SyncExecutor(client)
        self._run = self._executor.run

    def set_queue_policy(
        self,
        queue: str,
        policy: Policy | str = Policy.LEAST_LOADED,
        offer_timeout_s: float = DEFAULT_OFFER_TIMEOUT_S,
        cooloff_s: float = DEFAULT_COOLOFF_S,
    ) -> QueueConfig:
        """Create a queue or change its policy and timeouts.

        Args:
            queue: the queue name (letters, digits, `_.-`).
            policy: least_loaded, round_robin or longest_idle.
            offer_timeout_s: how long an agent has to accept an offer.
            cooloff_s: how long an agent is not offered a ticket it rejected or let expire.

        Raises:
            InvalidArgument: a bad name, policy or duration.
        """
        return self._run(self.ops.set_queue_policy(queue, policy, offer_timeout_s, cooloff_s))

    def list_queues(self) -> list[QueueConfig]:
        """Every queue of the tenant, by name."""
        return self._run(self.ops.list_queues())

    def queue_stats(self, queue: str) -> QueueStats:
        """Depth, oldest wait and agent counts of a queue. Raises NotFound for an unknown queue."""
        return self._run(self.ops.queue_stats(queue))

    def enqueue(
        self,
        ticket_id: str,
        queue: str,
        priority: int,
        channel: str,
        *,
        skills: Mapping[str, int] | None = None,
        deadline_ts: float | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> TicketState:
        """Put a ticket in a queue; idempotent on `ticket_id`.

        Args:
            ticket_id: the caller's id; enqueuing it again returns the existing ticket
                unchanged, with `created=False`.
            queue: an existing queue.
            priority: 1 (most urgent) to 99.
            channel: e.g. email, chat, phone; agents need capacity on it.
            skills: skill -> minimum level (1-10) an agent needs.
            deadline_ts: SLA deadline (seconds since the epoch); earlier goes first within
                a priority.
            data: the caller's JSON-serialisable data, kept with the ticket (64 KiB max).

        Raises:
            InvalidArgument: a malformed field. NotFound: unknown queue.
        """
        return self._run(
            self.ops.enqueue(ticket_id, queue, priority, channel, skills=skills,
                             deadline_ts=deadline_ts, data=data)
        )

    def submit(
        self,
        ticket_id: str,
        queue: str,
        priority: int,
        channel: str,
        *,
        skills: Mapping[str, int] | None = None,
        deadline_ts: float | None = None,
        data: Mapping[str, Any] | None = None,
        sla_model_risk: float | None = None,
        first_sla_check: FirstSlaCheck | None = None,
        sla_basis: str | None = None,
    ) -> Submitted:
        """`enqueue`, then `assign` on the ticket's queue, in one round trip (one script).

        A known id is returned unchanged and nothing is offered. Arguments and errors as for
        `enqueue`, and:

        Args:
            sla_model_risk: the risk model's score of the ticket in this queue's state, kept
                as its latest model risk (its first SLA check then reuses it); NaN for none.
            first_sla_check: when the caller has worked out that a check now would change
                nothing (`router.sla.sweep.SlaSweep.first_check`): the first check then comes
                that much later, and the live risk is stored as if checked; None: at once.
            sla_basis: the ticket's SLA basis (`TicketState.sla_basis`, opaque here), so that
                even its first re-check re-scores it without its text.
        """
        return self._run(
            self.ops.submit(ticket_id, queue, priority, channel, skills=skills,
                            deadline_ts=deadline_ts, data=data, sla_model_risk=sla_model_risk,
                            first_sla_check=first_sla_check, sla_basis=sla_basis)
        )

    def get_ticket(self, ticket_id: str) -> TicketState | None:
        """The ticket, or None if unknown (or purged)."""
        return self._run(self.ops.get_ticket(ticket_id))

    def get_tickets(self, ticket_ids: Sequence[str]) -> dict[str, TicketState]:
        """The known tickets among `ticket_ids` (one round trip), by id; unknown ones left out."""
        return self._run(self.ops.get_tickets(ticket_ids)) if ticket_ids else {}

    def transfer(
        self, ticket_id: str, to_queue: str, *, note: str | None = None,
        holder: str | None = None,
    ) -> TicketState:
        """Move a ticket to another queue, taking it from its agent if it has one.

        Args:
            note: why, kept as `note` in the `transferred` event (at most `MAX_NOTE_CHARS`).
            holder: only if this agent holds the ticket (offered or assigned), checked in the
                same script (an agent moving its own ticket).

        Raises:
            NotFound: unknown ticket or queue. FailedPrecondition: completed or cancelled.
            InvalidArgument: the note is too long. NotOfferHolder: `holder` does not hold it.
        """
        return self._run(self.ops.transfer(ticket_id, to_queue, note=note, holder=holder))

    def cancel(self, ticket_id: str, *, note: str | None = None) -> TicketState:
        """Withdraw a ticket for good (idempotent: a repeat emits no event).

        Args:
            note: why, kept as `note` in the `cancelled` event (at most `MAX_NOTE_CHARS`).

        Raises:
            NotFound: unknown ticket. FailedPrecondition: already completed.
            InvalidArgument: the note is too long.
        """
        return self._run(self.ops.cancel(ticket_id, note=note))

    def reprioritize(
        self, ticket_id: str, priority: int, deadline_ts: float | None = None
    ) -> TicketState:
        """Change a ticket's priority and, unless None, its SLA deadline (escalation).

        Raises:
            NotFound: unknown ticket. FailedPrecondition: completed or cancelled.
        """
        return self._run(self.ops.reprioritize(ticket_id, priority, deadline_ts))

    def escalate(
        self,
        ticket_id: str,
        level: str,
        *,
        raise_by: int = 0,
        raise_to: int | None = None,
        to_queue: str | None = None,
        relax_skills: Sequence[str] = (),
        deadlines: Mapping[int, tuple[float, float]] | None = None,
        emit_event: bool = True,
        event_data: Mapping[str, Any] | None = None,
    ) -> Escalation:
        """Fire an escalation level of a ticket once across all processes, with its actions.

        The level is claimed and its actions applied in one script: a second call for the
        same level (from any process) changes nothing and returns `won=False`.

        Args:
            ticket_id: the ticket.
            level: the level's name, unique within the ticket's escalation policy.
            raise_by: priority steps to raise by (never below 1).
            raise_to: a priority to raise to at least; the priority is never lowered.
            to_queue: a queue to move to, as `transfer` does (taken from its agent, if any).
            relax_skills: required skills to drop (optional ones the policy names).
            deadlines: priority -> (first response, resolution) deadlines, seconds since the
                epoch, for the queue the ticket ends in (recomputed from the original
                submission time); applied when the priority or queue changes.
            emit_event: append an `escalated` event (data: level, priorities, queues, ...).
            event_data: more data for the event (e.g. sla_risk, time_left_s).

        Raises:
            NotFound: unknown ticket or queue. FailedPrecondition: completed or cancelled.
            InvalidArgument: a malformed argument.
        """
        return self._run(self.ops.escalate(
            ticket_id, level, raise_by=raise_by, raise_to=raise_to, to_queue=to_queue,
            relax_skills=relax_skills, deadlines=deadlines, emit_event=emit_event,
            event_data=event_data))

    def claim_sla_checks(self, limit: int, interval_s: float) -> ClaimedChecks:
        """Claim up to `limit` unanswered tickets whose SLA check is due, for this caller only.

        Each claimed ticket's next check moves `interval_s` ahead (`record_sla_checks` may
        bring it closer); `rescore` tells whether this check may run the risk model, which
        happens at most once per `interval_s` per ticket whoever checks it.

        Raises:
            InvalidArgument: a limit outside 1..1000 or a non-positive interval.
        """
        return self._run(self.ops.claim_sla_checks(limit, interval_s))

    def record_sla_checks(self, checks: Sequence[SlaCheck]) -> int:
        """Store the risk, at-risk flag and next check time of claimed tickets.

        Returns:
            How many were still unanswered and open (the others are left alone).
        """
        return self._run(self.ops.record_sla_checks(checks))

    def reindex_agents(self) -> int:
        """Move the agent indexes to this version's layout, once per tenant (a router does it at
        start), a batch of agents per call: returns the agents re-indexed, 0 when they already
        were. Routing goes on meanwhile and finds every agent."""
        cursor, total = "0", 0
        while True:
            cursor, agents = self._run(self.ops.reindex_agents(cursor))
            total += agents
            if cursor == "0":
                return total

    def purge_finished(self, retention_s: float, limit: int = MAX_BATCH) -> int:
        """Forget up to `limit` completed/cancelled tickets finished over `retention_s` ago."""
        return self._run(self.ops.purge_finished(retention_s, limit))

    def upsert_agent(
        self,
        agent_id: str,
        queues: Sequence[str],
        skills: Mapping[str, int] | None,
        capacity: Mapping[str, int],
        status: AgentStatus | str | None = AgentStatus.AVAILABLE,
    ) -> AgentUpdate:
        """Create an agent or replace its queues, skills, capacity and status (None: keep the
        stored status; a new agent starts available).

        Its load and assignments are kept. Away/offline hands its offers back, and so does a
        profile the offers no longer fit (`AgentUpdate.handed_back`): offers from a queue it
        left or needing a skill level it lacks, and, where the capacity on a channel falls
        below the load, the newest offers on that channel until the load fits. Accepted
        tickets stay: a capacity below them stops new offers until the load falls.

        Raises:
            InvalidArgument: a bad name, level, capacity or status. NotFound: unknown queue.
        """
        return self._run(self.ops.upsert_agent(agent_id, queues, skills, capacity, status))

    def set_agent_status(self, agent_id: str, status: AgentStatus | str) -> AgentUpdate:
        """Make an agent available, away or offline.

        Away and offline hand its pending offers back to the front of their queues at once
        (`AgentUpdate.handed_back`); its assignments stay with it.

        Raises:
            NotFound: unknown agent. InvalidArgument: unknown status.
        """
        return self._run(self.ops.set_agent_status(agent_id, status))

    def get_agent(self, agent_id: str) -> AgentState | None:
        """The agent, or None if unknown."""
        return self._run(self.ops.get_agent(agent_id))

    def pending_offers(self, agent_id: str) -> list[Offer]:
        """The agent's open offers, oldest first (empty for an unknown agent)."""
        return self._run(self.ops.pending_offers(agent_id))

    def assign(self, queue: str) -> Offer | None:
        """Offer a waiting ticket of the queue to the best eligible agent, atomically.

        Tries the waiting tickets from the head (up to the head window) and offers the first
        one some agent can take. Returns None when nothing can be offered.

        Raises:
            NotFound: unknown queue.
        """
        return self._run(self.ops.assign(queue))

    def assign_for_agent(self, agent_id: str) -> Offer | None:
        """Offer the agent the best waiting ticket it can take across its queues.

        Returns None when the agent is not available, has no room or nothing fits.

        Raises:
            NotFound: unknown agent.
        """
        return self._run(self.ops.assign_for_agent(agent_id))

    def offer_to(self, ticket_id: str, agent_id: str) -> Offer:
        """Offer a waiting ticket to one named agent (skills and capacity still checked).

        Raises:
            NotFound: unknown ticket/agent. AgentUnavailable: away/offline. CapacityFull: no
            room on the ticket's channel. FailedPrecondition: not waiting, or missing skill.
        """
        return self._run(self.ops.offer_to(ticket_id, agent_id))

    def accept(self, ticket_id: str, agent_id: str) -> Assignment:
        """The offer holder takes the ticket (idempotent for the holder).

        Raises:
            NotFound: unknown ticket/agent. OfferExpired: the offer timed out or was
            withdrawn (an expired offer is handed back now). NotOfferHolder: another agent's
            offer. AgentUnavailable: the agent is away/offline. FailedPrecondition: the ticket
            is completed or cancelled.
        """
        return self._run(self.ops.accept(ticket_id, agent_id))

    def reject(self, ticket_id: str, agent_id: str, *, note: str | None = None) -> TicketState:
        """The offer holder declines: back to the front, this agent cools off from it.

        Args:
            note: the agent's reason, kept as `note` in the `rejected` event (whose `reason`
                stays "rejected"); at most `MAX_NOTE_CHARS`.

        Raises:
            The same as `accept`; FailedPrecondition also when already accepted.
            InvalidArgument: the note is too long.
        """
        return self._run(self.ops.reject(ticket_id, agent_id, note=note))

    def expire_due(self, limit: int = 100) -> list[Offer]:
        """Hand back up to `limit` offers whose timeout passed; safe to run in every process."""
        return self._run(self.ops.expire_due(limit))

    def complete(
        self, ticket_id: str, agent_id: str, *, resolution: str | None = None
    ) -> TicketState:
        """The assignee finished the ticket; its capacity is freed (idempotent: a repeat emits
        no event).

        Args:
            resolution: how, kept as `resolution` in the `completed` event (at most
                `MAX_NOTE_CHARS`).

        Raises:
            NotFound: unknown ticket/agent. NotOfferHolder: assigned to another agent.
            FailedPrecondition: the ticket is not assigned. InvalidArgument: the resolution
            is too long.
        """
        return self._run(self.ops.complete(ticket_id, agent_id, resolution=resolution))

    def record_first_response(self, ticket_id: str, agent_id: str) -> FirstResponse:
        """The assignee replied to the customer for the first time (idempotent).

        Raises:
            NotFound: unknown ticket. NotOfferHolder: another agent's ticket.
            FailedPrecondition: the ticket is not assigned yet.
        """
        return self._run(self.ops.record_first_response(ticket_id, agent_id))

    def explain_candidates(
        self,
        ticket_id: str | None = None,
        *,
        queue: str | None = None,
        channel: str | None = None,
        skills: Mapping[str, int] | None = None,
        limit: int = DEFAULT_EXPLAIN_LIMIT,
    ) -> list[Candidate]:
        """Each member agent's standing for a ticket (or a queue/channel/skills), best first.

        Raises:
            NotFound: unknown ticket or queue. InvalidArgument: neither a ticket nor a
            queue and channel given.
        """
        return self._run(self.ops.explain_candidates(
            ticket_id, queue=queue, channel=channel, skills=skills, limit=limit))


class AsyncQueueStore:
    """The asyncio form of `QueueStore`: same methods, same errors, awaited.

    Args:
        client: a redis-py asyncio client; its scripts are registered once, here.
        tenant, head_window, candidate_bound, stream_maxlen: as for `QueueStore`.
    """

    def __init__(
        self,
        client: redis.asyncio.Redis,
        *,
        tenant: str = DEFAULT_TENANT,
        head_window: int = HEAD_WINDOW,
        candidate_bound: int = CANDIDATE_BOUND,
        stream_maxlen: int = STREAM_MAXLEN,
    ) -> None:
        self.keys = Keys(tenant)
        self.ops = Operations(self.keys, head_window=head_window,
                              candidate_bound=candidate_bound, stream_maxlen=stream_maxlen)
        self._executor = AsyncExecutor(client)
        self._run = self._executor.run

    async def set_queue_policy(
        self,
        queue: str,
        policy: Policy | str = Policy.LEAST_LOADED,
        offer_timeout_s: float = DEFAULT_OFFER_TIMEOUT_S,
        cooloff_s: float = DEFAULT_COOLOFF_S,
    ) -> QueueConfig:
        return await self._run(
            self.ops.set_queue_policy(queue, policy, offer_timeout_s, cooloff_s))

    async def list_queues(self) -> list[QueueConfig]:
        return await self._run(self.ops.list_queues())

    async def queue_stats(self, queue: str) -> QueueStats:
        return await self._run(self.ops.queue_stats(queue))

    async def enqueue(
        self,
        ticket_id: str,
        queue: str,
        priority: int,
        channel: str,
        *,
        skills: Mapping[str, int] | None = None,
        deadline_ts: float | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> TicketState:
        return await self._run(
            self.ops.enqueue(ticket_id, queue, priority, channel, skills=skills,
                             deadline_ts=deadline_ts, data=data))

    async def submit(
        self,
        ticket_id: str,
        queue: str,
        priority: int,
        channel: str,
        *,
        skills: Mapping[str, int] | None = None,
        deadline_ts: float | None = None,
        data: Mapping[str, Any] | None = None,
        sla_model_risk: float | None = None,
        first_sla_check: FirstSlaCheck | None = None,
        sla_basis: str | None = None,
    ) -> Submitted:
        return await self._run(
            self.ops.submit(ticket_id, queue, priority, channel, skills=skills,
                            deadline_ts=deadline_ts, data=data, sla_model_risk=sla_model_risk,
                            first_sla_check=first_sla_check, sla_basis=sla_basis))

    async def get_ticket(self, ticket_id: str) -> TicketState | None:
        return await self._run(self.ops.get_ticket(ticket_id))

    async def get_tickets(self, ticket_ids: Sequence[str]) -> dict[str, TicketState]:
        return await self._run(self.ops.get_tickets(ticket_ids)) if ticket_ids else {}

    async def transfer(
        self, ticket_id: str, to_queue: str, *, note: str | None = None,
        holder: str | None = None,
    ) -> TicketState:
        return await self._run(self.ops.transfer(ticket_id, to_queue, note=note, holder=holder))

    async def cancel(self, ticket_id: str, *, note: str | None = None) -> TicketState:
        return await self._run(self.ops.cancel(ticket_id, note=note))

    async def reprioritize(
        self, ticket_id: str, priority: int, deadline_ts: float | None = None
    ) -> TicketState:
        return await self._run(self.ops.reprioritize(ticket_id, priority, deadline_ts))

    async def escalate(
        self,
        ticket_id: str,
        level: str,
        *,
        raise_by: int = 0,
        raise_to: int | None = None,
        to_queue: str | None = None,
        relax_skills: Sequence[str] = (),
        deadlines: Mapping[int, tuple[float, float]] | None = None,
        emit_event: bool = True,
        event_data: Mapping[str, Any] | None = None,
    ) -> Escalation:
        return await self._run(self.ops.escalate(
            ticket_id, level, raise_by=raise_by, raise_to=raise_to, to_queue=to_queue,
            relax_skills=relax_skills, deadlines=deadlines, emit_event=emit_event,
            event_data=event_data))

    async def claim_sla_checks(self, limit: int, interval_s: float) -> ClaimedChecks:
        return await self._run(self.ops.claim_sla_checks(limit, interval_s))

    async def record_sla_checks(self, checks: Sequence[SlaCheck]) -> int:
        return await self._run(self.ops.record_sla_checks(checks))

    async def reindex_agents(self) -> int:
        cursor, total = "0", 0
        while True:
            cursor, agents = await self._run(self.ops.reindex_agents(cursor))
            total += agents
            if cursor == "0":
                return total

    async def purge_finished(self, retention_s: float, limit: int = MAX_BATCH) -> int:
        return await self._run(self.ops.purge_finished(retention_s, limit))

    async def upsert_agent(
        self,
        agent_id: str,
        queues: Sequence[str],
        skills: Mapping[str, int] | None,
        capacity: Mapping[str, int],
        status: AgentStatus | str | None = AgentStatus.AVAILABLE,
    ) -> AgentUpdate:
        return await self._run(
            self.ops.upsert_agent(agent_id, queues, skills, capacity, status))

    async def set_agent_status(self, agent_id: str, status: AgentStatus | str) -> AgentUpdate:
        return await self._run(self.ops.set_agent_status(agent_id, status))

    async def get_agent(self, agent_id: str) -> AgentState | None:
        return await self._run(self.ops.get_agent(agent_id))

    async def pending_offers(self, agent_id: str) -> list[Offer]:
        return await self._run(self.ops.pending_offers(agent_id))

    async def assign(self, queue: str) -> Offer | None:
        return await self._run(self.ops.assign(queue))

    async def assign_for_agent(self, agent_id: str) -> Offer | None:
        return await self._run(self.ops.assign_for_agent(agent_id))

    async def offer_to(self, ticket_id: str, agent_id: str) -> Offer:
        return await self._run(self.ops.offer_to(ticket_id, agent_id))

    async def accept(self, ticket_id: str, agent_id: str) -> Assignment:
        return await self._run(self.ops.accept(ticket_id, agent_id))

    async def reject(
        self, ticket_id: str, agent_id: str, *, note: str | None = None
    ) -> TicketState:
        return await self._run(self.ops.reject(ticket_id, agent_id, note=note))

    async def expire_due(self, limit: int = 100) -> list[Offer]:
        return await self._run(self.ops.expire_due(limit))

    async def complete(
        self, ticket_id: str, agent_id: str, *, resolution: str | None = None
    ) -> TicketState:
        return await self._run(self.ops.complete(ticket_id, agent_id, resolution=resolution))

    async def record_first_response(self, ticket_id: str, agent_id: str) -> FirstResponse:
        return await self._run(self.ops.record_first_response(ticket_id, agent_id))

    async def explain_candidates(
        self,
        ticket_id: str | None = None,
        *,
        queue: str | None = None,
        channel: str | None = None,
        skills: Mapping[str, int] | None = None,
        limit: int = DEFAULT_EXPLAIN_LIMIT,
    ) -> list[Candidate]:
        return await self._run(self.ops.explain_candidates(
            ticket_id, queue=queue, channel=channel, skills=skills, limit=limit))
