"""Opening the history database, SQLite's WAL mode, and SQL errors turned into domain errors."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from router.errors import InvalidArgument, Unavailable
from router.history import HistoryWriter, get_ticket, open_database, ticket_timeline
from router.settings import Settings


def test_the_default_sqlite_file_lives_in_the_data_dir_in_wal_mode(data_dir: Path) -> None:
    url = Settings(data_dir=data_dir / "nested").history_url
    engine = open_database(url)
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
    engine.dispose()
    assert (data_dir / "nested" / "history.sqlite3").is_file()


def test_opening_twice_keeps_the_data(history: Engine, history_url: str) -> None:
    with history.begin() as connection:
        connection.execute(
            text("INSERT INTO rule_versions VALUES ('r', 'yaml', 'x', :t, '', 1)"),
            {"t": "2026-01-01 00:00:00"},
        )
    again = open_database(history_url)
    with again.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM rule_versions")).scalar_one() == 1
    again.dispose()


def closed_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize(
    "url", ["mysql://user@localhost/history", "not a url", "mongodb://localhost"]
)
def test_unsupported_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        open_database(url)
    assert refused.value.field == "database_url"


def test_an_unreachable_postgres_is_unavailable() -> None:
    with pytest.raises(Unavailable, match="history database is unavailable"):
        open_database(f"postgresql://nobody@127.0.0.1:{closed_port()}/history")


def test_queries_on_an_unreachable_database_are_unavailable() -> None:
    engine = create_engine(f"postgresql+psycopg://nobody@127.0.0.1:{closed_port()}/h")
    with pytest.raises(Unavailable):
        get_ticket(engine, "t1")
    with pytest.raises(Unavailable):
        HistoryWriter(engine, source=None).cursor()  # type: ignore[arg-type]
    engine.dispose()


@pytest.mark.postgres
def test_a_connection_killed_by_the_server_is_replaced(postgres_url: str) -> None:
    engine = open_database(postgres_url)
    with engine.connect() as victim, engine.connect() as killer:
        pid = victim.execute(text("SELECT pg_backend_pid()")).scalar_one()
        victim.close()  # back to the pool, where it will die
        killer.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        killer.invalidate()  # leave only the dead connection in the pool
    # The pool hands out the dead connection next; pre-ping notices and reconnects.
    assert ticket_timeline(engine, "t1") == []
    engine.dispose()
