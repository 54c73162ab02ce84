"""Fan-out of offer events to the agents' open `StreamOffers` calls in this process.

One task per router process tails the queues' event stream; each agent's stream subscribes
here. Offers made by any router process reach the agent connected to any other.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator

import redis
import redis.asyncio

from queues.events import AsyncEventReader, Event, EventType
from router.errors import Unavailable
from router.tasks import cancel_and_wait

logger = logging.getLogger(__name__)

AGENT_EVENTS = frozenset(
    {
        EventType.OFFERED,
        EventType.REJECTED,
        EventType.OFFER_EXPIRED,
        EventType.OFFER_REVOKED,
        EventType.TRANSFERRED,
        EventType.CANCELLED,
    }
)
"""Events an agent's desktop needs: a new offer, or one it held going away."""

SUBSCRIBER_BUFFER = 1_000
"""Events buffered per connected agent; a desktop that falls this far behind is dropped."""


class OfferHub:
    """Tails the event stream and hands each agent its events.

    Args:
        reader: the event stream of the tenant.
        client: the Redis client, to find the newest event at start.
        stream_key: the event stream's key (`QueueStore.keys.events`).
        block_ms: how long one read waits for new events.
    """

    def __init__(
        self,
        reader: AsyncEventReader,
        client: redis.asyncio.Redis,
        stream_key: str,
        *,
        block_ms: int = 1_000,
    ) -> None:
        self.reader = reader
        self.client = client
        self.stream_key = stream_key
        self.block_ms = block_ms
        self._subscribers: dict[str, set[asyncio.Queue[Event]]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None
        self._wanted = asyncio.Event()  # set while some desktop is connected
        self._waking = asyncio.Lock()
        self.cursor = "0-0"

    async def start(self) -> None:
        """Start the tail; it reads the stream only while some agent is subscribed."""
        self._task = asyncio.create_task(self._run(), name="offer-hub")

    async def latest_id(self) -> str:
        """The newest event's id ("0-0" when none, or Redis does not answer)."""
        return await self._latest_id()

    async def _latest_id(self) -> str:
        try:
            newest = await self.client.xrevrange(self.stream_key, count=1)
        except redis.RedisError:
            return "0-0"
        if not newest:
            return "0-0"
        entry_id = newest[0][0]
        return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)

    @contextlib.asynccontextmanager
    async def subscribe(self, agent_id: str) -> AsyncIterator[asyncio.Queue[Event]]:
        """A queue receiving every agent event of `agent_id` from now on."""
        queue: asyncio.Queue[Event] = asyncio.Queue(SUBSCRIBER_BUFFER)
        async with self._waking:
            if not self._wanted.is_set():
                # Nobody was listening, so the tail was idle: start it from the newest event,
                # before the caller reads the offers already pending.
                self.cursor = await self._latest_id()
                self._wanted.set()
        self._subscribers[agent_id].add(queue)
        try:
            yield queue
        finally:
            self._subscribers[agent_id].discard(queue)
            if not self._subscribers[agent_id]:
                del self._subscribers[agent_id]
            if not self._subscribers:
                self._wanted.clear()

    async def _run(self) -> None:
        while True:
            await self._wanted.wait()
            try:
                events = await self.reader.read(self.cursor, 500, self.block_ms)
            except Unavailable:
                await asyncio.sleep(0.5)
                continue
            except Exception:  # keep tailing whatever one bad entry does
                logger.exception("offer hub read failed")
                await asyncio.sleep(0.5)
                continue
            if not self._wanted.is_set():
                continue  # everyone left while reading; the next subscriber starts afresh
            for event in events:
                self.cursor = event.event_id
                if event.agent_id and event.type in AGENT_EVENTS:
                    for queue in list(self._subscribers.get(event.agent_id, ())):
                        with contextlib.suppress(asyncio.QueueFull):
                            queue.put_nowait(event)
