"""Opening the history database (SQLite in WAL mode or PostgreSQL) and the one SQL error gate."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, InterfaceError, NoSuchModuleError, OperationalError
from sqlmodel import SQLModel

from router.errors import InvalidArgument, Unavailable
from router.history import models  # noqa: F401  (registers the tables in SQLModel.metadata)

SQLITE_BUSY_TIMEOUT_MS = 10_000
"""How long a SQLite writer waits for another process's write transaction before failing."""

SCHEMA_LOCK_KEY = 0x7469636B6574  # "ticket" in hex: any constant shared by all routers
"""PostgreSQL advisory lock that serialises concurrent `create_all` of several processes."""

_WRITE_OPTION = "history_write"


@contextmanager
def sql_errors() -> Iterator[None]:
    """Translate SQLAlchemy's connection-level errors into `Unavailable`, once, here.

    Raises:
        Unavailable: the database is unreachable, locked for too long, or dropped the connection.
    """
    try:
        yield
    except (OperationalError, InterfaceError) as error:
        raise Unavailable(
            f"the history database is unavailable ({error.orig or error}); check that it is "
            "running and that DATABASE_URL points at it"
        ) from error


def open_database(url: str) -> Engine:
    """Connect to the history database and create any missing tables.

    Args:
        url: a SQLAlchemy URL: `sqlite:///path/history.sqlite3` (the directory is created) or
            `postgresql+psycopg://user@host/db` (`postgresql://` is taken to mean psycopg 3).

    Returns:
        An engine for the functions of `router.history`.

    Raises:
        InvalidArgument: the URL is malformed or names an unsupported database.
        Unavailable: the database cannot be reached.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as error:
        raise InvalidArgument(f"not a database URL: {url!r}", field="database_url") from error
    if parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        engine = create_engine(parsed, pool_pre_ping=True)
    elif parsed.get_backend_name() == "sqlite":
        engine = _sqlite_engine(parsed.database)
    else:
        raise InvalidArgument(
            f"unsupported history database {parsed.drivername!r}: use sqlite:///FILE or "
            "postgresql+psycopg://...",
            field="database_url",
        )
    try:
        create_schema(engine)
    except NoSuchModuleError as error:  # pragma: no cover - psycopg is a dependency
        raise InvalidArgument(f"no driver for {parsed.drivername}", field="database_url") from error
    return engine


def _sqlite_engine(database: str | None) -> Engine:
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(f"sqlite:///{database or ':memory:'}")

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" hook below choose the BEGIN; pysqlite's own is DEFERRED.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
        cursor.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoints; safe in WAL mode
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        # A write transaction takes the write lock up front: a DEFERRED one that reads first
        # and then writes fails at once with "database is locked" when another process wrote.
        immediate = connection.get_execution_options().get(_WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def create_schema(engine: Engine) -> None:
    """Create the history tables that do not exist yet (safe with several processes at once).

    Raises:
        Unavailable: the database cannot be reached.
    """
    with transaction(engine, write=True) as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
        SQLModel.metadata.create_all(connection)


@contextmanager
def transaction(engine: Engine, *, write: bool = False) -> Iterator[Connection]:
    """One database transaction, committed on success, with SQL errors translated.

    Args:
        engine: from `open_database`.
        write: the transaction writes (on SQLite it then takes the write lock at BEGIN).

    Raises:
        Unavailable: the database cannot be reached.
    """
    with sql_errors(), engine.connect() as connection:
        if write:
            connection.execution_options(**{_WRITE_OPTION: True})
        with connection.begin():
            yield connection


def insert_ignoring_duplicates(
    connection: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    key: str,
) -> set[Any]:
    """INSERT ... ON CONFLICT DO NOTHING; return the keys of the rows actually inserted."""
    if not rows:
        return set()
    statement = _dialect_insert(connection, table).on_conflict_do_nothing(index_elements=[key])
    inserted = connection.execute(statement.returning(table.c[key]), list(rows))
    return {row[0] for row in inserted}


def upsert(
    connection: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    key: str,
    *,
    only_if: Any = None,
) -> None:
    """INSERT ... ON CONFLICT DO UPDATE every column but the key (optionally only where
    `only_if(table, excluded)` holds)."""
    if not rows:
        return
    statement = _dialect_insert(connection, table)
    columns = [name for name in rows[0] if name != key]
    statement = statement.on_conflict_do_update(
        index_elements=[key],
        set_={name: statement.excluded[name] for name in columns},
        where=None if only_if is None else only_if(table, statement.excluded),
    )
    connection.execute(statement, list(rows))


def _dialect_insert(connection: Connection, table: Table) -> Any:
    if connection.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """Split `items` into lists of at most `size` (bound-parameter limits of IN lists)."""
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
