"""Read-only helpers: queue stats, explain_candidates, pending offers, list_queues."""

from __future__ import annotations

import time

import pytest

from queues import Policy, QueueStore
from router.errors import InvalidArgument, NotFound


def test_queue_stats_counts_depth_wait_and_agents(store: QueueStore) -> None:
    store.upsert_agent("free", ["support"], {}, {"email": 2})
    store.upsert_agent("full", ["support"], {}, {"chat": 1})
    store.upsert_agent("away", ["support"], {}, {"email": 1}, status="away")
    store.upsert_agent("gone", ["support"], {}, {"email": 1}, status="offline")
    store.enqueue("chat", "support", 1, "chat")
    store.assign("support")
    store.enqueue("t1", "support", 2, "email", skills={"klingon": 1})
    time.sleep(0.2)
    store.enqueue("t2", "support", 2, "email", skills={"klingon": 1})

    stats = store.queue_stats("support")

    assert (stats.depth, stats.agents_available, stats.agents_busy, stats.agents_away,
            stats.agents_offline) == (2, 1, 1, 1, 1)
    assert 0.15 < stats.oldest_wait_s < 5
    with pytest.raises(NotFound):
        store.queue_stats("nowhere")


def test_empty_queue_has_no_wait(store: QueueStore) -> None:
    stats = store.queue_stats("support")
    assert (stats.depth, stats.oldest_wait_s, stats.agents_available) == (0, 0.0, 0)


def test_explain_gives_each_agent_its_reason(store: QueueStore) -> None:
    store.set_queue_policy("support", cooloff_s=600)
    store.upsert_agent("best", ["support"], {"french": 3}, {"email": 3})
    store.upsert_agent("second", ["support"], {"french": 2}, {"email": 1})
    store.upsert_agent("off", ["support"], {"french": 3}, {"email": 3}, status="offline")
    store.upsert_agent("away", ["support"], {"french": 3}, {"email": 3}, status="away")
    store.upsert_agent("novice", ["support"], {"french": 1}, {"email": 3})
    store.upsert_agent("chatter", ["support"], {"french": 3}, {"chat": 3})
    store.upsert_agent("busy", ["support"], {"french": 3}, {"email": 1})
    store.upsert_agent("shy", ["support"], {"french": 3}, {"email": 9})
    store.enqueue("busywork", "support", 1, "email")
    store.offer_to("busywork", "busy")
    store.enqueue("t1", "support", 2, "email", skills={"french": 2})
    store.offer_to("t1", "shy")
    store.reject("t1", "shy")

    candidates = store.explain_candidates("t1")

    reasons = {c.agent_id: c.reason for c in candidates}
    assert reasons["off"] == "offline" and reasons["away"] == "away"
    assert reasons["novice"] == "missing skill french at level 2 (has 1)"
    assert reasons["chatter"] == "no email capacity"
    assert reasons["busy"] == "capacity full on email (1/1)"
    assert reasons["shy"].startswith("cooling off from this ticket until")
    eligible = [c.agent_id for c in candidates if c.eligible]
    assert set(eligible) == {"best", "second"}
    assert [c.eligible for c in candidates][:2] == [True, True]  # eligible first
    assert store.assign("support").agent_id == eligible[0]  # type: ignore[union-attr]


def test_explain_a_hypothetical_ticket_and_refusals(store: QueueStore) -> None:
    store.upsert_agent("ann", ["support"], {}, {"chat": 1})

    [candidate] = store.explain_candidates(queue="support", channel="chat", skills={})

    assert candidate.eligible and candidate.reason is None and candidate.capacity == {"chat": 1}
    with pytest.raises(NotFound):
        store.explain_candidates("ghost")
    with pytest.raises(NotFound):
        store.explain_candidates(queue="nowhere", channel="chat")
    with pytest.raises(InvalidArgument):
        store.explain_candidates(queue="support")


def test_pending_offers_and_list_queues(store: QueueStore) -> None:
    store.set_queue_policy("billing", Policy.ROUND_ROBIN, offer_timeout_s=5, cooloff_s=0)
    store.upsert_agent("ann", ["support", "billing"], {}, {"email": 5})
    store.enqueue("t1", "support", 2, "email")
    store.enqueue("t2", "billing", 1, "email")
    store.assign("support")
    time.sleep(0.01)
    store.assign("billing")

    offers = store.pending_offers("ann")

    assert [o.ticket_id for o in offers] == ["t1", "t2"]
    assert offers[1].expires_at - offers[1].offered_at == pytest.approx(5)
    assert store.pending_offers("ghost") == []
    queues = store.list_queues()
    assert [(q.name, q.policy, q.offer_timeout_s, q.cooloff_s) for q in queues] == [
        ("billing", Policy.ROUND_ROBIN, 5.0, 0.0), ("support", Policy.LEAST_LOADED, 30.0, 60.0)]
