"""A router's recent queue states: reused while fresh, read again when old, None when unknown."""

from __future__ import annotations

import redis.asyncio

from queues.store import AsyncQueueStore
from router.queue_states import RecentQueueStates


async def test_a_fresh_state_is_reused_and_an_old_one_read_again(redis_url: str) -> None:
    client = redis.asyncio.Redis.from_url(redis_url)
    store = AsyncQueueStore(client)
    await store.set_queue_policy("support")
    states = RecentQueueStates(store, max_age_s=60.0)
    try:
        first = await states.get("support")
        await store.enqueue("t1", "support", 3, "email")

        assert first is not None and first.depth == 0
        assert await states.get("support") == first  # within max_age_s: not read again
        read = await states.read("support")
        assert read is not None and read.depth == 1
        assert await states.get("support") == read  # a read refreshes what get returns

        states.max_age_s = 0.0
        await store.enqueue("t2", "support", 3, "email")
        again = await states.get("support")
        assert again is not None and again.depth == 2
    finally:
        await client.aclose()


async def test_an_unknown_queue_has_no_state(redis_url: str) -> None:
    client = redis.asyncio.Redis.from_url(redis_url)
    states = RecentQueueStates(AsyncQueueStore(client))
    try:
        assert await states.get("nowhere") is None
    finally:
        await client.aclose()
