"""The event history in SQL (sqlmodel): SQLite by default, PostgreSQL by URL.

    open_database(url) -> Engine                 create missing tables; SQLite in WAL mode
    HistoryWriter(engine, source).drain()        events from the queues' stream, idempotently
                                                 (and with `submissions=`, the submitted tickets)
    record_ticket / record_rule_version / record_model_version   keyed, duplicates ignored
    get_ticket, ticket_timeline, list_rule_versions, get_rule_version, list_model_versions,
    ticket_durations                             what the service and the reports read

SQL connection errors leave this package as `router.errors.Unavailable`.
"""

from router.history.database import open_database, sql_errors, transaction
from router.history.models import (
    Agent,
    HistoryEvent,
    ModelVersion,
    ModelVersionCreate,
    RuleVersion,
    RuleVersionCreate,
    Ticket,
    TicketCreate,
    TicketDetails,
    TicketDurations,
    TicketProjection,
)
from router.history.queries import (
    get_rule_version,
    get_ticket,
    list_model_versions,
    list_rule_versions,
    ticket_durations,
    ticket_timeline,
)
from router.history.records import (
    record_model_version,
    record_rule_version,
    record_ticket,
    record_tickets,
)
from router.history.writer import STREAM_START, EventSource, HistoryWriter

__all__ = [
    "STREAM_START",
    "Agent",
    "EventSource",
    "HistoryEvent",
    "HistoryWriter",
    "ModelVersion",
    "ModelVersionCreate",
    "RuleVersion",
    "RuleVersionCreate",
    "Ticket",
    "TicketCreate",
    "TicketDetails",
    "TicketDurations",
    "TicketProjection",
    "get_rule_version",
    "get_ticket",
    "list_model_versions",
    "list_rule_versions",
    "open_database",
    "record_model_version",
    "record_rule_version",
    "record_ticket",
    "record_tickets",
    "sql_errors",
    "ticket_durations",
    "ticket_timeline",
    "transaction",
]
