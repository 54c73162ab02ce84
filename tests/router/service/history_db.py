"""The history database as the service tests read it: emptied before, queried directly after."""

from __future__ import annotations

from sqlalchemy import create_engine, func, select
from sqlmodel import SQLModel, col

from router.history.models import HistoryEvent, Ticket


def empty_database(url: str) -> None:
    """Drop every history table (the session's PostgreSQL is shared by the tests that use it);
    a router started on it creates them again."""
    import router.history.models  # noqa: F401  (registers the tables to drop)

    engine = create_engine(url)
    try:
        SQLModel.metadata.drop_all(engine)
    finally:
        engine.dispose()


def history_event_ids(url: str) -> tuple[int, set[str]]:
    """Rows of the `events` table, and their distinct ids."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(select(func.count()).select_from(HistoryEvent)).scalar_one()
            ids = set(connection.execute(select(col(HistoryEvent.event_id))).scalars())
    finally:
        engine.dispose()
    return int(rows), ids


def history_ticket_ids(url: str) -> set[str]:
    """Ids of the `tickets` table: the submissions stored with their text, scores and decision."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return set(connection.execute(select(col(Ticket.id))).scalars())
    finally:
        engine.dispose()


def ticket_events(url: str, ticket_id: str) -> list[tuple[str, str]]:
    """(event id, type) of a ticket's rows in the `events` table, in stream order."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(col(HistoryEvent.event_id), col(HistoryEvent.type))
                .where(col(HistoryEvent.ticket_id) == ticket_id)
                .order_by(col(HistoryEvent.stream_ms), col(HistoryEvent.stream_seq))
            )
            return [(row[0], row[1]) for row in rows]
    finally:
        engine.dispose()
