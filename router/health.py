"""The grpc.health.v1 status of a router: SERVING while its Redis answers, NOT_SERVING otherwise.

Every call needs Redis, so a router that cannot reach it should get no traffic: a load balancer
or Kubernetes probe reads this (Check, or Watch for each change) and routes around it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

import redis.asyncio
from grpc_health.v1 import health, health_pb2

from queues.execution import redis_errors
from router.errors import Unavailable

logger = logging.getLogger(__name__)

PING_TIMEOUT_S = 2.0
"""A ping unanswered this long counts as Redis down (a hung server, not only a refused one)."""

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class RedisHealth:
    """Sets the health of the server ("") and of each service from a ping of Redis.

    It pings on a connection of its own: a pool busy with calls is not an outage.

    Args:
        redis_url: the router's Redis.
        services: full names of the services reported besides "".
        interval_s: time between two pings.
    """

    def __init__(self, redis_url: str, services: Iterable[str], interval_s: float) -> None:
        self.servicer = health.aio.HealthServicer()
        self.interval_s = interval_s
        self._names = ("", *services)
        self._client = redis.asyncio.Redis.from_url(
            redis_url, socket_timeout=PING_TIMEOUT_S, socket_connect_timeout=PING_TIMEOUT_S
        )
        self._serving: bool | None = None  # None: not checked yet
        self._shutting_down = False

    async def check(self) -> bool:
        """Ping Redis once and set every status from the outcome; returns whether it answered."""
        try:
            async with asyncio.timeout(PING_TIMEOUT_S):
                with redis_errors():
                    await self._client.ping()
        except (Unavailable, TimeoutError, redis.RedisError) as error:  # e.g. BUSY (a script)
            await self._set(False, str(error.__cause__ or error) or "no answer in time")
            return False
        await self._set(True, "")
        return True

    async def run(self) -> None:
        """Check every `interval_s` until cancelled."""
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.check()
            except Exception:  # keep watching whatever one check does
                logger.exception("health check failed")

    async def aclose(self) -> None:
        """Close the connection (after `run` ended)."""
        await self._client.aclose()

    async def enter_graceful_shutdown(self) -> None:
        """NOT_SERVING for good, so that probes move traffic away while calls finish."""
        self._shutting_down = True
        logger.info("health: NOT_SERVING, shutting down")
        await self.servicer.enter_graceful_shutdown()

    async def _set(self, serving: bool, reason: str) -> None:
        """Set every status on a change (logged once, not at each ping)."""
        if self._shutting_down or serving == self._serving:
            return
        if not serving:
            logger.warning("health: NOT_SERVING, Redis does not answer (%s)", reason)
        elif self._serving is not None:
            logger.info("health: SERVING, Redis answers again")
        self._serving = serving
        for name in self._names:
            await self.servicer.set(name, SERVING if serving else NOT_SERVING)
