"""What is written to history besides events: submitted tickets, rule and model versions.

Each write is keyed (ticket id, rule version, model version) and ignores duplicates, so a
retried or repeated call stores nothing twice and never changes the first record.
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine

from router.history.database import insert_ignoring_duplicates, transaction
from router.history.models import (
    ModelVersion,
    ModelVersionCreate,
    RuleVersion,
    RuleVersionCreate,
    Ticket,
    TicketCreate,
    table_of,
)


def record_tickets(engine: Engine, tickets: list[TicketCreate]) -> set[str]:
    """Store submitted tickets; ids stored before are left as they were.

    Returns:
        The ids that were new.

    Raises:
        Unavailable: the database is unreachable.
    """
    with transaction(engine, write=True) as connection:
        return insert_tickets(connection, tickets)


def insert_tickets(connection: Connection, tickets: list[TicketCreate]) -> set[str]:
    """`record_tickets` within a transaction the caller holds (the history writer's batch)."""
    rows = [ticket.model_dump() for ticket in tickets]
    return insert_ignoring_duplicates(connection, table_of(Ticket), rows, "id")


def record_ticket(engine: Engine, ticket: TicketCreate) -> bool:
    """Store one submitted ticket; True when its id was new, False when it existed already.

    Raises:
        Unavailable: the database is unreachable.
    """
    return bool(record_tickets(engine, [ticket]))


def record_rule_version(engine: Engine, rules: RuleVersionCreate) -> bool:
    """Store a published rule set; True when the version was new.

    Raises:
        Unavailable: the database is unreachable.
    """
    with transaction(engine, write=True) as connection:
        inserted = insert_ignoring_duplicates(
            connection, table_of(RuleVersion), [rules.model_dump()], "version"
        )
    return bool(inserted)


def record_model_version(engine: Engine, model: ModelVersionCreate) -> bool:
    """Store a model artefact's version with its metrics; True when the version was new.

    Raises:
        Unavailable: the database is unreachable.
    """
    with transaction(engine, write=True) as connection:
        inserted = insert_ignoring_duplicates(
            connection, table_of(ModelVersion), [model.model_dump()], "version"
        )
    return bool(inserted)
