"""History fixtures shared by the router tests: one empty database on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine
from sqlmodel import SQLModel

from router.history import open_database


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def history_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of an empty history database: a SQLite file, or the session's PostgreSQL emptied."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'history.sqlite3'}"
    url: str = request.getfixturevalue("postgres_url")
    import router.history.models  # noqa: F401  (the tables to drop)

    admin = create_engine(url)
    SQLModel.metadata.drop_all(admin)
    admin.dispose()
    return url


@pytest.fixture
def history(history_url: str) -> Iterator[Engine]:
    """An engine on an empty history database with its tables created."""
    engine = open_database(history_url)
    yield engine
    engine.dispose()
