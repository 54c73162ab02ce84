"""The history writer: idempotent replays, crashes, projections, concurrent writers."""

from __future__ import annotations

import multiprocessing
import random
import time
from datetime import UTC, datetime

import pytest
import redis
from sqlalchemy import Engine, func, select

from queues.events import Event
from router.errors import InvalidArgument
from router.history import HistoryEvent, HistoryWriter, TicketProjection, get_ticket
from router.history.models import Agent, table_of
from router.history.projection import StoredEvent, fold_ticket
from router.history.writer import STREAM_START
from tests.router.history.streams import (
    RedisStreamSource,
    drain,
    fill_with_lifecycles,
    write_every_other_batch,
)

STREAM = "test:events"


class ListSource:
    """Events held in a list: the writer's input without Redis, for exact batch control."""

    def __init__(self, events: list[Event]) -> None:
        self.events = events
        self.reads: list[str] = []

    def read(self, after: str, count: int, block_ms: int | None) -> list[Event]:
        self.reads.append(after)
        key = _key(after)
        return [e for e in self.events if _key(e.event_id) > key][:count]


def _key(event_id: str) -> tuple[int, int]:
    ms, _, seq = event_id.partition("-")
    return int(ms), int(seq)


def event(n: int, kind: str, ticket: str = "t1", agent: str | None = None, **data: object) -> Event:
    """The n-th event, n seconds after the epoch start of the test."""
    return Event(
        event_id=f"{1_700_000_000_000 + n * 1000}-{n % 3}",
        type=kind,
        ticket_id=ticket,
        queue=str(data.pop("queue", "billing")),
        agent_id=agent,
        ts=1_700_000_000 + n,
        data=dict(data),
    )


LIFECYCLE = [
    event(0, "enqueued", priority=3, channel="chat"),
    event(1, "offered", agent="a1", priority=3, channel="chat"),
    event(2, "rejected", agent="a1"),
    event(3, "offered", agent="a2"),
    event(4, "offer_expired", agent="a2"),
    event(5, "reprioritized", priority=1),
    event(6, "offered", agent="a3"),
    event(7, "accepted", agent="a3"),
    event(9, "first_response", agent="a3"),
    event(20, "completed", agent="a3"),
]


def count(engine: Engine, table: type) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(table)).scalar_one()


def at(n: int) -> datetime:
    return datetime.fromtimestamp(1_700_000_000 + n, UTC)


def test_replaying_a_batch_stores_each_event_once(history: Engine) -> None:
    writer = HistoryWriter(history, ListSource([]))
    assert writer.write_batch(LIFECYCLE) == len(LIFECYCLE)
    assert writer.write_batch(LIFECYCLE) == 0
    assert writer.write_batch(LIFECYCLE[3:6]) == 0
    assert count(history, HistoryEvent) == len(LIFECYCLE)
    assert count(history, TicketProjection) == 1
    ticket = get_ticket(history, "t1")
    assert (ticket.offers, ticket.rejections, ticket.expirations) == (3, 1, 1)


def test_projection_follows_the_lifecycle(history: Engine) -> None:
    writer = HistoryWriter(history, ListSource([]))
    writer.write_batch(LIFECYCLE[:5])
    waiting = get_ticket(history, "t1")
    assert (waiting.state, waiting.agent_id, waiting.queue) == ("waiting", None, "billing")
    assert waiting.priority == "P3"
    assert waiting.channel == "chat"
    assert waiting.first_offered_at == at(1)
    assert waiting.accepted_at is None

    writer.write_batch(LIFECYCLE[5:8])
    assigned = get_ticket(history, "t1")
    assert (assigned.state, assigned.agent_id, assigned.priority) == ("assigned", "a3", "P1")
    assert assigned.accepted_at == at(7)

    writer.write_batch(LIFECYCLE[8:])
    done = get_ticket(history, "t1")
    assert done.state == "resolved"
    assert done.submitted_at == at(0)
    assert done.first_response_at == at(9)
    assert done.resolved_at == at(20)
    assert done.last_event_id == LIFECYCLE[-1].event_id


def test_transfer_and_cancel(history: Engine) -> None:
    events = [
        event(0, "enqueued", ticket="t2", priority=2),
        event(1, "offered", ticket="t2", agent="a1"),
        event(2, "transferred", ticket="t2", agent="a1", queue="tier2", from_queue="billing"),
        event(3, "offered", ticket="t2", agent="a9", queue="tier2"),
        event(4, "cancelled", ticket="t2", agent="a9", queue="tier2"),
    ]
    HistoryWriter(history, ListSource([])).write_batch(events)
    ticket = get_ticket(history, "t2")
    assert (ticket.state, ticket.queue, ticket.agent_id) == ("cancelled", "tier2", None)
    assert (ticket.transfers, ticket.offers) == (1, 2)
    assert ticket.cancelled_at == at(4)
    assert ticket.resolved_at is None


def test_a_first_response_reported_after_resolving_keeps_the_time_it_carries(
    history: Engine,
) -> None:
    events = [
        event(0, "enqueued", ticket="t3"),
        event(1, "offered", ticket="t3", agent="a1"),
        event(2, "accepted", ticket="t3", agent="a1"),
        event(5, "completed", ticket="t3", agent="a1"),
        event(9, "first_response", ticket="t3", agent="a1", at_ms=1_700_000_005_000),
    ]
    HistoryWriter(history, ListSource([])).write_batch(events)
    ticket = get_ticket(history, "t3")
    assert ticket.first_response_at == at(5) == ticket.resolved_at


def test_batches_stored_out_of_order_give_the_same_projection(history: Engine) -> None:
    writer = HistoryWriter(history, ListSource([]))
    batches = [LIFECYCLE[i : i + 3] for i in range(0, len(LIFECYCLE), 3)]
    random.Random(3).shuffle(batches)
    for batch in batches:
        writer.write_batch(batch)
    reference = fold_ticket(
        StoredEvent(e.event_id, e.type, e.queue, e.agent_id, at(int(e.ts) - 1_700_000_000), e.data)
        for e in LIFECYCLE
    )
    stored = get_ticket(history, "t1").model_dump()
    assert {k: stored[k] for k in reference} == reference
    # The cursor never moves back: it stays at the newest event written.
    assert writer.cursor() == LIFECYCLE[-1].event_id


def test_a_new_writer_resumes_after_the_stored_cursor(history: Engine) -> None:
    source = ListSource(LIFECYCLE)
    first = HistoryWriter(history, source, batch_size=4)
    assert first.cursor() == STREAM_START
    assert first.drain_once() == 4
    # The process dies here; another one takes over with only the database to go on.
    second = HistoryWriter(history, source, batch_size=4)
    assert second.drain() == len(LIFECYCLE) - 4
    assert source.reads[1] == LIFECYCLE[3].event_id
    assert second.drain_once() == 0
    assert count(history, HistoryEvent) == len(LIFECYCLE)


def test_a_failed_batch_stores_nothing_and_is_written_on_the_next_try(history: Engine) -> None:
    writer = HistoryWriter(history, ListSource([]))
    writer.write_batch(LIFECYCLE[:3])
    broken = [*LIFECYCLE[3:6], Event("not-a-stream-id", "offered", "t1", "billing", "a1", 0.0)]
    with pytest.raises(InvalidArgument, match="not a Redis stream id"):
        writer.write_batch(broken)
    assert writer.cursor() == LIFECYCLE[2].event_id
    assert count(history, HistoryEvent) == 3
    assert writer.write_batch(LIFECYCLE[3:]) == len(LIFECYCLE) - 3


def test_agents_are_projected_from_their_latest_events(history: Engine) -> None:
    profile = {"skills": {"billing": 2}, "capacity": {"email": 5}, "queues": ["billing"]}
    events = [
        event(0, "agent_updated", ticket="", agent="a1", queue="", status="offline", **profile),
        event(1, "agent_status", ticket="", agent="a1", queue="", status="available"),
        event(2, "offered", agent="a1"),
    ]
    writer = HistoryWriter(history, ListSource([]))
    writer.write_batch(events[1:])  # the status arrives before the older profile
    writer.write_batch(events[:1])
    with history.connect() as connection:
        agent = connection.execute(select(table_of(Agent))).one()
    assert agent.id == "a1"
    assert agent.status == "available"
    assert agent.skills == {"billing": 2}
    assert agent.capacity == {"email": 5}
    assert agent.queues == ["billing"]
    assert count(history, TicketProjection) == 1  # agent events belong to no ticket


def expected_projections(client: redis.Redis) -> dict[str, dict[str, object]]:
    """Each ticket's projection folded straight from the Redis stream."""
    by_ticket: dict[str, list[StoredEvent]] = {}
    for entry_id, fields in client.xrange(STREAM):
        e = Event.from_stream(entry_id, fields)
        stored = StoredEvent(
            e.event_id, e.type, e.queue, e.agent_id, datetime.fromtimestamp(e.ts, UTC), e.data
        )
        by_ticket.setdefault(e.ticket_id, []).append(stored)
    return {ticket: fold_ticket(events) for ticket, events in by_ticket.items()}


def assert_history_matches_stream(engine: Engine, client: redis.Redis, written: int) -> None:
    assert count(engine, HistoryEvent) == written
    expected = expected_projections(client)
    with engine.connect() as connection:
        rows = {
            row.ticket_id: row._asdict()
            for row in connection.execute(select(table_of(TicketProjection)))
        }
    assert rows.keys() == expected.keys()
    wrong = [t for t, fold in expected.items() if {k: rows[t][k] for k in fold} != fold]
    assert not wrong, f"projections differ from the events for {wrong[:5]}"


@pytest.mark.slow
def test_two_writer_processes_store_every_event_once(
    history: Engine, history_url: str, redis_url: str
) -> None:
    client = redis.Redis.from_url(redis_url)
    written = fill_with_lifecycles(client, STREAM, tickets=250)
    spawn = multiprocessing.get_context("spawn")
    workers = [
        spawn.Process(target=drain, args=(history_url, redis_url, STREAM, size))
        for size in (40, 64)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    assert_history_matches_stream(history, client, written)


@pytest.mark.slow
def test_writers_given_disjoint_batches_of_the_same_tickets_agree(
    history: Engine, history_url: str, redis_url: str
) -> None:
    """Neighbouring batches hold events of the same tickets; two processes write them at once
    (as consumers of a group would), so each refold must see the other's committed events."""
    client = redis.Redis.from_url(redis_url)
    written = fill_with_lifecycles(client, STREAM, tickets=250)
    spawn = multiprocessing.get_context("spawn")
    workers = [
        spawn.Process(target=write_every_other_batch, args=(history_url, redis_url, STREAM, 8, p))
        for p in (0, 1)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    assert_history_matches_stream(history, client, written)


@pytest.mark.slow
def test_a_writer_killed_mid_stream_loses_nothing(
    history: Engine, history_url: str, redis_url: str
) -> None:
    client = redis.Redis.from_url(redis_url)
    written = fill_with_lifecycles(client, STREAM, tickets=250)
    source = RedisStreamSource(redis_url, STREAM)
    spawn = multiprocessing.get_context("spawn")
    worker = spawn.Process(target=drain, args=(history_url, redis_url, STREAM, 10))
    worker.start()
    deadline = time.monotonic() + 60
    while count(history, HistoryEvent) < written // 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    worker.kill()  # SIGKILL: no cleanup, possibly inside a transaction
    worker.join()
    stored = count(history, HistoryEvent)
    assert written // 3 <= stored < written, "kill the writer while it is still working"

    HistoryWriter(history, source, batch_size=100).drain()
    assert_history_matches_stream(history, client, written)
