"""What the service and the reports read from history."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from router.errors import NotFound
from router.history.database import sql_errors
from router.history.models import (
    Agent,
    HistoryEvent,
    ModelVersion,
    RuleVersion,
    Ticket,
    TicketCreate,
    TicketDetails,
    TicketDurations,
    TicketProjection,
)


def get_ticket(engine: Engine, ticket_id: str) -> TicketDetails:
    """A ticket's projection (state, queue, agent, milestones) and, if recorded, its content.

    Raises:
        NotFound: history has neither events nor a record of this ticket.
        Unavailable: the database is unreachable.
    """
    with sql_errors(), Session(engine) as session:
        projection = session.get(TicketProjection, ticket_id)
        ticket = session.get(Ticket, ticket_id)
    if projection is None and ticket is None:
        raise NotFound(f"ticket {ticket_id!r} is not in history", field="ticket_id")
    details = TicketDetails.model_validate(
        projection.model_dump() if projection else {"ticket_id": ticket_id}
    )
    if ticket is not None:
        details.ticket = TicketCreate.model_validate(ticket.model_dump())
    return details


def ticket_timeline(engine: Engine, ticket_id: str) -> list[HistoryEvent]:
    """Every stored event of a ticket, oldest first (empty when there are none).

    Raises:
        Unavailable: the database is unreachable.
    """
    query = (
        select(HistoryEvent)
        .where(HistoryEvent.ticket_id == ticket_id)
        .order_by(col(HistoryEvent.stream_ms), col(HistoryEvent.stream_seq))
    )
    with sql_errors(), Session(engine) as session:
        return list(session.exec(query))


def list_rule_versions(engine: Engine) -> list[RuleVersion]:
    """Every published rule set, newest first.

    Raises:
        Unavailable: the database is unreachable.
    """
    with sql_errors(), Session(engine) as session:
        return list(session.exec(select(RuleVersion).order_by(col(RuleVersion.version).desc())))


def get_rule_version(engine: Engine, version: int) -> RuleVersion:
    """One published rule set.

    Raises:
        NotFound: no such version was published.
        Unavailable: the database is unreachable.
    """
    with sql_errors(), Session(engine) as session:
        found = session.get(RuleVersion, version)
    if found is None:
        raise NotFound(f"rule version {version} was never published", field="version")
    return found


def list_model_versions(engine: Engine) -> list[ModelVersion]:
    """Every model version recorded, newest first.

    Raises:
        Unavailable: the database is unreachable.
    """
    query = select(ModelVersion).order_by(col(ModelVersion.created_at).desc())
    with sql_errors(), Session(engine) as session:
        return list(session.exec(query))


def ticket_durations(
    engine: Engine, *, since: datetime | None = None, until: datetime | None = None
) -> list[TicketDurations]:
    """Per ticket submitted in [since, until): its queue, priority and waits from submission.

    Group the rows by `queue` and `priority` for per-queue percentiles.

    Raises:
        Unavailable: the database is unreachable.
    """
    query = select(TicketProjection).where(col(TicketProjection.submitted_at).is_not(None))
    if since is not None:
        query = query.where(col(TicketProjection.submitted_at) >= since)
    if until is not None:
        query = query.where(col(TicketProjection.submitted_at) < until)
    with sql_errors(), Session(engine) as session:
        projections = list(session.exec(query.order_by(col(TicketProjection.submitted_at))))
    return [_durations(p) for p in projections]


def _durations(p: TicketProjection) -> TicketDurations:
    def since_submission(moment: datetime | None) -> float | None:
        if moment is None or p.submitted_at is None:
            return None
        return (moment - p.submitted_at).total_seconds()

    return TicketDurations(
        ticket_id=p.ticket_id,
        queue=p.queue,
        priority=p.priority,
        channel=p.channel,
        state=p.state,
        submitted_at=p.submitted_at,
        time_to_first_offer_s=since_submission(p.first_offered_at),
        time_to_accept_s=since_submission(p.accepted_at),
        time_to_first_response_s=since_submission(p.first_response_at),
        time_to_resolve_s=since_submission(p.resolved_at),
        offers=p.offers,
        rejections=p.rejections,
        expirations=p.expirations,
        transfers=p.transfers,
        escalations=p.escalations,
    )


def past_submissions(
    engine: Engine,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 10_000,
) -> list[tuple[Ticket, TicketProjection | None]]:
    """The latest `limit` tickets submitted in [since, until), oldest first, each with its
    projection (None until the writer has folded its events).

    Raises:
        Unavailable: the database is unreachable.
    """
    query = (
        select(Ticket, TicketProjection)
        .join(TicketProjection, col(TicketProjection.ticket_id) == col(Ticket.id), isouter=True)
        .where(col(Ticket.submitted_at).is_not(None))
    )
    if since is not None:
        query = query.where(col(Ticket.submitted_at) >= since)
    if until is not None:
        query = query.where(col(Ticket.submitted_at) < until)
    query = query.order_by(col(Ticket.submitted_at).desc(), col(Ticket.id).desc()).limit(limit)
    with sql_errors(), Session(engine) as session:
        rows = [(ticket, projection) for ticket, projection in session.exec(query)]
    rows.reverse()
    return rows


def list_agents(engine: Engine) -> list[Agent]:
    """Every agent the history knows, by id.

    Raises:
        Unavailable: the database is unreachable.
    """
    with sql_errors(), Session(engine) as session:
        return list(session.exec(select(Agent).order_by(col(Agent.id))))
