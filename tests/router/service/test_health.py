"""grpc.health.v1 follows what the router can do: NOT_SERVING while its Redis is down and while
it shuts down, SERVING again when Redis is back."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from clients.client import AsyncRouterClient
from clients.requests import make_ticket
from router.embedded_redis import EmbeddedRedis
from router.health import RedisHealth
from router.serve import running_router
from router.services import SERVICE_NAMES
from tests.router.service.conftest import eventually, router_settings
from tests.router.service.processes import RouterProcess

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING

NOTICE_S = 5.0
"""How soon a probe must see a change (the router pings Redis every second)."""


@asynccontextmanager
async def router_on(
    redis: EmbeddedRedis, data_dir: Path, model_dir: Path
) -> AsyncIterator[tuple[health_pb2_grpc.HealthStub, AsyncRouterClient]]:
    """A router on `redis`, with a health stub and a client connected to it."""
    settings = router_settings(redis.url, data_dir, model_dir)
    async with (
        running_router(settings, telemetry=False) as running,
        grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel,
        AsyncRouterClient(f"127.0.0.1:{running.port}") as client,
    ):
        yield health_pb2_grpc.HealthStub(channel), client


async def statuses(health: health_pb2_grpc.HealthStub) -> set[int]:
    """The statuses Check answers for the server ("") and each of its services."""
    answers = [
        await health.Check(health_pb2.HealthCheckRequest(service=name), timeout=2)
        for name in ("", *SERVICE_NAMES)
    ]
    return {answer.status for answer in answers}


async def test_check_is_not_serving_while_redis_is_down_and_serving_once_it_is_back(
    private_redis: EmbeddedRedis, data_dir: Path, model_dir: Path
) -> None:
    async with router_on(private_redis, data_dir, model_dir) as (health, client):
        assert await statuses(health) == {SERVING}

        await asyncio.to_thread(private_redis.stop)

        async def not_serving() -> bool:
            return await statuses(health) == {NOT_SERVING}  # the router still answers

        await eventually(not_serving, timeout=NOTICE_S)

        await asyncio.to_thread(private_redis.start)

        async def serving() -> bool:
            return await statuses(health) == {SERVING}

        await eventually(serving, timeout=NOTICE_S)
        ticket = make_ticket("t-after-outage", "Cannot log in", "The reset mail never arrives.")
        assert (await client.submit_ticket(ticket, timeout=5)).created


async def test_watch_sees_not_serving_then_serving(
    private_redis: EmbeddedRedis, data_dir: Path, model_dir: Path
) -> None:
    async with router_on(private_redis, data_dir, model_dir) as (health, _):
        stream = health.Watch(health_pb2.HealthCheckRequest(service=SERVICE_NAMES[0]))
        assert (await asyncio.wait_for(stream.read(), NOTICE_S)).status == SERVING

        await asyncio.to_thread(private_redis.stop)
        assert (await asyncio.wait_for(stream.read(), NOTICE_S)).status == NOT_SERVING

        await asyncio.to_thread(private_redis.start)
        assert (await asyncio.wait_for(stream.read(), NOTICE_S)).status == SERVING
        stream.cancel()


async def test_sigterm_turns_health_not_serving_before_the_server_stops(
    redis_url: str, tmp_path: Path, model_dir: Path
) -> None:
    router = RouterProcess(redis_url, tmp_path / "router", model_dir)
    try:
        await asyncio.to_thread(router.wait_ready)
        async with grpc.aio.insecure_channel(router.target) as channel:
            stream = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest())
            assert (await asyncio.wait_for(stream.read(), NOTICE_S)).status == SERVING

            router.process.send_signal(signal.SIGTERM)
            assert (await asyncio.wait_for(stream.read(), NOTICE_S)).status == NOT_SERVING
            stream.cancel()  # the server waits for open calls (up to its grace) before it ends
        assert await asyncio.to_thread(router.process.wait, 20) == 0, router.log_tail()
    finally:
        await asyncio.to_thread(router.stop)


async def test_a_redis_that_answers_with_an_error_is_not_serving(redis_url: str) -> None:
    broken = RedisHealth(redis_url.rsplit("/", 1)[0] + "/99999", SERVICE_NAMES, 1.0)  # bad db
    try:
        assert await broken.check() is False
        answer = await broken.servicer.Check(health_pb2.HealthCheckRequest(service=""), None)
        assert answer.status == NOT_SERVING
    finally:
        await broken.aclose()
