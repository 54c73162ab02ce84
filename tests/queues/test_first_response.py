"""Recording the first response: once, by the assignee only, with one event."""

from __future__ import annotations

import time

import pytest
import redis

from queues.events import EventReader
from queues.store import QueueStore
from router.errors import FailedPrecondition, NotOfferHolder


def test_first_response_is_recorded_once_by_the_assignee(redis_client: redis.Redis) -> None:
    store = QueueStore(redis_client)
    store.set_queue_policy("billing")
    store.upsert_agent("ann", ["billing"], {}, {"email": 1})
    store.upsert_agent("ben", ["billing"], {}, {"email": 1})
    store.enqueue("t-1", "billing", 2, "email")
    with pytest.raises(FailedPrecondition, match="accept it before"):
        store.record_first_response("t-1", "ann")
    offer = store.assign("billing")
    assert offer is not None
    store.accept("t-1", offer.agent_id)
    other = "ben" if offer.agent_id == "ann" else "ann"
    with pytest.raises(NotOfferHolder):
        store.record_first_response("t-1", other)

    first = store.record_first_response("t-1", offer.agent_id)
    again = store.record_first_response("t-1", offer.agent_id)
    assert first.new and not again.new
    assert again.at == first.at

    events = [e for e in EventReader(redis_client).read(count=1000) if e.ticket_id == "t-1"]
    assert [e.type for e in events].count("first_response") == 1


def test_a_first_response_reported_after_the_resolution_is_dated_no_later_than_it(
    redis_client: redis.Redis,
) -> None:
    store = QueueStore(redis_client)
    store.set_queue_policy("billing")
    store.upsert_agent("ann", ["billing"], {}, {"email": 1})
    store.enqueue("t-late", "billing", 2, "email")
    store.assign("billing")
    store.accept("t-late", "ann")
    resolved = store.complete("t-late", "ann")
    time.sleep(0.05)

    recorded = store.record_first_response("t-late", "ann")

    assert recorded.new and resolved.finished_at is not None
    assert recorded.at == pytest.approx(resolved.finished_at, abs=0.001)
    (event,) = [e for e in EventReader(redis_client).read(count=1000)
                if e.ticket_id == "t-late" and e.type == "first_response"]
    assert event.data["at_ms"] == round(resolved.finished_at * 1000)
