"""The event outbox: entries written inside the scripts, read by cursor and consumer group."""

from __future__ import annotations

import redis
import redis.asyncio

from queues import AsyncEventReader, EventReader, QueueStore
from queues.events import RELEASING_EVENTS, EventType


def _busy_day(store: QueueStore) -> None:
    store.upsert_agent("ann", ["support"], {}, {"email": 2})
    for n in range(3):
        store.enqueue(f"t{n}", "support", 2, "email")
    store.assign("support")
    store.accept("t0", "ann")
    store.complete("t0", "ann")


def test_every_state_change_appends_one_event_with_server_time(
    store: QueueStore, redis_client: redis.Redis
) -> None:
    _busy_day(store)

    events = EventReader(redis_client).read(count=1000)

    types = [e.type for e in events if e.ticket_id]
    assert types == ["enqueued"] * 3 + ["offered", "accepted", "completed"]
    assert len({e.event_id for e in events}) == len(events)
    assert all(e.ts > 1e9 for e in events)
    offered = next(e for e in events if e.type == EventType.OFFERED)
    assert offered.data["load"] == 1 and offered.data["capacity"] == 2
    assert EventType.COMPLETED in RELEASING_EVENTS


def test_cursor_reads_resume_after_the_last_event(
    store: QueueStore, redis_client: redis.Redis
) -> None:
    reader = EventReader(redis_client)
    _busy_day(store)
    first = reader.read(count=3)
    rest = reader.read(after=first[-1].event_id, count=1000)

    assert len(first) == 3
    assert [e.event_id for e in first + rest] == [e.event_id for e in reader.read(count=1000)]
    assert reader.read(after=rest[-1].event_id, block_ms=50) == []


def test_consumer_group_reads_acks_and_reclaims(
    store: QueueStore, redis_client: redis.Redis
) -> None:
    reader = EventReader(redis_client)
    assert reader.ensure_group("history") is True
    assert reader.ensure_group("history") is False
    _busy_day(store)

    batch = reader.read_group("history", "writer-1", count=5)
    assert len(batch) == 5
    assert reader.ack("history", *[e.event_id for e in batch[:2]]) == 2
    assert len(reader.read_group("history", "writer-1", pending=True)) == 3

    # writer-1 dies; writer-2 takes over its unacknowledged events.
    claimed = reader.claim_stale("history", "writer-2", min_idle_ms=0)
    assert [e.event_id for e in claimed] == [e.event_id for e in batch[2:]]
    assert reader.read_group("history", "writer-1", pending=True) == []
    assert reader.ack("history") == 0


async def test_async_reader_reads_the_same_events(
    store: QueueStore, redis_client: redis.Redis, redis_url: str
) -> None:
    _busy_day(store)
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        reader = AsyncEventReader(client)
        events = await reader.read(count=1000)
        assert await reader.ensure_group("metrics", start="0")
        grouped = await reader.read_group("metrics", "m1", count=1000, block_ms=10)
        assert await reader.ack("metrics", *[e.event_id for e in grouped]) == len(grouped)
        assert await reader.claim_stale("metrics", "m2", min_idle_ms=0) == []
    finally:
        await client.aclose()
    assert [e.event_id for e in events] == [e.event_id for e in grouped]
    assert events == EventReader(redis_client).read(count=1000)
