"""Submission rows: the history writer stores them from the tickets' records in Redis, with the
tickets' `enqueued` events, once each."""

from __future__ import annotations

import uuid

import redis
from sqlalchemy import Engine, select

from clients.requests import make_ticket
from queues.events import EventReader
from queues.store import QueueStore
from router import convert
from router.api.ticket_router.v1 import ticket_pb2 as pb
from router.history import HistoryWriter, Ticket, ticket_timeline
from router.history.models import table_of
from router.history.submissions import RedisSubmissions

QUEUE = "billing"


def submit(store: QueueStore, ticket_id: str, subject: str) -> None:
    """Enqueue a ticket with its submission in its record's data, as `RouterApp.submit` does."""
    ticket = make_ticket(ticket_id, subject, "My card was charged twice.")
    scores = pb.Scores(category="billing", category_confidence=0.8, sla_risk=0.25,
                       category_probabilities={"billing": 0.8, "tech": 0.2})
    decision = pb.RoutingDecision(queue=QUEUE, rule_id="vip", rule_version=3,
                                  priority=pb.PRIORITY_P2, tags=["refund"])
    store.enqueue(ticket_id, QUEUE, 2, "email", data={
        "ticket": convert.pack(ticket), "scores": convert.pack(scores),
        "decision": convert.pack(decision), "submitted_at": 1_700_000_000.5,
    })


def writer_and_store(history: Engine, redis_url: str) -> tuple[HistoryWriter, QueueStore]:
    client = redis.Redis.from_url(redis_url)
    tenant = f"subm-{uuid.uuid4().hex[:8]}"  # a stream of this test's events only
    store = QueueStore(client, tenant=tenant)
    store.set_queue_policy(QUEUE)
    writer = HistoryWriter(history, EventReader(client, tenant=tenant),
                           submissions=RedisSubmissions(store))
    return writer, store


def rows(history: Engine) -> dict[str, dict[str, object]]:
    with history.connect() as connection:
        found = connection.execute(select(table_of(Ticket)))
        return {row.id: dict(row._mapping) for row in found}


def test_a_submission_is_stored_with_its_enqueued_event_once(
    history: Engine, redis_url: str
) -> None:
    writer, store = writer_and_store(history, redis_url)
    submit(store, "t-1", "Invoice charged twice")
    submit(store, "t-2", "Refund please")

    writer.drain()
    stored = rows(history)
    assert sorted(stored) == ["t-1", "t-2"]
    row = stored["t-1"]
    assert row["subject"] == "Invoice charged twice" and row["queue"] == QUEUE
    assert row["category"] == "billing" and row["rule_id"] == "vip" and row["rule_version"] == 3
    assert row["priority"] == "P2" and row["tags"] == ["refund"] and row["sla_risk"] == 0.25
    assert [e.type for e in ticket_timeline(history, "t-1")] == ["enqueued"]

    # the same events stored again (a writer that crashed before moving its cursor)
    events = writer.source.read("0-0", 100)
    assert writer.write_batch(events) == 0
    assert sorted(rows(history)) == ["t-1", "t-2"]


def test_tickets_without_a_submission_or_purged_get_events_only(
    history: Engine, redis_url: str
) -> None:
    writer, store = writer_and_store(history, redis_url)
    store.enqueue("t-plain", QUEUE, 3, "email")  # through the queues API: no submission
    submit(store, "t-gone", "Purged before the writer came")
    store.cancel("t-gone")
    assert store.purge_finished(retention_s=0) == 1

    writer.drain()
    assert rows(history) == {}
    assert [e.type for e in ticket_timeline(history, "t-plain")] == ["enqueued"]
    assert [e.type for e in ticket_timeline(history, "t-gone")] == ["enqueued", "cancelled"]
