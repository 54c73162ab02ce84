"""The history rows of submissions, read back from the tickets' records in Redis.

A router keeps a submission's ticket, scores and decision in the ticket's queue record; the
history writer stores them in the transaction that stores the ticket's `enqueued` event, so a
router that dies right after answering loses no submission row. A ticket purged from Redis
before its events were drained (its writer that far behind) gets no row; its events still do.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from queues.models import TicketState
from queues.store import QueueStore
from router import convert
from router.api.ticket_router.v1 import ticket_pb2 as pb
from router.history.models import TicketCreate


def ticket_row(
    ticket: pb.Ticket, scores: pb.Scores, decision: pb.RoutingDecision, submitted_at: float
) -> TicketCreate:
    """The history row of a submission."""
    return TicketCreate(
        id=ticket.id,
        **convert.ticket_fields(ticket),
        category=scores.category,
        category_confidence=scores.category_confidence,
        category_probabilities=dict(scores.category_probabilities),
        priority=convert.PRIORITY_NAMES.get(decision.priority, ""),  # type: ignore[call-overload]
        priority_probabilities=dict(scores.priority_probabilities),
        sla_risk=scores.sla_risk if scores.sla_risk == scores.sla_risk else 0.0,  # NaN: none
        model_version=scores.model_version,
        queue=decision.queue,
        required_skills=dict(decision.required_skills),
        tags=list(decision.tags),
        rule_id=decision.rule_id,
        rule_version=decision.rule_version,
        routing_reason=pb.RoutingReason.Name(decision.reason)
        .removeprefix("ROUTING_REASON_")
        .lower(),
        submitted_at=datetime.fromtimestamp(submitted_at, UTC),
    )


def submission_row(state: TicketState) -> TicketCreate | None:
    """The history row of a ticket a router submitted; None for one enqueued through the queues
    API alone (its record carries no submission)."""
    data = state.data or {}
    if "ticket" not in data:
        return None
    ticket, scores, decision = convert.stored_submission(data)
    return ticket_row(ticket, scores, decision, float(data.get("submitted_at", state.enqueued_at)))


class RedisSubmissions:
    """Reads submission rows from the tickets' records (one round trip per batch).

    Args:
        store: the queues of the tenant whose events are drained.
    """

    def __init__(self, store: QueueStore) -> None:
        self.store = store

    def rows(self, ticket_ids: Sequence[str]) -> list[TicketCreate]:
        """The submission rows of these tickets, those still in Redis.

        Raises:
            Unavailable: Redis is unreachable.
        """
        states = self.store.get_tickets(ticket_ids)
        return [row for state in states.values() if (row := submission_row(state)) is not None]
