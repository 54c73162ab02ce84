"""Drains the queues' event stream into SQL, idempotently, with its cursor in the same database.

Each batch is one transaction: insert the events (duplicates ignored by event id) and the
submissions of the tickets they enqueue (read from Redis before it, duplicates ignored by ticket
id), refold the projections of the tickets and agents that got new events, and move the cursor.
A crash before the commit leaves the cursor behind the batch, so the next writer reads it again
and the duplicates are ignored; a crash after it loses nothing. Several writers (several router
processes) may drain the same stream at once: on PostgreSQL each refold holds a per-ticket
advisory lock and reads the committed events, on SQLite writers take turns (BEGIN IMMEDIATE).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, and_, bindparam, or_, select, text

from queues.events import Event, EventType
from router.errors import InvalidArgument
from router.history.database import chunks, insert_ignoring_duplicates, transaction, upsert
from router.history.models import (
    Agent,
    HistoryEvent,
    TicketCreate,
    TicketProjection,
    WriterCursor,
    table_of,
)
from router.history.projection import (
    AGENT_PROFILE_EVENT,
    AGENT_STATUS_EVENT,
    StoredEvent,
    fold_agent,
    fold_ticket,
    stream_key,
)
from router.history.records import insert_tickets

STREAM_START = "0-0"
"""Cursor of a writer that has stored nothing: read the stream from its first entry."""

DEFAULT_BATCH_SIZE = 500
"""Events per transaction: large enough to amortise a commit, small enough to stay short."""

DEFAULT_CURSOR_NAME = "events"
"""Cursor name of the queues' event stream."""

_IN_LIST_SIZE = 500  # keeps IN (...) lists under SQLite's bound-parameter limit

EVENTS = table_of(HistoryEvent)
PROJECTIONS = table_of(TicketProjection)
AGENTS = table_of(Agent)
CURSORS = table_of(WriterCursor)


class EventSource(Protocol):
    """Where events come from, e.g. the queues' `EventReader` over the Redis stream."""

    def read(self, after: str, count: int, block_ms: int | None) -> list[Event]:
        """Up to `count` events with ids after `after`, oldest first; waits up to `block_ms`
        for the first one (None: do not wait); an empty list when there are none."""
        ...


class SubmissionSource(Protocol):
    """Where submitted tickets' rows come from, e.g. `RedisSubmissions` over the ticket records."""

    def rows(self, ticket_ids: Sequence[str]) -> list[TicketCreate]:
        """The submission rows of those of these tickets that were submitted (and are known)."""
        ...


class HistoryWriter:
    """Moves events from an `EventSource` into the history database.

    Args:
        engine: from `open_database`.
        source: the event stream.
        cursor_name: names this stream's cursor in `history_cursors`.
        batch_size: events read and written per transaction.
        submissions: the rows of submitted tickets, stored with their `enqueued` events
            (None: events only).
    """

    def __init__(
        self,
        engine: Engine,
        source: EventSource,
        *,
        cursor_name: str = DEFAULT_CURSOR_NAME,
        batch_size: int = DEFAULT_BATCH_SIZE,
        submissions: SubmissionSource | None = None,
    ) -> None:
        self.engine = engine
        self.source = source
        self.submissions = submissions
        self.cursor_name = cursor_name
        self.batch_size = batch_size

    def cursor(self) -> str:
        """The id of the last event stored; `STREAM_START` when none.

        Raises:
            Unavailable: the database is unreachable.
        """
        with transaction(self.engine) as connection:
            stored = connection.execute(
                select(CURSORS.c.event_id).where(CURSORS.c.name == self.cursor_name)
            ).scalar_one_or_none()
        return stored or STREAM_START

    def drain_once(self, block_ms: int | None = None) -> int:
        """Read one batch after the cursor and store it.

        Returns:
            How many events were new to the database (0 when the source had none).

        Raises:
            Unavailable: the database (or, as the source raises it, Redis) is unreachable.
        """
        events = self.source.read(self.cursor(), self.batch_size, block_ms)
        return self.write_batch(events) if events else 0

    def drain(self) -> int:
        """Store batches until the source has no more events; return how many were new."""
        new = 0
        while True:
            events = self.source.read(self.cursor(), self.batch_size, None)
            if not events:
                return new
            new += self.write_batch(events)

    def write_batch(self, events: Sequence[Event]) -> int:
        """Store events in one transaction: insert new ones and the submissions of the tickets
        they enqueue, refold projections, move the cursor.

        Args:
            events: in stream order (as the source returns them).

        Returns:
            How many of them were not stored before.

        Raises:
            InvalidArgument: an event id is not a Redis stream id.
            Unavailable: the database is unreachable.
        """
        if not events:
            return 0
        rows = sorted((_event_row(event) for event in events), key=_order)
        submitted = self._submissions(events)
        with transaction(self.engine, write=True) as connection:
            inserted = insert_ignoring_duplicates(connection, EVENTS, rows, "event_id")
            if submitted:
                insert_tickets(connection, submitted)
            new = [row for row in rows if row["event_id"] in inserted]
            tickets = sorted({row["ticket_id"] for row in new if row["ticket_id"]})
            agents = sorted(
                {
                    row["agent_id"]
                    for row in new
                    if row["agent_id"] and row["type"] in (AGENT_PROFILE_EVENT, AGENT_STATUS_EVENT)
                }
            )
            _lock(connection, [f"ticket:{t}" for t in tickets] + [f"agent:{a}" for a in agents])
            _refold_tickets(connection, tickets)
            _refold_agents(connection, agents)
            _advance_cursor(connection, self.cursor_name, rows[-1])
        return len(inserted)

    def _submissions(self, events: Sequence[Event]) -> list[TicketCreate]:
        enqueued = sorted({e.ticket_id for e in events if e.type == EventType.ENQUEUED})
        if self.submissions is None or not enqueued:
            return []
        return self.submissions.rows(enqueued)


def _event_row(event: Event) -> dict[str, Any]:
    try:
        ms, seq = stream_key(event.event_id)
    except ValueError as error:
        raise InvalidArgument(
            f"event id {event.event_id!r} is not a Redis stream id like '1718000000000-0'",
            field="event_id",
        ) from error
    return {
        "event_id": event.event_id,
        "stream_ms": ms,
        "stream_seq": seq,
        "type": event.type,
        "ticket_id": event.ticket_id or None,
        "queue": event.queue,
        "agent_id": event.agent_id or None,
        "time": datetime.fromtimestamp(event.ts, UTC),
        "data": event.data,
    }


def _order(row: dict[str, Any]) -> tuple[int, int]:
    return row["stream_ms"], row["stream_seq"]


def _lock(connection: Connection, names: list[str]) -> None:
    """PostgreSQL: hold a transaction advisory lock per ticket/agent, in one global order, so
    that a refold sees every event committed by other writers of the same ticket."""
    if connection.dialect.name != "postgresql" or not names:
        return
    keys = sorted(
        int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)
        for name in names
    )
    connection.execute(
        text("SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:keys AS bigint[])) AS k"),
        {"keys": keys},
    )


def _stored(row: Any) -> StoredEvent:
    return StoredEvent(
        event_id=row.event_id,
        type=row.type,
        queue=row.queue,
        agent_id=row.agent_id,
        time=row.time,
        data=row.data or {},
    )


def _refold_tickets(connection: Connection, tickets: list[str]) -> None:
    now = datetime.now(UTC)
    for batch in chunks(tickets, _IN_LIST_SIZE):
        by_ticket: dict[str, list[StoredEvent]] = defaultdict(list)
        query = (
            select(EVENTS)
            .where(EVENTS.c.ticket_id.in_(batch))
            .order_by(EVENTS.c.ticket_id, EVENTS.c.stream_ms, EVENTS.c.stream_seq)
        )
        for row in connection.execute(query):
            by_ticket[row.ticket_id].append(_stored(row))
        rows = [
            {"ticket_id": ticket, **fold_ticket(events), "updated_at": now}
            for ticket, events in by_ticket.items()
        ]
        upsert(connection, PROJECTIONS, rows, "ticket_id")


def _refold_agents(connection: Connection, agents: list[str]) -> None:
    latest = (
        select(EVENTS)
        .where(
            EVENTS.c.agent_id == bindparam("agent"),
            EVENTS.c.type.in_(bindparam("types", expanding=True)),
        )
        .order_by(EVENTS.c.stream_ms.desc(), EVENTS.c.stream_seq.desc())
        .limit(1)
    )
    rows = []
    for agent in agents:
        profile = connection.execute(
            latest, {"agent": agent, "types": [AGENT_PROFILE_EVENT]}
        ).one_or_none()
        status = connection.execute(
            latest, {"agent": agent, "types": [AGENT_PROFILE_EVENT, AGENT_STATUS_EVENT]}
        ).one_or_none()
        row = fold_agent(_stored(profile) if profile else None, _stored(status) if status else None)
        rows.append({"id": agent, **row})
    upsert(connection, AGENTS, rows, "id")


def _advance_cursor(connection: Connection, name: str, last: dict[str, Any]) -> None:
    row = {
        "name": name,
        "event_id": last["event_id"],
        "stream_ms": last["stream_ms"],
        "stream_seq": last["stream_seq"],
        "updated_at": datetime.now(UTC),
    }

    def only_forward(table: Any, excluded: Any) -> Any:
        # Another writer may have gone further already; never move the cursor back.
        return or_(
            table.c.stream_ms < excluded.stream_ms,
            and_(table.c.stream_ms == excluded.stream_ms, table.c.stream_seq < excluded.stream_seq),
        )

    upsert(connection, CURSORS, [row], "name", only_if=only_forward)
