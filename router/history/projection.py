"""A ticket's state and milestones as a pure fold of its events, in stream order.

Recomputing the whole fold from the stored events (rather than patching the row per event)
makes the projection independent of the order in which writers store events, so replays and
concurrent writers always converge to the same row.

    event type                   state      queue      agent      milestone / counter
    enqueued, submitted          waiting    event's    none       submitted_at
    offered                      offered    event's    event's    first_offered_at, offers
    accepted                     assigned   event's    event's    accepted_at (first)
    rejected                     waiting               none       rejections
    offer_expired                waiting               none       expirations
    offer_revoked                waiting               none
    first_response               -                                first_response_at (first)
    completed, resolved          resolved              -          resolved_at (first)
    cancelled                    cancelled             none       cancelled_at (first)
    transferred                  waiting    event's    none       transfers
    reprioritized                -                                (priority from data)
    escalated                    -          event's               escalations
    anything else                -
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

WAITING, OFFERED, ASSIGNED, RESOLVED, CANCELLED = (
    "waiting",
    "offered",
    "assigned",
    "resolved",
    "cancelled",
)

AGENT_PROFILE_EVENT = "agent_updated"
"""Carries an agent's skills, capacity, queues and status."""
AGENT_STATUS_EVENT = "agent_status"
"""Carries an agent's new status."""


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """The fields of a stored event that the fold reads."""

    event_id: str
    type: str
    queue: str
    agent_id: str | None
    time: datetime
    data: dict[str, Any] = field(default_factory=dict)


def priority_name(value: Any) -> str | None:
    """'P1'..'P4' from the queues' integer priority (or an already named one); None if absent."""
    if value is None or value == "":
        return None
    text = str(value)
    return text if text.startswith("P") else f"P{int(text)}"


def fold_ticket(events: Iterable[StoredEvent]) -> dict[str, Any]:
    """The `ticket_projections` columns (all but ticket_id and updated_at) for these events.

    Args:
        events: one ticket's events, oldest first.
    """
    row: dict[str, Any] = {
        "state": "",
        "queue": "",
        "priority": "",
        "agent_id": None,
        "channel": "",
        "submitted_at": None,
        "first_offered_at": None,
        "accepted_at": None,
        "first_response_at": None,
        "resolved_at": None,
        "cancelled_at": None,
        "offers": 0,
        "rejections": 0,
        "expirations": 0,
        "transfers": 0,
        "escalations": 0,
        "last_event_id": "",
    }

    def first(column: str, when: datetime) -> None:
        if row[column] is None:
            row[column] = when

    for event in events:
        row["last_event_id"] = event.event_id
        if channel := event.data.get("channel"):
            row["channel"] = str(channel)
        if (priority := priority_name(event.data.get("priority"))) is not None:
            row["priority"] = priority
        kind = event.type
        if kind in ("enqueued", "submitted"):
            row.update(state=WAITING, queue=event.queue, agent_id=None)
            first("submitted_at", event.time)
        elif kind == "offered":
            row.update(state=OFFERED, queue=event.queue, agent_id=event.agent_id)
            first("first_offered_at", event.time)
            row["offers"] += 1
        elif kind == "accepted":
            row.update(state=ASSIGNED, queue=event.queue, agent_id=event.agent_id)
            first("accepted_at", event.time)
        elif kind in ("rejected", "offer_expired", "offer_revoked"):
            row.update(state=WAITING, agent_id=None)
            if kind == "rejected":
                row["rejections"] += 1
            elif kind == "offer_expired":
                row["expirations"] += 1
        elif kind == "first_response":  # at_ms: when it was answered, if reported late
            at_ms = event.data.get("at_ms")
            first("first_response_at", event.time if not isinstance(at_ms, int | float) else
                  datetime.fromtimestamp(at_ms / 1000, UTC))
        elif kind in ("completed", "resolved"):
            row["state"] = RESOLVED
            first("resolved_at", event.time)
        elif kind == "cancelled":
            row.update(state=CANCELLED, agent_id=None)
            first("cancelled_at", event.time)
        elif kind == "transferred":
            row.update(state=WAITING, queue=event.queue, agent_id=None)
            row["transfers"] += 1
        elif kind == "escalated":
            if event.queue:
                row["queue"] = event.queue
            row["escalations"] += 1
    return row


def fold_agent(profile: StoredEvent | None, status: StoredEvent | None) -> dict[str, Any]:
    """The `agents` columns (but id) from an agent's latest profile and latest status event."""
    row: dict[str, Any] = {"skills": {}, "capacity": {}, "queues": [], "status": ""}
    if profile is not None:
        row.update(
            skills=_mapping(profile.data.get("skills")),
            capacity=_mapping(profile.data.get("capacity")),
            queues=[str(q) for q in profile.data.get("queues") or []],
        )
    latest = max(
        (e for e in (profile, status) if e is not None),
        key=lambda e: stream_key(e.event_id),
        default=None,
    )
    if latest is not None:
        row["status"] = str(latest.data.get("status", ""))
        row["updated_at"] = latest.time
    return row


def _mapping(value: Any) -> dict[str, int]:
    # Lua's cjson writes an empty table as {} or []; both mean "none".
    return {str(k): int(v) for k, v in value.items()} if isinstance(value, dict) else {}


def stream_key(event_id: str) -> tuple[int, int]:
    """(milliseconds, sequence) of a Redis stream id "1718000000000-3", for ordering.

    Raises:
        ValueError: not a stream id.
    """
    ms, _, seq = event_id.partition("-")
    return int(ms), int(seq or 0)
