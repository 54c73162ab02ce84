"""A real router (grpc.aio on loopback, the session's Redis, SQLite) per test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from clients.client import AsyncRouterClient
from router.embedded_redis import EmbeddedRedis
from router.serve import Running, running_router
from router.settings import Settings, load_settings


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default model, trained once per test session."""
    from scoring.default_model import DEFAULT_MODEL_SUBDIR, load_or_train_default

    directory = tmp_path_factory.mktemp("model-data")
    load_or_train_default(directory)
    return directory / DEFAULT_MODEL_SUBDIR


def router_settings(
    redis_url: str, data_dir: Path, model_data: Path, **overrides: object
) -> Settings:
    """Settings of a router under test: free ports, the session Redis, SQLite in data_dir."""
    return load_settings(
        None,
        redis_url=redis_url,
        data_dir=data_dir,
        port=0,
        metrics_port=0,
        offer_timeout_s=overrides.pop("offer_timeout_s", 2.0),
        model_dir=model_data,
        **overrides,
    )


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    """A Redis of this test alone (the session's must not be stopped under other tests)."""
    server = EmbeddedRedis(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def router(redis_url: str, data_dir: Path, model_dir: Path) -> AsyncIterator[Running]:
    """A started router process (in this process) with default rules and model."""
    settings = router_settings(redis_url, data_dir, model_dir)
    async with running_router(settings, telemetry=False) as running:
        yield running


@pytest.fixture
async def client(router: Running) -> AsyncIterator[AsyncRouterClient]:
    async with AsyncRouterClient(f"127.0.0.1:{router.port}") as connected:
        yield connected


async def eventually(check: object, timeout: float = 10.0) -> None:
    """Wait until the awaitable factory `check` returns truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        if await check():  # type: ignore[operator]
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)
