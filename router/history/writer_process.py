"""The history writer of a router, in a process of its own.

Draining the event stream into SQL is Python work (SQLAlchemy) that, in a thread, held the
router's GIL while RPCs waited: switched off, the router's CPU per ticket fell by about 15 %.
In its own process it runs beside the router on the other core. The router starts it, starts
it again if it dies, and stops it; it ends by itself when the router is gone (even after a
kill -9), releasing the writer lease so that another router takes over at once.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import threading
from collections.abc import Iterator
from multiprocessing.context import SpawnProcess
from multiprocessing.synchronize import Event as ProcessEvent

import redis

from queues.events import EventReader
from queues.keys import Keys
from queues.store import QueueStore
from router.cpu_affinity import unpin_process
from router.errors import Unavailable
from router.history.database import open_database
from router.history.lease import STANDBY_WAIT_S, WriterLease
from router.history.submissions import RedisSubmissions
from router.history.writer import HistoryWriter

logger = logging.getLogger(__name__)

GATHER_S = 0.25
"""After a batch short of full, events gather this long: a SQL transaction costs far more than
the rows in it, so one per many events, not one per event."""

PARENT_CHECK_S = 0.5
"""How often the writer looks whether its router is still alive."""

STOP_WAIT_S = 5.0
"""How long a stopping router waits for its writer to finish its batch before killing it."""


def drain_forever(redis_url: str, history_url: str, stop: threading.Event) -> None:
    """Drain the event stream into the history while holding the writer lease, until `stop`.

    Routers writing to one database take turns under one lease; an outage of Redis or of the
    database is waited out.
    """
    engine = open_database(history_url)
    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    writer = HistoryWriter(engine, EventReader(client),
                           submissions=RedisSubmissions(QueueStore(client)))
    lease = WriterLease(client, Keys().history_writer(history_url))
    try:
        while not stop.is_set():
            try:
                if not lease.hold():  # another router is the writer
                    stop.wait(STANDBY_WAIT_S)
                    continue
                stored = writer.drain_once(block_ms=500)
            except Unavailable:
                stop.wait(1.0)
                continue
            if stored < writer.batch_size:
                stop.wait(GATHER_S)
    finally:
        with contextlib.suppress(Unavailable):
            lease.release()
        client.close()
        engine.dispose()


def _main(
    redis_url: str, history_url: str, parent: int, stop: ProcessEvent, *, nice: int,
    cpus: frozenset[int] | None,
) -> None:
    """The writer process: drain until the router says stop, or is gone."""
    os.nice(nice)
    unpin_process(cpus)
    orphaned = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: orphaned.set())

    def watch_parent() -> None:
        while not orphaned.wait(PARENT_CHECK_S):
            if os.getppid() != parent or stop.is_set():
                orphaned.set()

    threading.Thread(target=watch_parent, name="parent-watch", daemon=True).start()
    drain_forever(redis_url, history_url, orphaned)


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT meanwhile (a process started now inherits that); main thread only."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class WriterProcess:
    """Runs `drain_forever` in a child process (spawned: no state shared with the router).

    Args:
        redis_url: the queues' Redis.
        history_url: the history database.
        nice: how much the process lowers its CPU priority: the history can wait a little for
            a core, routing calls should not.
        cpus: the CPUs it runs on, for a router pinned to fewer (None: the router's).
    """

    def __init__(
        self, redis_url: str, history_url: str, nice: int = 0,
        cpus: frozenset[int] | None = None,
    ) -> None:
        self.redis_url = redis_url
        self.history_url = history_url
        self.nice = nice
        self.cpus = cpus
        self._context = multiprocessing.get_context("spawn")
        self._stop = self._context.Event()
        self._process: SpawnProcess | None = None
        self.restarts = 0

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def alive(self) -> bool:
        return self._process is not None and self._process.is_alive()

    def start(self) -> None:
        """Start the process (again, after it died)."""
        self._process = self._context.Process(
            target=_main,
            args=(self.redis_url, self.history_url, os.getpid(), self._stop),
            kwargs={"nice": self.nice, "cpus": self.cpus},
            name="history-writer",
            daemon=True,
        )
        with _sigint_ignored():  # from its first instant: Ctrl-C is the router's to handle
            self._process.start()

    def keep_alive(self) -> bool:
        """Start the process again if it died; returns whether it had to."""
        if self._stop.is_set() or self._process is None or self.alive():
            return False
        logger.warning("history writer exited with %s; starting it again",
                       self._process.exitcode)
        self.restarts += 1
        self.start()
        return True

    def stop(self) -> None:
        """Let the writer finish its batch and release the lease; kill it if it does not."""
        self._stop.set()
        if self._process is None:
            return
        self._process.join(STOP_WAIT_S)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
