"""What the queue operations return: typed snapshots of tickets, agents, offers and queues.

Each `from_record` reads the JSON record a Lua script stores or returns (times in ms since the
epoch, Redis server time) and converts times to seconds since the epoch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any


class TicketStatus(StrEnum):
    """Where a ticket is in its life; exactly one at a time."""

    WAITING = "waiting"
    OFFERED = "offered"
    ASSIGNED = "assigned"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class AgentStatus(StrEnum):
    """Whether an agent takes new work. Away and offline hand back pending offers."""

    AVAILABLE = "available"
    AWAY = "away"
    OFFLINE = "offline"


class Policy(StrEnum):
    """How a queue picks among eligible agents."""

    LEAST_LOADED = "least_loaded"
    """Lowest load/capacity over all channels, then the longest idle."""
    ROUND_ROBIN = "round_robin"
    """The agent offered work least recently."""
    LONGEST_IDLE = "longest_idle"
    """Agents without work first, the one idle longest first; busy agents after them."""


def _seconds(ms: Any) -> float | None:
    return None if ms is None or ms is False else float(ms) / 1000.0


def _mapping(value: Any) -> dict[str, Any]:
    # Lua's cjson writes an empty array as {}, so empty containers may come either way.
    return dict(value) if isinstance(value, dict) else {}


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _names(value: Any) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else []


@dataclass(frozen=True, slots=True)
class TicketState:
    """A ticket as the queues see it."""

    ticket_id: str
    queue: str
    status: TicketStatus
    priority: int
    channel: str
    skills: dict[str, int]
    agent_id: str | None
    """The offer holder (offered) or the assignee (assigned, completed)."""
    enqueued_at: float
    deadline_ts: float | None
    offer_expires_at: float | None
    assigned_at: float | None
    finished_at: float | None
    data: dict[str, Any] | None
    offers_made: int
    """How many offers of this ticket have been made so far."""
    created: bool = False
    """True only in the reply to the enqueue call that created the ticket."""
    first_response_at: float | None = None
    resolve_deadline_ts: float | None = None
    """Resolution deadline set by an escalation (None: the one computed on submission)."""
    escalations: dict[str, float] = field(default_factory=dict)
    """Escalation levels fired for this ticket -> when."""
    sla_risk: float | None = None
    """Live SLA risk from the latest SLA check (None: not checked or no risk model)."""
    sla_model_risk: float | None = None
    """The risk model's output at the latest scoring (before accounting for time passed)."""
    sla_scored_at: float | None = None
    """When the risk model last scored the ticket (or a sweep reserved that scoring)."""
    at_risk: bool = False
    """Flagged at risk by the latest SLA check (counted by the tickets-at-risk gauge)."""
    sla_basis: str | None = None
    """What the risk model needs to re-score the ticket without its text, stored by an SLA
    check (`scoring.scorer.SlaBasis` JSON; opaque here)."""

    @classmethod
    def from_record(cls, record: dict[str, Any], *, created: bool = False) -> TicketState:
        raw_data = record.get("data")
        return cls(
            ticket_id=str(record["id"]),
            queue=record["queue"],
            status=TicketStatus(record["status"]),
            priority=int(record["priority"]),
            channel=record["channel"],
            skills={k: int(v) for k, v in _mapping(record.get("skills")).items()},
            agent_id=record.get("agent"),
            enqueued_at=float(record["enqueued_ms"]) / 1000.0,
            deadline_ts=_seconds(record.get("deadline_ms")),
            offer_expires_at=_seconds(record.get("offer_expires_ms")),
            assigned_at=_seconds(record.get("assigned_ms")),
            finished_at=_seconds(record.get("finished_ms")),
            data=json.loads(raw_data) if raw_data else None,
            offers_made=int(record.get("offers_made", 0)),
            created=created,
            first_response_at=_seconds(record.get("first_response_ms")),
            resolve_deadline_ts=_seconds(record.get("resolve_deadline_ms")),
            escalations={
                str(k): float(v) / 1000.0 for k, v in _mapping(record.get("escalated")).items()
            },
            sla_risk=_number(record.get("sla_risk")),
            sla_model_risk=_number(record.get("sla_model_risk")),
            sla_scored_at=_seconds(record.get("sla_scored_ms")),
            at_risk=bool(record.get("at_risk", False)),
            sla_basis=_text_or_none(record.get("sla_basis")),
        )


@dataclass(frozen=True, slots=True)
class Escalation:
    """The outcome of firing an escalation level: whether this call fired it, and the ticket."""

    won: bool
    """False when the level had fired already (by any process): nothing changed."""
    ticket: TicketState

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Escalation:
        return cls(won=bool(record["won"]), ticket=TicketState.from_record(record["ticket"]))


@dataclass(frozen=True, slots=True)
class ClaimedCheck:
    """A ticket whose SLA check this caller claimed."""

    ticket: TicketState
    rescore: bool
    """Whether this check re-scores with the risk model (at most once per interval per
    ticket); otherwise it reuses `ticket.sla_model_risk`."""


@dataclass(frozen=True, slots=True)
class ClaimedChecks:
    """The tickets one sweep claimed, and the Redis server time of the claim."""

    now: float
    checks: list[ClaimedCheck]

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> ClaimedChecks:
        claimed = record.get("claimed")
        return cls(
            now=float(record["now_ms"]) / 1000.0,
            checks=[
                ClaimedCheck(TicketState.from_record(item["ticket"]), bool(item["rescore"]))
                for item in (claimed if isinstance(claimed, list) else [])
            ],
        )


@dataclass(frozen=True, slots=True)
class SlaCheck:
    """What a sweep found for one claimed ticket, to store with `record_sla_checks`."""

    ticket_id: str
    at_risk: bool
    next_check_at: float
    """When to check it again (seconds since the epoch), at most an interval ahead."""
    sla_risk: float | None = None
    model_risk: float | None = None
    """The model's risk, when this check re-scored the ticket."""
    sla_basis: str | None = None
    """A new re-scoring basis for the ticket (`TicketState.sla_basis`), when this check made
    one."""


@dataclass(frozen=True, slots=True)
class FirstSlaCheck:
    """A new ticket's first SLA check, worked out at submission (see `QueueStore.submit`)."""

    in_s: float
    """Seconds from now to the check."""
    sla_risk: float | None = None
    """The live risk at submission, stored as if a check had found it."""


@dataclass(frozen=True, slots=True)
class FirstResponse:
    """When the assignee first replied, and whether this call recorded it."""

    at: float
    new: bool

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> FirstResponse:
        return cls(at=float(record["at_ms"]) / 1000.0, new=bool(record["new"]))


@dataclass(frozen=True, slots=True)
class Offer:
    """An agent's reservation of a ticket, until `expires_at` (Redis server time)."""

    ticket_id: str
    agent_id: str
    queue: str
    channel: str
    priority: int
    offered_at: float
    expires_at: float

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Offer:
        return cls(
            ticket_id=str(record["ticket_id"]),
            agent_id=str(record["agent_id"]),
            queue=record["queue"],
            channel=record["channel"],
            priority=int(record["priority"]),
            offered_at=float(record["offered_ms"]) / 1000.0,
            expires_at=float(record["expires_ms"]) / 1000.0,
        )


@dataclass(frozen=True, slots=True)
class Submitted:
    """What `submit` did: the ticket (new or the existing one) and the offer it made, if any.

    The offer is the first one the queue could make, of the first ticket of its head that an
    agent can take: usually this ticket; else one ahead of it (higher priority, earlier
    deadline, older), or one behind it when no agent can take this one.
    """

    ticket: TicketState
    offer: Offer | None

    @classmethod
    def from_record(
        cls, reply: dict[str, Any], data: Any = None, sla_basis: str | None = None
    ) -> Submitted:
        """From submit.lua's reply; `data` and `sla_basis` are what the caller sent (a new
        ticket's record comes back without them)."""
        created = bool(reply["created"])
        ticket = TicketState.from_record(reply["ticket"], created=created)
        if created and (data is not None or sla_basis is not None):
            ticket = replace(ticket, data=ticket.data if data is None else dict(data),
                             sla_basis=sla_basis)
        offer = reply.get("offer")
        return cls(ticket=ticket, offer=Offer.from_record(offer) if offer else None)


@dataclass(frozen=True, slots=True)
class Assignment:
    """An accepted offer: the agent works on the ticket."""

    ticket_id: str
    agent_id: str
    queue: str
    channel: str
    assigned_at: float

    @classmethod
    def from_ticket(cls, ticket: TicketState) -> Assignment:
        assert ticket.agent_id is not None and ticket.assigned_at is not None
        return cls(
            ticket_id=ticket.ticket_id,
            agent_id=ticket.agent_id,
            queue=ticket.queue,
            channel=ticket.channel,
            assigned_at=ticket.assigned_at,
        )


@dataclass(frozen=True, slots=True)
class AgentState:
    """An agent: what it can do, what it carries now."""

    agent_id: str
    status: AgentStatus
    queues: list[str]
    skills: dict[str, int]
    capacity: dict[str, int]
    """Tickets it may hold at once, per channel (offers count: they reserve capacity)."""
    load: dict[str, int]
    """Tickets offered to or assigned to it now, per channel."""
    offers: list[str]
    """Ticket ids it holds offers of."""
    assigned: list[str]
    """Ticket ids assigned to it."""
    last_offer_at: float | None
    idle_since: float | None

    def free(self, channel: str) -> int:
        """Free capacity on a channel."""
        return max(0, self.capacity.get(channel, 0) - self.load.get(channel, 0))

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> AgentState:
        return cls(
            agent_id=str(record["id"]),
            status=AgentStatus(record["status"]),
            queues=_names(record.get("queues")),
            skills={k: int(v) for k, v in _mapping(record.get("skills")).items()},
            capacity={k: int(v) for k, v in _mapping(record.get("capacity")).items()},
            load={k: int(v) for k, v in _mapping(record.get("load")).items() if int(v)},
            offers=sorted(_names(record.get("offers"))),
            assigned=sorted(_names(record.get("assigned"))),
            last_offer_at=_seconds(record.get("last_offer_ms")),
            idle_since=_seconds(record.get("idle_since_ms")),
        )


@dataclass(frozen=True, slots=True)
class AgentUpdate:
    """The agent after an upsert or status change, and the offers it handed back."""

    agent: AgentState
    handed_back: list[Offer]
    created: bool = False


@dataclass(frozen=True, slots=True)
class QueueConfig:
    """A queue's assignment policy and timeouts."""

    name: str
    policy: Policy
    offer_timeout_s: float
    cooloff_s: float
    """How long an agent is not offered a ticket again after rejecting it or letting it expire."""

    @classmethod
    def from_record(cls, name: str, record: dict[str, Any]) -> QueueConfig:
        return cls(
            name=name,
            policy=Policy(record["policy"]),
            offer_timeout_s=float(record["offer_timeout_ms"]) / 1000.0,
            cooloff_s=float(record["cooloff_ms"]) / 1000.0,
        )


@dataclass(frozen=True, slots=True)
class QueueStats:
    """A queue's state at one instant."""

    queue: str
    depth: int
    """Waiting tickets."""
    oldest_wait_s: float
    """How long the longest-waiting ticket has waited (0 when none waits)."""
    agents_available: int
    """Available member agents with free capacity on at least one channel."""
    agents_busy: int
    """Available member agents with no free capacity."""
    agents_away: int
    agents_offline: int
    at_risk: int = 0
    """Unanswered tickets of the queue flagged at risk by the SLA sweep."""


@dataclass(frozen=True, slots=True)
class Candidate:
    """One agent's standing for a ticket, as ExplainRouting shows it."""

    agent_id: str
    eligible: bool
    reason: str | None
    """Why not eligible: offline, away, missing skill X, capacity full on C, cooling off."""
    load: dict[str, int] = field(default_factory=dict)
    capacity: dict[str, int] = field(default_factory=dict)
    score: float = 0.0
    """The queue policy's ranking score (lower is offered first)."""
