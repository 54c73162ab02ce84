"""A real Redis stream as the writer's event source, and helpers that fill it like the queues do."""

from __future__ import annotations

import json
import random
from typing import Any

import redis

from queues.events import Event
from router.history import HistoryWriter, open_database


class RedisStreamSource:
    """Reads a Redis stream with XREAD, as the queues' EventReader does."""

    def __init__(self, url: str, stream: str) -> None:
        self.client = redis.Redis.from_url(url)
        self.stream = stream

    def read(self, after: str, count: int, block_ms: int | None) -> list[Event]:
        reply = self.client.xread({self.stream: after}, count=count, block=block_ms)
        return [Event.from_stream(i, fields) for _, entries in reply for i, fields in entries]


def fill_with_lifecycles(client: redis.Redis, stream: str, tickets: int, seed: int = 7) -> int:
    """Interleave the lives of many tickets (offers, rejections, expiries, transfers, answers)
    in one stream; return how many events were written."""
    rng = random.Random(seed)
    agenda: list[list[tuple[str, str | None, str, dict[str, Any]]]] = []
    for n in range(tickets):
        queue = rng.choice(["billing", "tech", "sales"])
        steps: list[tuple[str, str | None, str, dict[str, Any]]] = [
            ("enqueued", None, queue, {"priority": rng.randint(1, 4), "channel": "email"})
        ]
        for _ in range(rng.randint(0, 2)):
            agent = f"a{rng.randint(1, 9)}"
            steps.append(("offered", agent, queue, {"priority": 2}))
            steps.append((rng.choice(["rejected", "offer_expired"]), agent, queue, {}))
        if n % 7 == 0:
            queue = "escalations"
            steps.append(("transferred", None, queue, {"from_queue": steps[0][2]}))
        agent = f"a{rng.randint(1, 9)}"
        steps.append(("offered", agent, queue, {"priority": 2}))
        if n % 5 == 0:
            steps.append(("cancelled", agent, queue, {}))
        else:
            steps += [("accepted", agent, queue, {}), ("first_response", agent, queue, {})]
            steps.append(("completed", agent, queue, {}))
        agenda.append(steps)
    written = 0
    clock = 1_700_000_000_000
    pipe = client.pipeline(transaction=False)
    while any(agenda):
        n = rng.choice([i for i, steps in enumerate(agenda) if steps])
        kind, agent, queue, data = agenda[n].pop(0)
        clock += rng.randint(1, 5000)
        fields = {"type": kind, "ticket": f"t{n}", "queue": queue, "agent": agent or ""}
        fields["ts_ms"] = str(clock)
        if data:
            fields["data"] = json.dumps(data)
        pipe.xadd(stream, fields)
        written += 1
    pipe.execute()
    return written


def drain(database_url: str, redis_url: str, stream: str, batch_size: int) -> None:
    """Process entry point: drain the stream into the database until it is empty."""
    engine = open_database(database_url)
    HistoryWriter(engine, RedisStreamSource(redis_url, stream), batch_size=batch_size).drain()
    engine.dispose()


def write_every_other_batch(
    database_url: str, redis_url: str, stream: str, batch_size: int, parity: int
) -> None:
    """Process entry point: write batches 0, 2, 4... (parity 0) or 1, 3, 5... of the stream,
    as consumers of a Redis consumer group get disjoint entries, racing the other process."""
    client = redis.Redis.from_url(redis_url)
    events = [Event.from_stream(i, fields) for i, fields in client.xrange(stream)]
    engine = open_database(database_url)
    writer = HistoryWriter(engine, RedisStreamSource(redis_url, stream), cursor_name=f"p{parity}")
    for n in range(parity, len(events) // batch_size + 1, 2):
        writer.write_batch(events[n * batch_size : (n + 1) * batch_size])
    engine.dispose()
