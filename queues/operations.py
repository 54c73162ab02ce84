"""Every queue operation as a `Call`: input checks, script arguments and reply parsing, shared by
the sync and asyncio stores (queues/store.py) so each idea is written once.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from queues.execution import Call, text
from queues.keys import Keys, check_name
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
from router.errors import InvalidArgument
from router.settings import DEFAULT_OFFER_TIMEOUT_S

DEFAULT_COOLOFF_S = 60.0
"""How long an agent who rejected a ticket (or let its offer expire) is not offered it again."""

HEAD_WINDOW = 16
"""How many waiting tickets from the head of a queue one assign call may try (a ticket no agent
can take does not block the ones behind it; beyond this depth it does, until agents change)."""

CANDIDATE_BOUND = 64
"""How many agents one assign call examines per ticket: from the indexes of its most selective
required skill at the needed level and above (merged in score order), else the free index.
Only agents cooling off from the ticket or missing a second required skill fail, so the first
nearly always fits; this caps the worst case at O(bound x log N) (x levels for the merge)."""

STREAM_MAXLEN = 1_000_000
"""Approximate cap of the event stream; consumers must keep up within this many events."""

MAX_SKILL_LEVEL = 10
"""Skill levels run 1..10; an agent is indexed once per skill, at its level."""

INDEX_LAYOUT = 2
"""Version of the agent index layout (queues/keys.py); `reindex_agents` migrates to it."""

REINDEX_BATCH = 100
"""Agents one reindex call moves: 100 agents on 3 queues and 2 channels with 5 skills at level
10 are ~27,000 sorted-set removals, ~35 ms of Redis a call (scratch timing, 300 such agents)."""

ReindexStep = tuple[str, int]
"""(next HSCAN cursor, "0" when done; agents re-indexed by the call)."""

MAX_PRIORITY = 99
MAX_CAPACITY = 1000
MAX_ID_CHARS = 200
MAX_DATA_BYTES = 64 * 1024
MAX_BATCH = 1000
"""Most offers or tickets one expire/purge call handles."""
MAX_NOTE_CHARS = 1_000
"""Longest caller's text kept in an event: why a ticket was rejected, transferred or cancelled
(`note`), how it was resolved (`resolution`)."""
MAX_SLA_BASIS_CHARS = 16 * 1024
"""Longest SLA re-scoring basis stored with a ticket (a default model's is ~300)."""

DEFAULT_EXPLAIN_LIMIT = 200
"""Most agents explain_candidates examines."""


def _identifier(value: str, field: str) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_ID_CHARS:
        raise InvalidArgument(f"must be a non-empty string of at most {MAX_ID_CHARS} characters",
                              field=field)
    if any(ord(char) < 32 for char in value):
        raise InvalidArgument("must not contain control characters", field=field)
    return value


def _levels(skills: Mapping[str, int] | None, field: str) -> dict[str, int]:
    result = {}
    for name, level in (skills or {}).items():
        check_name(name, field)
        if isinstance(level, bool) or not isinstance(level, int) or not (
            1 <= level <= MAX_SKILL_LEVEL
        ):
            raise InvalidArgument(f"level of skill {name!r} must be an integer from 1 to "
                                  f"{MAX_SKILL_LEVEL}, got {level!r}", field=field)
        result[name] = level
    return result


def _priority(priority: int) -> int:
    if isinstance(priority, bool) or not isinstance(priority, int) or not (
        1 <= priority <= MAX_PRIORITY
    ):
        raise InvalidArgument(f"must be an integer from 1 (most urgent) to {MAX_PRIORITY}, "
                              f"got {priority!r}", field="priority")
    return priority


MAX_EPOCH_S = 9_999_999_999
"""Latest time the queues take (2286-11-20): the scripts write times as 13-digit milliseconds
(the waiting order compares them as text)."""
MAX_DURATION_S = 100 * 365 * 86_400
"""Longest duration (100 years): now plus this stays within MAX_EPOCH_S."""


def _ms(seconds: float | None, field: str) -> str:
    if seconds is None:
        return ""
    if (not isinstance(seconds, int | float) or not math.isfinite(seconds) or seconds < 0
            or seconds > MAX_EPOCH_S):
        raise InvalidArgument(f"must be a time in seconds since the epoch from 0 to "
                              f"{MAX_EPOCH_S} (2286-11-20), got {seconds!r}", field=field)
    return str(round(seconds * 1000))


def _duration_ms(seconds: float, field: str, *, allow_zero: bool = False) -> int:
    valid = isinstance(seconds, int | float) and math.isfinite(seconds)
    if not valid or seconds < 0 or (seconds == 0 and not allow_zero):
        raise InvalidArgument(f"must be a positive number of seconds, got {seconds!r}",
                              field=field)
    if seconds > MAX_DURATION_S:
        raise InvalidArgument(f"must be at most {MAX_DURATION_S} seconds (100 years), got "
                              f"{seconds!r}", field=field)
    return max(1, round(seconds * 1000)) if seconds else 0


def _limit(limit: int, field: str = "limit") -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_BATCH:
        raise InvalidArgument(f"must be an integer from 1 to {MAX_BATCH}", field=field)
    return limit


def _enum(enum: type[AgentStatus] | type[Policy], value: str, field: str) -> str:
    try:
        return enum(value).value
    except ValueError:
        choices = ", ".join(member.value for member in enum)
        raise InvalidArgument(f"{value!r} is not one of {choices}", field=field) from None


def _risk(value: float | None, field: str) -> float | None:
    if value is None:
        return None
    if not isinstance(value, int | float) or not 0.0 <= value <= 1.0:  # NaN fails too
        raise InvalidArgument(f"must be a probability from 0 to 1, got {value!r}", field=field)
    return float(value)


def _sla_basis(value: str) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_SLA_BASIS_CHARS:
        raise InvalidArgument(
            f"must be a non-empty string of at most {MAX_SLA_BASIS_CHARS} characters",
            field="sla_basis",
        )
    return value


def _note(value: str | None, field: str) -> str:
    """A script argument: the caller's text, or "" for none (None or "")."""
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > MAX_NOTE_CHARS:
        raise InvalidArgument(f"must be a string of at most {MAX_NOTE_CHARS} characters",
                              field=field)
    return value


def _risk_arg(value: float | None, field: str) -> str:
    """A script argument: the probability (any real number type), or "" for none (None, NaN)."""
    if value is None:
        return ""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidArgument(f"must be a probability from 0 to 1, got {value!r}",
                              field=field) from None
    return "" if math.isnan(number) else repr(_risk(number, field))


def _optional_ticket(reply: Any) -> TicketState | None:
    return TicketState.from_record(json.loads(text(reply))) if reply is not None else None


def _tickets(ids: Sequence[str]) -> Callable[[Any], dict[str, TicketState]]:
    def parse(replies: Any) -> dict[str, TicketState]:
        return {ticket_id: TicketState.from_record(json.loads(text(reply)))
                for ticket_id, reply in zip(ids, replies, strict=True) if reply is not None}
    return parse


def _optional_agent(reply: Any) -> AgentState | None:
    return AgentState.from_record(reply["agent"]) if reply else None


def _offers(records: Any) -> list[Offer]:
    return [Offer.from_record(record) for record in records or []]


def _enqueue_args(
    ticket_id: str,
    queue: str,
    priority: int,
    channel: str,
    *,
    skills: Mapping[str, int] | None,
    deadline_ts: float | None,
    data: Mapping[str, Any] | None,
) -> tuple[str | int, ...]:
    """ARGV[3..9] of enqueue.lua (and submit.lua), checked."""
    _identifier(ticket_id, "ticket_id")
    check_name(queue, "queue")
    check_name(channel, "channel")
    raw_data = ""
    if data is not None:
        try:
            raw_data = json.dumps(dict(data), separators=(",", ":"))
        except (TypeError, ValueError) as error:
            raise InvalidArgument(f"must be JSON-serialisable: {error}", field="data") from None
        if len(raw_data.encode()) > MAX_DATA_BYTES:
            raise InvalidArgument(f"must be at most {MAX_DATA_BYTES} bytes as JSON", field="data")
    return (ticket_id, queue, _priority(priority), channel, json.dumps(_levels(skills, "skills")),
            _ms(deadline_ts, "deadline_ts"), raw_data)


def _optional_offer(record: Any) -> Offer | None:
    return Offer.from_record(record) if record else None


def _assignment(record: Any) -> Assignment:
    return Assignment.from_ticket(TicketState.from_record(record))


def _agent_update(reply: Any) -> AgentUpdate:
    return AgentUpdate(
        agent=AgentState.from_record(reply["agent"]),
        handed_back=_offers(reply["handed_back"]),
        created=bool(reply.get("created", False)),
    )


def _queue_stats(queue: str) -> Any:
    def parse(reply: Any) -> QueueStats:
        oldest = reply["oldest_enqueued_ms"]
        return QueueStats(
            queue=queue,
            depth=int(reply["depth"]),
            oldest_wait_s=max(0.0, (reply["now_ms"] - oldest) / 1000.0) if oldest else 0.0,
            agents_available=int(reply["agents_available"]),
            agents_busy=int(reply["agents_busy"]),
            agents_away=int(reply["agents_away"]),
            agents_offline=int(reply["agents_offline"]),
            at_risk=int(reply.get("at_risk", 0)),
        )

    return parse


def _candidates(reply: Any) -> list[Candidate]:
    def counts(value: Any) -> dict[str, int]:
        return {k: int(v) for k, v in value.items()} if isinstance(value, dict) else {}

    return [
        Candidate(
            agent_id=str(entry["agent_id"]),
            eligible=bool(entry["eligible"]),
            reason=entry.get("reason"),
            load=counts(entry.get("load")),
            capacity=counts(entry.get("capacity")),
            score=float(entry.get("score", 0)),
        )
        for entry in reply["candidates"]
    ]


def _queue_list(reply: Any) -> list[QueueConfig]:
    configs = [QueueConfig.from_record(text(k), json.loads(text(v))) for k, v in reply.items()]
    return sorted(configs, key=lambda config: config.name)


class Operations:
    """Builds the `Call` of each operation for one tenant.

    Args:
        keys: the tenant's key names.
        head_window: see `HEAD_WINDOW`.
        candidate_bound: see `CANDIDATE_BOUND`.
        stream_maxlen: see `STREAM_MAXLEN`.
    """

    def __init__(
        self,
        keys: Keys,
        *,
        head_window: int = HEAD_WINDOW,
        candidate_bound: int = CANDIDATE_BOUND,
        stream_maxlen: int = STREAM_MAXLEN,
    ) -> None:
        self.keys = keys
        self.head_window = head_window
        self.candidate_bound = candidate_bound
        self.stream_maxlen = stream_maxlen

    def _script(self, name: str, parse: Any, *args: str | int | float) -> Call[Any]:
        return Call(
            parse=parse,
            script=name,
            keys=self.keys.tenant_keys,
            args=[self.keys.prefix, self.stream_maxlen, *args],
        )

    # --- queues -------------------------------------------------------------------------

    def set_queue_policy(
        self,
        queue: str,
        policy: Policy | str = Policy.LEAST_LOADED,
        offer_timeout_s: float = DEFAULT_OFFER_TIMEOUT_S,
        cooloff_s: float = DEFAULT_COOLOFF_S,
    ) -> Call[QueueConfig]:
        check_name(queue, "queue")
        return self._script(
            "set_queue_policy",
            lambda reply: QueueConfig.from_record(reply["name"], reply["config"]),
            queue,
            _enum(Policy, policy, "policy"),
            _duration_ms(offer_timeout_s, "offer_timeout_s"),
            _duration_ms(cooloff_s, "cooloff_s", allow_zero=True),
        )

    def list_queues(self) -> Call[list[QueueConfig]]:
        return Call(parse=_queue_list, command="hgetall", args=[self.keys.queues])

    def queue_stats(self, queue: str) -> Call[QueueStats]:
        check_name(queue, "queue")
        return self._script("queue_stats", _queue_stats(queue), queue)

    # --- tickets ------------------------------------------------------------------------

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
    ) -> Call[TicketState]:
        return self._script(
            "enqueue",
            lambda reply: TicketState.from_record(reply["ticket"], created=reply["created"]),
            *_enqueue_args(ticket_id, queue, priority, channel, skills=skills,
                           deadline_ts=deadline_ts, data=data),
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
    ) -> Call[Submitted]:
        check_in, live_risk = "", ""
        if first_sla_check is not None:
            check_in = str(_duration_ms(first_sla_check.in_s, "first_sla_check", allow_zero=True))
            live_risk = _risk_arg(first_sla_check.sla_risk, "first_sla_check")
        return self._script(
            "submit",
            lambda reply: Submitted.from_record(reply, data, sla_basis),
            *_enqueue_args(ticket_id, queue, priority, channel, skills=skills,
                           deadline_ts=deadline_ts, data=data),
            self.head_window,
            self.candidate_bound,
            _risk_arg(sla_model_risk, "sla_model_risk"),
            check_in,
            live_risk,
            "" if sla_basis is None else _sla_basis(sla_basis),
        )

    def get_ticket(self, ticket_id: str) -> Call[TicketState | None]:
        _identifier(ticket_id, "ticket_id")
        return Call(parse=_optional_ticket, command="hget", args=[self.keys.tickets, ticket_id])

    def get_tickets(self, ticket_ids: Sequence[str]) -> Call[dict[str, TicketState]]:
        ids = list(ticket_ids)
        for ticket_id in ids:
            _identifier(ticket_id, "ticket_id")
        return Call(parse=_tickets(ids), command="hmget", args=[self.keys.tickets, *ids])

    def transfer(
        self, ticket_id: str, to_queue: str, *, note: str | None = None,
        holder: str | None = None,
    ) -> Call[TicketState]:
        _identifier(ticket_id, "ticket_id")
        check_name(to_queue, "queue")
        if holder is not None:
            _identifier(holder, "agent_id")
        return self._script(
            "transfer", TicketState.from_record, ticket_id, to_queue, _note(note, "note"),
            holder or "",
        )

    def cancel(self, ticket_id: str, *, note: str | None = None) -> Call[TicketState]:
        _identifier(ticket_id, "ticket_id")
        return self._script("cancel", TicketState.from_record, ticket_id, _note(note, "note"))

    def reprioritize(
        self, ticket_id: str, priority: int, deadline_ts: float | None = None
    ) -> Call[TicketState]:
        _identifier(ticket_id, "ticket_id")
        return self._script(
            "reprioritize",
            TicketState.from_record,
            ticket_id,
            _priority(priority),
            _ms(deadline_ts, "deadline_ts"),
        )

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
    ) -> Call[Escalation]:
        _identifier(ticket_id, "ticket_id")
        _identifier(level, "level")
        if isinstance(raise_by, bool) or not isinstance(raise_by, int) or not (
            0 <= raise_by < MAX_PRIORITY
        ):
            raise InvalidArgument(f"must be 0 to {MAX_PRIORITY - 1} steps, got {raise_by!r}",
                                  field="raise_by")
        due = {
            str(_priority(priority)): [int(_ms(first, "deadlines")), int(_ms(resolve, "deadlines"))]
            for priority, (first, resolve) in (deadlines or {}).items()
        }
        return self._script(
            "escalate",
            Escalation.from_record,
            ticket_id,
            level,
            raise_by,
            "" if raise_to is None else _priority(raise_to),
            "" if to_queue is None else check_name(to_queue, "to_queue"),
            json.dumps([check_name(skill, "relax_skills") for skill in relax_skills]),
            json.dumps(due),
            1 if emit_event else 0,
            json.dumps(dict(event_data or {}), separators=(",", ":")),
        )

    def claim_sla_checks(self, limit: int, interval_s: float) -> Call[ClaimedChecks]:
        return self._script(
            "claim_sla_checks",
            ClaimedChecks.from_record,
            _limit(limit),
            _duration_ms(interval_s, "interval_s"),
        )

    def record_sla_checks(self, checks: Sequence[SlaCheck]) -> Call[int]:
        if len(checks) > MAX_BATCH:
            raise InvalidArgument(f"must be at most {MAX_BATCH} checks", field="checks")
        entries = []
        for check in checks:
            entry: dict[str, Any] = {
                "id": _identifier(check.ticket_id, "ticket_id"),
                "at_risk": bool(check.at_risk),
                "next_ms": int(_ms(check.next_check_at, "next_check_at")),
            }
            if (risk := _risk(check.sla_risk, "sla_risk")) is not None:
                entry["risk"] = risk
            if (model_risk := _risk(check.model_risk, "model_risk")) is not None:
                entry["model_risk"] = model_risk
            if check.sla_basis is not None:
                entry["basis"] = _sla_basis(check.sla_basis)
            entries.append(entry)
        return self._script("record_sla_checks", int, json.dumps(entries))

    def reindex_agents(self, cursor: str = "0", batch: int = REINDEX_BATCH) -> Call[ReindexStep]:
        return self._script(
            "reindex_agents", lambda reply: (str(reply["cursor"]), int(reply["agents"])),
            INDEX_LAYOUT, cursor, _limit(batch, "batch"),
        )

    def purge_finished(self, retention_s: float, limit: int = MAX_BATCH) -> Call[int]:
        return self._script(
            "purge_finished", int, _duration_ms(retention_s, "retention_s", allow_zero=True),
            _limit(limit),
        )

    # --- agents -------------------------------------------------------------------------

    def upsert_agent(
        self,
        agent_id: str,
        queues: Sequence[str],
        skills: Mapping[str, int] | None,
        capacity: Mapping[str, int],
        status: AgentStatus | str | None = AgentStatus.AVAILABLE,
    ) -> Call[AgentUpdate]:
        """`status` None keeps the stored one (a new agent starts available), in the same
        script: a status read beforehand could undo a SetAgentStatus made in between."""
        _identifier(agent_id, "agent_id")
        if isinstance(queues, str):
            raise InvalidArgument("must be a list of queue names, not one string", field="queues")
        names = [check_name(queue, "queues") for queue in dict.fromkeys(queues)]
        channels = {}
        for channel, count in capacity.items():
            check_name(channel, "capacity")
            if isinstance(count, bool) or not isinstance(count, int) or not (
                0 <= count <= MAX_CAPACITY
            ):
                raise InvalidArgument(f"capacity on {channel!r} must be an integer from 0 to "
                                      f"{MAX_CAPACITY}, got {count!r}", field="capacity")
            channels[channel] = count
        return self._script(
            "upsert_agent",
            _agent_update,
            agent_id,
            json.dumps(names),
            json.dumps(_levels(skills, "skills")),
            json.dumps(channels),
            "" if status is None else _enum(AgentStatus, status, "status"),
        )

    def set_agent_status(self, agent_id: str, status: AgentStatus | str) -> Call[AgentUpdate]:
        _identifier(agent_id, "agent_id")
        return self._script(
            "set_agent_status", _agent_update, agent_id, _enum(AgentStatus, status, "status")
        )

    def get_agent(self, agent_id: str) -> Call[AgentState | None]:
        _identifier(agent_id, "agent_id")
        return self._script("read_agent", _optional_agent, agent_id)

    def pending_offers(self, agent_id: str) -> Call[list[Offer]]:
        _identifier(agent_id, "agent_id")
        return self._script(
            "read_agent", lambda reply: _offers(reply["offers"]) if reply else [], agent_id
        )

    # --- offers -------------------------------------------------------------------------

    def assign(self, queue: str) -> Call[Offer | None]:
        check_name(queue, "queue")
        return self._script(
            "assign", _optional_offer, queue, self.head_window, self.candidate_bound
        )

    def assign_for_agent(self, agent_id: str) -> Call[Offer | None]:
        _identifier(agent_id, "agent_id")
        return self._script("assign_for_agent", _optional_offer, agent_id, self.head_window)

    def offer_to(self, ticket_id: str, agent_id: str) -> Call[Offer]:
        _identifier(ticket_id, "ticket_id")
        _identifier(agent_id, "agent_id")
        return self._script("offer_to", Offer.from_record, ticket_id, agent_id)

    def accept(self, ticket_id: str, agent_id: str) -> Call[Assignment]:
        _identifier(ticket_id, "ticket_id")
        _identifier(agent_id, "agent_id")
        return self._script("accept", _assignment, ticket_id, agent_id)

    def reject(
        self, ticket_id: str, agent_id: str, *, note: str | None = None
    ) -> Call[TicketState]:
        _identifier(ticket_id, "ticket_id")
        _identifier(agent_id, "agent_id")
        return self._script(
            "reject", TicketState.from_record, ticket_id, agent_id, _note(note, "note")
        )

    def expire_due(self, limit: int = 100) -> Call[list[Offer]]:
        return self._script("expire_due", _offers, _limit(limit))

    def complete(
        self, ticket_id: str, agent_id: str, *, resolution: str | None = None
    ) -> Call[TicketState]:
        _identifier(ticket_id, "ticket_id")
        _identifier(agent_id, "agent_id")
        return self._script(
            "complete", TicketState.from_record, ticket_id, agent_id,
            _note(resolution, "resolution"),
        )

    def record_first_response(self, ticket_id: str, agent_id: str) -> Call[FirstResponse]:
        _identifier(ticket_id, "ticket_id")
        _identifier(agent_id, "agent_id")
        return self._script(
            "record_first_response", FirstResponse.from_record, ticket_id, agent_id
        )

    def explain_candidates(
        self,
        ticket_id: str | None = None,
        *,
        queue: str | None = None,
        channel: str | None = None,
        skills: Mapping[str, int] | None = None,
        limit: int = DEFAULT_EXPLAIN_LIMIT,
    ) -> Call[list[Candidate]]:
        if ticket_id is not None:
            _identifier(ticket_id, "ticket_id")
            args: list[str] = [ticket_id, "", "", "{}"]
        else:
            if queue is None or channel is None:
                raise InvalidArgument("give a ticket id, or a queue and a channel",
                                      field="ticket_id")
            args = ["", check_name(queue, "queue"), check_name(channel, "channel"),
                    json.dumps(_levels(skills, "skills"))]
        return self._script("explain_candidates", _candidates, *args, _limit(limit))
