"""`ticket-router serve`: run one router process until SIGINT/SIGTERM.

With no `REDIS_URL` it starts a private Redis (AOF in the data directory) and stops it on
exit; with no `DATABASE_URL` the history is SQLite in the data directory; with no
`--model` it trains or loads the default model. A signal during start-up (training the
default model takes seconds) stops it at once: what has started is stopped, the model being
trained is abandoned.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import grpc
from opentelemetry.metrics import NoOpMeterProvider

from router.app import RouterApp
from router.cpu_affinity import pin_process
from router.embedded_redis import EmbeddedRedis
from router.metrics import METER_NAME, RouterMetrics
from router.scoring_adapter import ScoringAdapter
from router.server import check_exposure, create_server, load_key_ring
from router.settings import Settings
from router.telemetry import setup_telemetry

logger = logging.getLogger(__name__)

T = TypeVar("T")


async def in_daemon_thread(function: Callable[[], T], name: str) -> T:
    """`function()` in a daemon thread, awaited.

    Unlike `asyncio.to_thread`, the loop's shutdown does not wait for it: a cancelled wait
    leaves the thread to die with the process (used for a model load that may be training).
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: BaseException | None) -> None:
        if future.done():  # the wait was cancelled
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def run() -> None:
        try:
            result, error = function(), None
        except BaseException as caught:  # handed to the awaiting task
            result, error = None, caught
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody waits
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=run, name=name, daemon=True).start()
    return await future


@dataclass
class Running:
    """A started router: its app, server and bound port."""

    app: RouterApp
    server: grpc.aio.Server
    port: int
    redis_url: str


@contextlib.asynccontextmanager
async def running_router(
    settings: Settings, *, telemetry: bool = True, metrics: RouterMetrics | None = None
) -> AsyncIterator[Running]:
    """Start everything a router needs (embedded Redis if no URL), stop it all on exit.

    Args:
        settings: the router's settings.
        telemetry: wire the SDK and exporters (tests pass False and their own `metrics`).
        metrics: where to record; default the global provider's (a no-op one when disabled).
    """
    # Refuse a public bind without keys (or a bad keys file) before starting anything.
    check_exposure(settings, load_key_ring(settings))
    embedded: EmbeddedRedis | None = None
    redis_url = settings.redis_url
    if redis_url is None:
        embedded = EmbeddedRedis(settings.data_dir / "redis")
        redis_url = await asyncio.to_thread(embedded.start)
        logger.info("started embedded Redis at %s (AOF in %s)", redis_url, embedded.directory)
    pipeline = None
    try:
        writer_cpus = None  # pinned after the embedded Redis started, which keeps every CPU
        if settings.cpu_affinity:
            writer_cpus = pin_process(settings.cpu_affinity)
            logger.info("pinned to CPUs %s", sorted(settings.cpu_affinity))
        if telemetry and settings.metrics_enabled:
            pipeline = setup_telemetry("ticket-router", settings.metrics_port or None)
        scoring = await in_daemon_thread(lambda: ScoringAdapter.load(settings), "model-load")
        # RouterMetrics() reads the provider setup_telemetry installed; a no-op meter when off.
        if metrics is None:
            metrics = (
                RouterMetrics()
                if settings.metrics_enabled
                else RouterMetrics(NoOpMeterProvider().get_meter(METER_NAME))
            )
        app = RouterApp(settings=settings, redis_url=redis_url, scoring=scoring, metrics=metrics,
                        writer_cpus=writer_cpus)
        if pipeline is not None:
            app.tracing_interceptors = pipeline.tracing_interceptors()
        await app.start()
        try:
            server, port = await create_server(app, settings)
            try:
                yield Running(app, server, port, redis_url)
            finally:
                # NOT_SERVING first: a health Watch sees it while the calls in flight finish.
                await app.health.enter_graceful_shutdown()
                await server.stop(grace=5)
        finally:
            await app.stop()
    finally:
        if pipeline is not None:
            pipeline.shutdown()
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)


async def serve(settings: Settings, on_ready: Callable[[Running], None] | None = None) -> None:
    """Run until SIGINT or SIGTERM: a graceful stop once serving, an abandoned start before."""
    stop = asyncio.Event()
    serving = asyncio.Event()
    body = asyncio.create_task(_serve_until(settings, stop, serving, on_ready))

    def on_signal() -> None:
        stop.set()
        if not serving.is_set():
            body.cancel()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    await asyncio.wait([body])
    if body.cancelled():
        logger.info("stopped during start-up")
        return
    body.result()  # its error, if any


async def _serve_until(
    settings: Settings,
    stop: asyncio.Event,
    serving: asyncio.Event,
    on_ready: Callable[[Running], None] | None,
) -> None:
    """Start the router, set `serving`, run until `stop`."""
    async with running_router(settings) as running:
        # Everything loaded so far (libraries, the model) lives as long as the process: keep
        # it out of the collector's full passes, which would otherwise walk its ~200,000
        # objects (about 0.25 s with the default model here) while RPCs wait.
        gc.collect()  # what is garbage now is freed, not kept for ever
        gc.freeze()
        serving.set()
        if on_ready is not None:
            on_ready(running)
        await stop.wait()


def data_dir_option(value: Path | None) -> Path | None:
    """Expand `~` in a --data-dir flag."""
    return value.expanduser() if value is not None else None
