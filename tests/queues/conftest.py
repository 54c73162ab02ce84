"""Fixtures for the queue tests: a store on the session's private Redis, flushed per test."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import redis

from queues import EventReader, QueueStore
from queues.events import Event

SHORT_TIMEOUT_S = 0.3
"""Offer timeout / cool-off of queues whose expiry a test waits for (Redis server time)."""


@pytest.fixture
def store(redis_client: redis.Redis) -> QueueStore:
    """A store with one queue, `support` (least_loaded, 30 s offers, 60 s cool-off)."""
    queue_store = QueueStore(redis_client)
    queue_store.set_queue_policy("support")
    return queue_store


@pytest.fixture
def events(redis_client: redis.Redis) -> Callable[[], list[Event]]:
    """The ticket events appended so far (agent and queue events left out), oldest first."""
    reader = EventReader(redis_client)
    return lambda: [event for event in reader.read(count=100_000) if event.ticket_id]


def wait_past(deadline_s: float) -> None:
    """Sleep until the Redis server clock is past `deadline_s` (plus a margin)."""
    time.sleep(max(0.0, deadline_s - time.time()) + 0.05)
