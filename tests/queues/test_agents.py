"""Agents: upsert, status changes, and handing back offers when an agent leaves."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from queues import AgentStatus, QueueStore, TicketStatus
from queues.events import Event
from router.errors import InvalidArgument, NotFound, OfferExpired


def test_upsert_creates_then_updates_keeping_load(store: QueueStore) -> None:
    store.set_queue_policy("billing")
    created = store.upsert_agent("ann", ["support"], {"french": 2}, {"email": 2, "chat": 1})
    store.enqueue("t1", "support", 2, "email")
    store.assign("support")

    updated = store.upsert_agent("ann", ["support", "billing"], {"german": 1}, {"email": 3})

    assert created.created and not updated.created
    agent = updated.agent
    assert (agent.queues, agent.skills, agent.capacity) == (
        ["support", "billing"], {"german": 1}, {"email": 3})
    assert agent.load == {"email": 1} and agent.offers == ["t1"]
    assert agent.free("email") == 2
    assert store.get_agent("ann") == agent
    assert store.get_agent("nobody") is None


def test_upsert_refuses_unknown_queue_and_bad_values(store: QueueStore) -> None:
    with pytest.raises(NotFound, match="queue nowhere") as error:
        store.upsert_agent("ann", ["support", "nowhere"], {}, {"email": 1})
    assert error.value.field == "queues"
    assert store.get_agent("ann") is None
    with pytest.raises(InvalidArgument, match="capacity on 'email'"):
        store.upsert_agent("ann", ["support"], {}, {"email": -1})
    with pytest.raises(InvalidArgument, match="is not one of available, away, offline"):
        store.upsert_agent("ann", ["support"], {}, {"email": 1}, status="busy")
    with pytest.raises(InvalidArgument, match="list of queue names"):
        store.upsert_agent("ann", "support", {}, {"email": 1})


def test_set_status_of_unknown_agent_is_not_found(store: QueueStore) -> None:
    with pytest.raises(NotFound, match="agent ghost does not exist"):
        store.set_agent_status("ghost", "away")
    with pytest.raises(InvalidArgument):
        store.set_agent_status("ghost", "sleeping")


@pytest.mark.parametrize("status", [AgentStatus.AWAY, AgentStatus.OFFLINE])
def test_leaving_hands_back_offers_to_the_front_at_once(
    store: QueueStore, events: Callable[[], list[Event]], status: AgentStatus
) -> None:
    store.upsert_agent("ann", ["support"], {}, {"email": 1})
    store.enqueue("first", "support", 2, "email")
    store.enqueue("second", "support", 2, "email")
    store.assign("support")
    store.accept("first", "ann")
    store.upsert_agent("ann", ["support"], {}, {"email": 2})
    offer = store.assign("support")
    assert offer is not None and offer.ticket_id == "second"
    store.enqueue("third", "support", 2, "email")

    update = store.set_agent_status("ann", status)

    assert [o.ticket_id for o in update.handed_back] == ["second"]
    assert update.agent.status is status
    assert update.agent.offers == [] and update.agent.assigned == ["first"]  # work stays
    assert store.get_ticket("second").status is TicketStatus.WAITING  # type: ignore[union-attr]
    assert events()[-1].type == "offer_revoked"
    assert store.assign("support") is None  # nobody available: ann is not offered anything
    store.upsert_agent("bob", ["support"], {}, {"email": 5})
    assert store.assign("support").ticket_id == "second"  # type: ignore[union-attr]  # front
    assert store.assign("support").ticket_id == "third"  # type: ignore[union-attr]


def test_returning_agent_is_offered_work_again(store: QueueStore) -> None:
    store.upsert_agent("ann", ["support"], {}, {"email": 1}, status="offline")
    store.enqueue("t1", "support", 2, "email")
    assert store.assign("support") is None

    update = store.set_agent_status("ann", "available")

    assert update.handed_back == []
    assert store.set_agent_status("ann", "available").agent.status is AgentStatus.AVAILABLE
    assert store.assign("support").agent_id == "ann"  # type: ignore[union-attr]


def test_a_capacity_below_the_load_hands_back_the_newest_offers(
    store: QueueStore, events: Callable[[], list[Event]]
) -> None:
    store.upsert_agent("ann", ["support"], {}, {"email": 3})
    for ticket_id in ("t1", "t2", "t3"):
        store.enqueue(ticket_id, "support", 2, "email")
        assert store.assign("support").ticket_id == ticket_id  # type: ignore[union-attr]
    store.accept("t1", "ann")

    update = store.upsert_agent("ann", ["support"], {}, {"email": 1})

    assert [o.ticket_id for o in update.handed_back] == ["t3", "t2"]
    assert update.agent.load == {"email": 1} and update.agent.assigned == ["t1"]
    assert {e.data["reason"] for e in events() if e.type == "offer_revoked"} == {
        "agent capacity on email lowered"}
    for ticket_id in ("t2", "t3"):  # the withdrawn offers cannot be accepted any more
        with pytest.raises(OfferExpired):
            store.accept(ticket_id, "ann")
        assert store.get_ticket(ticket_id).status is TicketStatus.WAITING  # type: ignore[union-attr]
    assert store.assign("support") is None  # ann is full
    agent = store.get_agent("ann")
    assert agent is not None and len(agent.assigned) + len(agent.offers) <= 1


def test_a_capacity_below_accepted_work_keeps_it_and_offers_nothing_new(
    store: QueueStore,
) -> None:
    store.upsert_agent("ann", ["support"], {}, {"email": 2})
    for ticket_id in ("t1", "t2"):
        store.enqueue(ticket_id, "support", 2, "email")
        store.assign("support")
        store.accept(ticket_id, "ann")
    store.enqueue("t3", "support", 2, "email")

    update = store.upsert_agent("ann", ["support"], {}, {"email": 1})

    assert update.handed_back == [] and update.agent.assigned == ["t1", "t2"]
    assert store.assign("support") is None
    store.complete("t1", "ann")
    store.complete("t2", "ann")
    assert store.assign("support").ticket_id == "t3"  # type: ignore[union-attr]


def test_leaving_a_queue_or_losing_a_skill_hands_back_those_offers(
    store: QueueStore, events: Callable[[], list[Event]]
) -> None:
    store.set_queue_policy("billing")
    store.upsert_agent("ann", ["support", "billing"], {"german": 2}, {"email": 5})
    store.enqueue("s1", "support", 2, "email")
    store.enqueue("b1", "billing", 2, "email", skills={"german": 2})
    store.enqueue("b2", "billing", 2, "email")
    for queue in ("support", "billing", "billing"):
        assert store.assign(queue) is not None

    update = store.upsert_agent("ann", ["billing"], {}, {"email": 5})

    assert sorted(o.ticket_id for o in update.handed_back) == ["b1", "s1"]
    assert update.agent.offers == ["b2"]  # still fits
    assert {e.ticket_id: e.data["reason"] for e in events() if e.type == "offer_revoked"} == {
        "s1": "agent no longer serves queue support",
        "b1": "agent no longer has skill german at level 2",
    }
    assert store.assign("support") is None and store.assign("billing") is None
    assert store.accept("b2", "ann").ticket_id == "b2"


def test_a_profile_update_can_keep_the_status_it_does_not_know(store: QueueStore) -> None:
    assert store.upsert_agent("new", ["support"], {}, {"email": 1}, status=None).agent.status \
        is AgentStatus.AVAILABLE
    store.set_agent_status("new", "offline")
    kept = store.upsert_agent("new", ["support"], {}, {"email": 3}, status=None)
    assert kept.agent.status is AgentStatus.OFFLINE and kept.agent.capacity == {"email": 3}
