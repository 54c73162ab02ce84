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
