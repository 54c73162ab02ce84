"""The event outbox: every queue state change appends one entry to a Redis Stream; its readers.

History and metrics read it at least once; `event_id` (the stream entry id) is unique, so
consumers stay idempotent by keying on it.

Stream entry fields (all strings): `type`, `ticket`, `queue`, `agent` (empty when none),
`ts_ms` (milliseconds since the epoch, Redis server time) and `data` (a JSON object with
anything else the event carries, e.g. priority, channel, reason; may be absent).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import redis
import redis.asyncio

from queues.execution import AsyncExecutor, Call, SyncExecutor
from queues.keys import DEFAULT_TENANT, Keys


@dataclass(frozen=True, slots=True)
class Event:
    """One thing that happened to a ticket."""

    event_id: str
    type: str
    ticket_id: str
    queue: str
    agent_id: str | None
    ts: float
    """Seconds since the epoch."""
    data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_stream(cls, event_id: str | bytes, fields: Mapping[Any, Any]) -> Event:
        """Build an event from a stream entry (bytes or str keys and values)."""

        def text(name: str) -> str:
            value = fields.get(name, fields.get(name.encode(), b""))
            return value.decode() if isinstance(value, bytes) else str(value)

        raw_data = text("data")
        return cls(
            event_id=event_id.decode() if isinstance(event_id, bytes) else event_id,
            type=text("type"),
            ticket_id=text("ticket"),
            queue=text("queue"),
            agent_id=text("agent") or None,
            ts=int(text("ts_ms") or 0) / 1000.0,
            data=json.loads(raw_data) if raw_data else {},
        )


class EventType(StrEnum):
    """The `type` of each event the queue scripts append."""

    ENQUEUED = "enqueued"
    OFFERED = "offered"
    """data: channel, priority, expires_ms, load and capacity of the agent on the channel."""
    ACCEPTED = "accepted"
    """data: channel, wait_ms (from enqueue)."""
    FIRST_RESPONSE = "first_response"
    """data: channel, wait_ms (from enqueue)."""
    REJECTED = "rejected"
    """data: channel, reason ("rejected"), note (the agent's text, when it gave one)."""
    OFFER_EXPIRED = "offer_expired"
    OFFER_REVOKED = "offer_revoked"
    """The agent went away/offline holding the offer."""
    COMPLETED = "completed"
    """data: channel, handle_ms (from accept), resolution (the agent's text, when given)."""
    TRANSFERRED = "transferred"
    """data: from_queue, channel, note (the caller's text, when given); `agent` is the agent the
    ticket was taken from, if any."""
    CANCELLED = "cancelled"
    """data: channel, note (the caller's text, when given); `agent` as for transferred."""
    REPRIORITIZED = "reprioritized"
    ESCALATED = "escalated"
    """An escalation level fired. data: level, priority_from, priority_to (= priority),
    from_queue, deadline_ms, channel, relaxed_skills (when any) and the sweep's level_index,
    sla_risk, time_left_s.
    A move that takes the ticket from its agent is also a `transferred` event, first."""
    AGENT_UPDATED = "agent_updated"
    """data: queues, skills, capacity, status. `ticket` and `queue` are empty."""
    AGENT_STATUS = "agent_status"
    """data: status, previous. `ticket` and `queue` are empty."""
    QUEUE_UPDATED = "queue_updated"
    """data: the queue config. `ticket` and `agent` are empty."""


RELEASING_EVENTS = frozenset({
    EventType.REJECTED, EventType.OFFER_EXPIRED, EventType.OFFER_REVOKED,
    EventType.COMPLETED, EventType.TRANSFERRED, EventType.CANCELLED,
})
"""Events that free the named agent's capacity on the ticket's channel (when `agent` is set)."""


def _stream_entries(reply: Any) -> list[Event]:
    """Events of an XREAD/XREADGROUP reply (RESP2 list or RESP3 map, one stream)."""
    if not reply:
        return []
    streams = reply.items() if isinstance(reply, dict) else reply
    events: list[Event] = []
    for _name, stream_entries in streams:
        entries = stream_entries
        # RESP3 wraps each stream's entries in one more list.
        if entries and isinstance(entries[0], list) and entries[0] and isinstance(
            entries[0][0], list | tuple
        ):
            entries = entries[0]
        events.extend(Event.from_stream(entry_id, fields) for entry_id, fields in entries
                      if fields is not None)
    return events


def _claimed(reply: Any) -> list[Event]:
    entries = reply[1] if reply else []
    return [Event.from_stream(entry_id, fields) for entry_id, fields in entries if fields]


class EventCalls:
    """The `Call`s of the event reader, shared by the sync and asyncio readers.

    Args:
        keys: the tenant's key names (the stream is `keys.events`).
    """

    def __init__(self, keys: Keys) -> None:
        self.keys = keys
        self.stream = keys.events

    def read(self, after: str, count: int, block_ms: int | None) -> Call[list[Event]]:
        return Call(parse=_stream_entries, command="xread",
                    kwargs={"streams": {self.stream: after}, "count": count, "block": block_ms})

    def ensure_group(self, group: str, start: str) -> Call[bool]:
        return Call(parse=bool, script="ensure_group", keys=self.keys.tenant_keys,
                    args=[self.keys.prefix, 0, group, start])

    def read_group(
        self, group: str, consumer: str, count: int, block_ms: int | None, pending: bool
    ) -> Call[list[Event]]:
        return Call(parse=_stream_entries, command="xreadgroup", kwargs={
            "groupname": group, "consumername": consumer,
            "streams": {self.stream: "0" if pending else ">"},
            "count": count, "block": None if pending else block_ms})

    def ack(self, group: str, event_ids: Sequence[str]) -> Call[int]:
        return Call(parse=int, command="xack", args=[self.stream, group, *event_ids])

    def claim_stale(
        self, group: str, consumer: str, min_idle_ms: int, count: int
    ) -> Call[list[Event]]:
        return Call(parse=_claimed, command="xautoclaim", kwargs={
            "name": self.stream, "groupname": group, "consumername": consumer,
            "min_idle_time": min_idle_ms, "start_id": "0-0", "count": count})


class EventReader:
    """Reads a tenant's event stream, by cursor or in a consumer group (blocking API).

    Args:
        client: a redis-py client.
        tenant: the tenant whose stream to read.
    """

    def __init__(self, client: redis.Redis, *, tenant: str = DEFAULT_TENANT) -> None:
        self.calls = EventCalls(Keys(tenant))
        self._run = SyncExecutor(client).run

    def read(self, after: str = "0-0", count: int = 100, block_ms: int | None = None
             ) -> list[Event]:
        """Up to `count` events after the event id `after` ("0-0": from the start; "$": only
        new ones), waiting up to `block_ms` for the first if none is there yet."""
        return self._run(self.calls.read(after, count, block_ms))

    def ensure_group(self, group: str, start: str = "0") -> bool:
        """Create a consumer group starting after `start`; False if it exists already."""
        return self._run(self.calls.ensure_group(group, start))

    def read_group(self, group: str, consumer: str, count: int = 100,
                   block_ms: int | None = None, *, pending: bool = False) -> list[Event]:
        """New events for this consumer (or, with `pending`, those it read but never acked)."""
        return self._run(self.calls.read_group(group, consumer, count, block_ms, pending))

    def ack(self, group: str, *event_ids: str) -> int:
        """Mark events as processed by the group; returns how many were pending."""
        return self._run(self.calls.ack(group, event_ids)) if event_ids else 0

    def claim_stale(self, group: str, consumer: str, min_idle_ms: int, count: int = 100
                    ) -> list[Event]:
        """Take over events another consumer read but did not ack within `min_idle_ms`."""
        return self._run(self.calls.claim_stale(group, consumer, min_idle_ms, count))


class AsyncEventReader:
    """The asyncio form of `EventReader`: same methods, awaited."""

    def __init__(self, client: redis.asyncio.Redis, *, tenant: str = DEFAULT_TENANT) -> None:
        self.calls = EventCalls(Keys(tenant))
        self._run = AsyncExecutor(client).run

    async def read(self, after: str = "0-0", count: int = 100, block_ms: int | None = None
                   ) -> list[Event]:
        return await self._run(self.calls.read(after, count, block_ms))

    async def ensure_group(self, group: str, start: str = "0") -> bool:
        return await self._run(self.calls.ensure_group(group, start))

    async def read_group(self, group: str, consumer: str, count: int = 100,
                         block_ms: int | None = None, *, pending: bool = False) -> list[Event]:
        return await self._run(self.calls.read_group(group, consumer, count, block_ms, pending))

    async def ack(self, group: str, *event_ids: str) -> int:
        return await self._run(self.calls.ack(group, event_ids)) if event_ids else 0

    async def claim_stale(self, group: str, consumer: str, min_idle_ms: int, count: int = 100
                          ) -> list[Event]:
        return await self._run(self.calls.claim_stale(group, consumer, min_idle_ms, count))
