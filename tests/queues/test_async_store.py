"""The asyncio store runs the same scripts with the same results and errors; Redis down is
Unavailable for both stores."""

from __future__ import annotations

import pytest
import redis
import redis.asyncio
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.retry import Retry

from queues import AsyncQueueStore, QueueStore, TicketStatus
from router.embedded_redis import free_port
from router.errors import CapacityFull, NotOfferHolder, Unavailable


async def test_async_store_full_ticket_life(redis_url: str) -> None:
    client = redis.asyncio.Redis.from_url(redis_url)
    store = AsyncQueueStore(client)
    try:
        await store.set_queue_policy("support", offer_timeout_s=10)
        await store.upsert_agent("ann", ["support"], {"french": 1}, {"email": 1})
        created = await store.enqueue("t1", "support", 2, "email", skills={"french": 1})
        assert created.created and not (await store.enqueue("t1", "support", 2, "email")).created
        await store.enqueue("t2", "support", 2, "email")
        offer = await store.assign("support")
        assert offer is not None and offer.ticket_id == "t1"
        assert [o.ticket_id for o in await store.pending_offers("ann")] == ["t1"]
        with pytest.raises(NotOfferHolder):
            await store.reject("t2", "ann")  # t2 was never offered to ann
        with pytest.raises(CapacityFull):
            await store.offer_to("t2", "ann")
        assignment = await store.accept("t1", "ann")
        assert assignment.agent_id == "ann"
        done = await store.complete("t1", "ann")
        assert done.status is TicketStatus.COMPLETED
        assert (await store.assign_for_agent("ann")).ticket_id == "t2"  # type: ignore[union-attr]
        assert (await store.queue_stats("support")).depth == 0
        assert [c.agent_id for c in await store.explain_candidates("t2")] == ["ann"]
        assert (await store.get_agent("ann")).load == {"email": 1}  # type: ignore[union-attr]
        assert [q.name for q in await store.list_queues()] == ["support"]
        assert (await store.get_ticket("t1")).status is TicketStatus.COMPLETED  # type: ignore[union-attr]
    finally:
        await client.aclose()


def test_sync_store_reports_unreachable_redis_as_unavailable() -> None:
    store = QueueStore(redis.Redis(port=free_port(), retry=Retry(NoBackoff(), 0)))
    with pytest.raises(Unavailable, match="Redis is unavailable"):
        store.enqueue("t1", "support", 1, "email")
    with pytest.raises(Unavailable):
        store.get_ticket("t1")


async def test_async_store_reports_unreachable_redis_as_unavailable() -> None:
    client = redis.asyncio.Redis(port=free_port(), retry=AsyncRetry(NoBackoff(), 0))
    try:
        with pytest.raises(Unavailable):
            await AsyncQueueStore(client).assign("support")
    finally:
        await client.aclose()
