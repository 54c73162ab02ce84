"""Agent queues on Redis: atomic enqueue, offer, accept, reject, expire, complete (Lua)."""

from queues.events import AsyncEventReader, Event, EventReader, EventType
from queues.keys import Keys
from queues.models import (
    AgentState,
    AgentStatus,
    AgentUpdate,
    Assignment,
    Candidate,
    ClaimedCheck,
    ClaimedChecks,
    Escalation,
    FirstSlaCheck,
    Offer,
    Policy,
    QueueConfig,
    QueueStats,
    SlaCheck,
    Submitted,
    TicketState,
    TicketStatus,
)
from queues.store import AsyncQueueStore, QueueStore

__all__ = [
    "AgentState",
    "AgentStatus",
    "AgentUpdate",
    "Assignment",
    "AsyncEventReader",
    "AsyncQueueStore",
    "Candidate",
    "ClaimedCheck",
    "ClaimedChecks",
    "Escalation",
    "Event",
    "EventReader",
    "EventType",
    "FirstSlaCheck",
    "Keys",
    "Offer",
    "Policy",
    "QueueConfig",
    "QueueStats",
    "QueueStore",
    "SlaCheck",
    "Submitted",
    "TicketState",
    "TicketStatus",
]
