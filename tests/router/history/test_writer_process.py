"""The history writer process: drains beside its router, is started again, ends with it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import redis

from queues.keys import Keys
from queues.store import QueueStore
from router.history.database import open_database
from router.history.lease import WriterLease
from router.history.queries import ticket_timeline
from router.history.writer_process import WriterProcess


def enqueue_one(redis_url: str) -> str:
    """A new ticket in a queue (its `enqueued` event on the stream); returns its id."""
    client = redis.Redis.from_url(redis_url)
    try:
        store = QueueStore(client)
        store.set_queue_policy("writer-process-q")
        ticket_id = f"wp-{uuid.uuid4().hex[:10]}"
        store.enqueue(ticket_id, "writer-process-q", 3, "email")
        return ticket_id
    finally:
        client.close()


def stored(history_url: str, ticket_id: str, timeout: float = 20.0) -> bool:
    """Whether the ticket's events reach the history within `timeout`."""
    engine = open_database(history_url)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ticket_timeline(engine, ticket_id):
                return True
            time.sleep(0.1)
        return False
    finally:
        engine.dispose()


def lease_is_free(redis_url: str, history_url: str) -> bool:
    client = redis.Redis.from_url(redis_url)
    try:
        lease = WriterLease(client, Keys().history_writer(history_url))
        free = lease.hold()
        if free:
            lease.release()
        return free
    finally:
        client.close()


def gone(pid: int, timeout: float = 10.0) -> bool:
    """Whether the process (not a child of this one) ends within `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def test_the_writer_drains_at_low_priority_is_started_again_after_a_kill_and_stops(
    redis_url: str, tmp_path: Path
) -> None:
    history_url = f"sqlite:///{tmp_path / 'history.sqlite3'}"
    writer = WriterProcess(redis_url, history_url, nice=5)
    writer.start()
    try:
        assert stored(history_url, enqueue_one(redis_url))
        assert writer.pid is not None  # it has drained, so it has lowered its priority
        assert os.getpriority(os.PRIO_PROCESS, writer.pid) == min(19, os.nice(0) + 5)

        first = writer.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while not writer.keep_alive():  # until it is seen dead and started again
            assert time.monotonic() < deadline, "a killed writer was not started again"
            time.sleep(0.05)
        assert writer.pid not in (None, first)
        assert stored(history_url, enqueue_one(redis_url))  # the new one drains (lease lapsed)
        assert not writer.keep_alive()  # alive: left alone
    finally:
        writer.stop()
    assert writer.pid is not None and not writer.alive()
    assert lease_is_free(redis_url, history_url)  # released on the way out
    assert not writer.keep_alive()  # stopped on purpose: not started again


def test_the_writer_ends_when_its_router_is_killed(redis_url: str, tmp_path: Path) -> None:
    history_url = f"sqlite:///{tmp_path / 'history.sqlite3'}"
    router = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import time
            from router.history.writer_process import WriterProcess
            writer = WriterProcess({redis_url!r}, {history_url!r})
            writer.start()
            print(writer.pid, flush=True)
            time.sleep(600)
        """)],
        stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parents[3],
    )
    try:
        assert router.stdout is not None
        child = int(router.stdout.readline())
        assert stored(history_url, enqueue_one(redis_url))
        router.kill()  # kill -9: the router cannot stop its writer
        router.wait()
        assert gone(child), "the writer outlived its router"
        assert lease_is_free(redis_url, history_url)
    finally:
        router.kill()
