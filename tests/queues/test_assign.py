"""Assignment: eligibility (status, skills, channel capacity, cool-off) and the policies."""

from __future__ import annotations

import time

import pytest
import redis

from queues import Policy, QueueStore
from router.errors import AgentUnavailable, CapacityFull, FailedPrecondition, NotFound


def test_assign_refuses_an_unknown_queue(store: QueueStore) -> None:
    with pytest.raises(NotFound, match="queue nowhere"):
        store.assign("nowhere")


def test_empty_queue_or_no_agent_gives_none(store: QueueStore) -> None:
    assert store.assign("support") is None
    store.enqueue("t1", "support", 2, "email")
    assert store.assign("support") is None
    assert store.get_ticket("t1").status == "waiting"  # type: ignore[union-attr]


def test_required_skill_levels_are_respected(store: QueueStore) -> None:
    store.upsert_agent("novice", ["support"], {"french": 1, "billing": 3}, {"email": 5})
    store.upsert_agent("expert", ["support"], {"french": 3}, {"email": 5})
    store.enqueue("t1", "support", 2, "email", skills={"french": 2})
    store.enqueue("t2", "support", 2, "email", skills={"french": 1, "billing": 2})
    store.enqueue("t3", "support", 2, "email", skills={"french": 4})

    first, second = store.assign("support"), store.assign("support")

    assert (first.ticket_id, first.agent_id) == ("t1", "expert")  # type: ignore[union-attr]
    assert (second.ticket_id, second.agent_id) == ("t2", "novice")  # type: ignore[union-attr]
    assert store.assign("support") is None  # nobody has french 4


def test_agents_below_the_level_ahead_in_the_index_do_not_hide_a_qualified_one(
    redis_client: redis.Redis,
) -> None:
    store = QueueStore(redis_client, candidate_bound=2)
    store.set_queue_policy("support")
    for n in range(5):  # idle longer, so first in the german index
        store.upsert_agent(f"novice-{n}", ["support"], {"german": 1}, {"email": 5})
        time.sleep(0.002)
    store.upsert_agent("expert", ["support"], {"german": 3}, {"email": 5})
    store.enqueue("t1", "support", 2, "email", skills={"german": 3})

    offer = store.assign("support")

    assert offer is not None and offer.agent_id == "expert"


def test_agents_at_different_levels_are_taken_in_the_policys_order(store: QueueStore) -> None:
    store.upsert_agent("five", ["support"], {"german": 5}, {"email": 5})  # idle longest
    time.sleep(0.005)
    store.upsert_agent("three", ["support"], {"german": 3}, {"email": 5})
    time.sleep(0.005)
    store.upsert_agent("four", ["support"], {"german": 4}, {"email": 5})
    for n in range(3):
        store.enqueue(f"t{n}", "support", 2, "email", skills={"german": 2})

    agents = [assign_later(store) for _ in range(3)]

    assert agents == ["five", "three", "four"]  # idle longest first, whatever the level


def test_capacity_is_per_channel(store: QueueStore) -> None:
    store.upsert_agent("ann", ["support"], {}, {"chat": 1, "email": 1})
    store.enqueue("chat-1", "support", 1, "chat")
    store.enqueue("chat-2", "support", 1, "chat")
    store.enqueue("email-1", "support", 2, "email")

    offers = [store.assign("support") for _ in range(3)]

    assert [o.ticket_id if o else None for o in offers] == ["chat-1", "email-1", None]
    assert store.get_agent("ann").load == {"chat": 1, "email": 1}  # type: ignore[union-attr]


def test_a_ticket_nobody_can_take_does_not_block_the_queue(store: QueueStore) -> None:
    store.upsert_agent("ann", ["support"], {}, {"email": 2})
    store.enqueue("rare", "support", 1, "email", skills={"klingon": 5})
    store.enqueue("common", "support", 2, "email")

    offer = store.assign("support")

    assert offer is not None and offer.ticket_id == "common"
    assert store.get_ticket("rare").status == "waiting"  # type: ignore[union-attr]


def test_least_loaded_prefers_lower_load_ratio_then_longest_idle(store: QueueStore) -> None:
    store.upsert_agent("big", ["support"], {}, {"email": 4})
    store.upsert_agent("small", ["support"], {}, {"email": 2})
    for n in range(4):
        store.enqueue(f"t{n}", "support", 2, "email")

    agents = [assign_later(store) for _ in range(4)]

    # Both idle: big idle longer (created first). Then small 0/2 < big 1/4; then big 1/4 <
    # small 1/2; then big 2/4 = small 1/2 and small was offered work longer ago.
    assert agents == ["big", "small", "big", "small"]


def assign_later(store: QueueStore) -> str:
    """Assign after a pause, so that ties on time-of-last-offer (ms) cannot happen."""
    time.sleep(0.005)
    offer = store.assign("support")
    assert offer is not None
    return offer.agent_id


def test_round_robin_rotates_regardless_of_load(store: QueueStore) -> None:
    store.set_queue_policy("support", Policy.ROUND_ROBIN)
    for name in ("a", "b", "c"):
        store.upsert_agent(name, ["support"], {}, {"email": 10})
    for n in range(6):
        store.enqueue(f"t{n}", "support", 2, "email")
    assign_later(store)
    store.accept("t0", "a")
    store.complete("t0", "a")  # a is idle again but was offered most recently

    agents = [assign_later(store) for _ in range(5)]

    assert agents == ["b", "c", "a", "b", "c"]


def test_longest_idle_prefers_agents_without_work(store: QueueStore) -> None:
    store.set_queue_policy("support", Policy.LONGEST_IDLE)
    store.upsert_agent("a", ["support"], {}, {"email": 10})
    time.sleep(0.005)  # idle times are whole milliseconds: no ties
    store.upsert_agent("b", ["support"], {}, {"email": 10})
    for n in range(4):
        store.enqueue(f"t{n}", "support", 2, "email")
    store.assign("support")  # a (idle longest) gets t0
    store.accept("t0", "a")
    time.sleep(0.005)
    store.complete("t0", "a")  # a idle again, since now: b is idle longer

    agents = [assign_later(store) for _ in range(3)]

    assert agents == ["b", "a", "b"]


def test_changing_policy_rescores_members(store: QueueStore) -> None:
    store.upsert_agent("a", ["support"], {}, {"email": 10})
    store.upsert_agent("b", ["support"], {}, {"email": 1})
    store.enqueue("t0", "support", 2, "email")
    store.enqueue("t1", "support", 2, "email")
    assert store.assign("support").agent_id == "a"  # type: ignore[union-attr]
    store.set_queue_policy("support", Policy.ROUND_ROBIN)

    assert store.assign("support").agent_id == "b"  # type: ignore[union-attr]


def test_assign_for_agent_picks_the_best_ticket_across_its_queues(store: QueueStore) -> None:
    store.set_queue_policy("billing")
    store.enqueue("support-p2", "support", 2, "email")
    store.enqueue("billing-p1", "billing", 1, "email", skills={"german": 1})
    store.enqueue("billing-p1-chat", "billing", 1, "chat")
    store.upsert_agent("ann", ["support", "billing"], {}, {"email": 2}, status="away")
    assert store.assign_for_agent("ann") is None  # away
    store.set_agent_status("ann", "available")

    offer = store.assign_for_agent("ann")  # no german, no chat capacity

    assert offer is not None and offer.ticket_id == "support-p2"
    store.upsert_agent("ann", ["support", "billing"], {"german": 1}, {"email": 2, "chat": 1})
    assert store.assign_for_agent("ann").ticket_id == "billing-p1"  # type: ignore[union-attr]
    assert store.assign_for_agent("ann").ticket_id == "billing-p1-chat"  # type: ignore[union-attr]
    assert store.assign_for_agent("ann") is None  # email 2/2, chat 1/1
    with pytest.raises(NotFound):
        store.assign_for_agent("ghost")


def test_offer_to_a_named_agent_and_its_refusals(store: QueueStore) -> None:
    store.upsert_agent("ann", ["support"], {}, {"email": 1})
    store.upsert_agent("away", ["support"], {}, {"email": 1}, status="away")
    store.enqueue("t1", "support", 2, "email")
    store.enqueue("t2", "support", 2, "email")
    store.enqueue("french", "support", 2, "email", skills={"french": 1})

    with pytest.raises(AgentUnavailable, match="agent away is away"):
        store.offer_to("t1", "away")
    with pytest.raises(FailedPrecondition, match="lacks skill french"):
        store.offer_to("french", "ann")
    assert store.offer_to("t1", "ann").agent_id == "ann"
    with pytest.raises(CapacityFull, match=r"no free email capacity \(1/1\)"):
        store.offer_to("t2", "ann")
    with pytest.raises(FailedPrecondition, match="is offered"):
        store.offer_to("t1", "ann")
    with pytest.raises(NotFound):
        store.offer_to("t2", "ghost")
    with pytest.raises(NotFound):
        store.offer_to("ghost", "ann")
