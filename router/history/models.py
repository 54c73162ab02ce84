"""The history tables (sqlmodel) and the input/output shapes around them.

Times are timezone-aware UTC datetimes in Python; SQLite stores them as naive UTC text,
PostgreSQL as `timestamptz`. Priorities are "P1".."P4", channels and states lower-case words
("email", "waiting"), as in the proto's enum names without their prefix.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Dialect, Index, Table
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

MAX_ID_CHARS = 128
"""Longest ticket, agent or queue id (the API refuses longer ones)."""


class UtcDateTime(TypeDecorator[datetime]):
    """A datetime that always comes back timezone-aware UTC, on SQLite and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: history times must be timezone-aware")
        value = value.astimezone(UTC)
        # SQLite keeps no zone; store naive UTC so that text order is time order.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def table_of(model: type[SQLModel]) -> Table:
    """The SQLAlchemy table of a `table=True` model (for Core statements)."""
    return model.__table__  # type: ignore[attr-defined]  # set by SQLModel's metaclass


def _time(**kwargs: Any) -> Any:
    return Field(default=None, sa_type=UtcDateTime, **kwargs)


def _json(default_factory: Any) -> Any:
    return Field(default_factory=default_factory, sa_type=JSON)


# --- tickets: what was submitted, scored and decided (written once per ticket id) -------------


class TicketBase(SQLModel):
    """A submitted ticket with its scores and routing decision, as first submitted."""

    subject: str = ""
    body: str = ""
    channel: str = ""
    customer_id: str = ""
    customer_tier: str = ""
    product: str = ""
    language: str = ""
    created_at: datetime | None = _time()
    attributes: dict[str, str] = _json(dict)
    # scores
    category: str = ""
    category_confidence: float = 0.0
    category_probabilities: dict[str, float] = _json(dict)
    priority: str = Field("", description="Decided priority, 'P1'..'P4'.")
    priority_probabilities: dict[str, float] = _json(dict)
    sla_risk: float = 0.0
    model_version: str = ""
    # routing decision
    queue: str = Field("", description="Queue decided on submission.")
    required_skills: dict[str, int] = _json(dict)
    tags: list[str] = _json(list)
    rule_id: str = ""
    rule_version: int = Field(0, sa_type=BigInteger)
    routing_reason: str = Field("", description="'rule', 'category_map', 'triage', 'default'.")
    submitted_at: datetime | None = _time()


class Ticket(TicketBase, table=True):
    """Table `tickets`: one row per ticket id, never changed after the first submission."""

    __tablename__ = "tickets"

    id: str = Field(primary_key=True, max_length=MAX_ID_CHARS)


class TicketCreate(TicketBase):
    """Input of `record_ticket`: the ticket id and everything known at submission."""

    id: str = Field(min_length=1, max_length=MAX_ID_CHARS)


# --- ticket projections: where each ticket is, folded from its events -------------------------


class TicketProjectionBase(SQLModel):
    """A ticket's current state and milestones, derived only from its events."""

    state: str = Field("", description="'waiting', 'offered', 'assigned', 'resolved', 'cancelled'.")
    queue: str = ""
    priority: str = ""
    agent_id: str | None = None
    channel: str = ""
    submitted_at: datetime | None = _time()
    first_offered_at: datetime | None = _time()
    accepted_at: datetime | None = _time(description="First acceptance.")
    first_response_at: datetime | None = _time()
    resolved_at: datetime | None = _time()
    cancelled_at: datetime | None = _time()
    offers: int = 0
    rejections: int = 0
    expirations: int = 0
    transfers: int = 0
    escalations: int = 0
    last_event_id: str = ""
    updated_at: datetime | None = _time()


class TicketProjection(TicketProjectionBase, table=True):
    """Table `ticket_projections`: rewritten from the events whenever a ticket gets new ones."""

    __tablename__ = "ticket_projections"
    __table_args__ = (Index("ix_ticket_projections_queue_priority", "queue", "priority"),)

    ticket_id: str = Field(primary_key=True, max_length=MAX_ID_CHARS)


class TicketDetails(TicketProjectionBase):
    """Output of `get_ticket`: the projection plus the submitted ticket, when recorded."""

    ticket_id: str
    ticket: TicketCreate | None = None


# --- events ------------------------------------------------------------------------------------


class HistoryEventBase(SQLModel):
    """One event of the queues' event stream."""

    type: str = Field(max_length=64)
    ticket_id: str | None = Field(default=None, max_length=MAX_ID_CHARS)
    queue: str = ""
    agent_id: str | None = Field(default=None, max_length=MAX_ID_CHARS)
    time: datetime = Field(sa_type=UtcDateTime)
    data: dict[str, Any] = _json(dict)


class HistoryEvent(HistoryEventBase, table=True):
    """Table `events`: keyed by the stream entry id, so writing an event twice stores it once."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_ticket_order", "ticket_id", "stream_ms", "stream_seq"),
        Index("ix_events_agent_type_order", "agent_id", "type", "stream_ms", "stream_seq"),
    )

    event_id: str = Field(primary_key=True, max_length=48)
    stream_ms: int = Field(sa_type=BigInteger, description="Stream id's milliseconds part.")
    stream_seq: int = Field(sa_type=BigInteger, description="Stream id's sequence part.")


# --- agents --------------------------------------------------------------------------------------


class AgentBase(SQLModel):
    """An agent as its latest events describe it."""

    skills: dict[str, int] = _json(dict)
    capacity: dict[str, int] = _json(dict)
    queues: list[str] = _json(list)
    status: str = Field("", description="'available', 'away', 'offline'.")
    updated_at: datetime | None = _time()


class Agent(AgentBase, table=True):
    """Table `agents`: rewritten from the agent's latest `agent_updated`/`agent_status` events."""

    __tablename__ = "agents"

    id: str = Field(primary_key=True, max_length=MAX_ID_CHARS)


# --- rule and model versions ---------------------------------------------------------------------


class RuleVersionBase(SQLModel):
    """A published rule set."""

    text: str
    format: str = Field(description="'yaml' or 'toml'.")
    sha256: str = Field(max_length=64)
    published_at: datetime = Field(sa_type=UtcDateTime)
    published_by: str = ""


class RuleVersion(RuleVersionBase, table=True):
    """Table `rule_versions`: every rule set ever published, by version number."""

    __tablename__ = "rule_versions"

    version: int = Field(primary_key=True, sa_type=BigInteger, ge=1)


class RuleVersionCreate(RuleVersionBase):
    """Input of `record_rule_version`."""

    version: int = Field(ge=1)


class ModelVersionBase(SQLModel):
    """A trained model artefact the router has loaded."""

    created_at: datetime = Field(sa_type=UtcDateTime)
    path: str = ""
    metrics: dict[str, Any] = _json(dict)
    feature_schema: dict[str, Any] = _json(dict)


class ModelVersion(ModelVersionBase, table=True):
    """Table `model_versions`: every model artefact version the routers have used."""

    __tablename__ = "model_versions"

    version: str = Field(primary_key=True, max_length=MAX_ID_CHARS)


class ModelVersionCreate(ModelVersionBase):
    """Input of `record_model_version`."""

    version: str = Field(min_length=1, max_length=MAX_ID_CHARS)


# --- the writer's cursor -------------------------------------------------------------------------


class WriterCursor(SQLModel, table=True):
    """Table `history_cursors`: the last stream entry each writer has stored, per stream name."""

    __tablename__ = "history_cursors"

    name: str = Field(primary_key=True, max_length=MAX_ID_CHARS)
    event_id: str = Field(max_length=48)
    stream_ms: int = Field(sa_type=BigInteger)
    stream_seq: int = Field(sa_type=BigInteger)
    updated_at: datetime = Field(sa_type=UtcDateTime)


# --- report rows --------------------------------------------------------------------------------


class TicketDurations(SQLModel):
    """Output of `ticket_durations`: one ticket's waits in seconds since submission."""

    ticket_id: str
    queue: str
    priority: str
    channel: str
    state: str
    submitted_at: datetime | None
    time_to_first_offer_s: float | None
    time_to_accept_s: float | None
    time_to_first_response_s: float | None
    time_to_resolve_s: float | None
    offers: int
    rejections: int
    expirations: int
    transfers: int
    escalations: int
