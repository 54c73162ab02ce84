"""The event outbox: every queue state change appends one entry to a Redis Stream.

History and metrics read it at least once; `event_id` (the stream entry id) is unique, so
consumers stay idempotent by keying on it.

Stream entry fields (all strings): `type`, `ticket`, `queue`, `agent` (empty when none),
`ts_ms` (milliseconds since the epoch, Redis server time) and `data` (a JSON object with
anything else the event carries, e.g. priority, channel, reason; may be absent).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


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
