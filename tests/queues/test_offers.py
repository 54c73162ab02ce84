"""Offers: accept, reject with cool-off, expiry by time, complete, and every refusal."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import redis

from queues import QueueStore, TicketStatus
from queues.events import Event
from router.errors import (
    AgentUnavailable,
    FailedPrecondition,
    NotFound,
    NotOfferHolder,
    OfferExpired,
)
from tests.queues.conftest import SHORT_TIMEOUT_S, wait_past


@pytest.fixture
def offered(store: QueueStore) -> QueueStore:
    """`t1` offered to ann (email 1); bob (email 1) is free; `t2` waits behind it."""
    store.upsert_agent("ann", ["support"], {}, {"email": 1})
    store.upsert_agent("bob", ["support"], {}, {"email": 1})
    store.enqueue("t1", "support", 2, "email")
    offer = store.assign("support")
    assert offer is not None and (offer.ticket_id, offer.agent_id) == ("t1", "ann")
    store.enqueue("t2", "support", 2, "email")
    return store


def test_accept_turns_the_offer_into_an_assignment(
    offered: QueueStore, events: Callable[[], list[Event]]
) -> None:
    assignment = offered.accept("t1", "ann")

    assert (assignment.ticket_id, assignment.agent_id, assignment.channel) == (
        "t1", "ann", "email")
    assert offered.accept("t1", "ann") == assignment  # a retry returns the same assignment
    ticket = offered.get_ticket("t1")
    assert ticket is not None and ticket.status is TicketStatus.ASSIGNED
    assert ticket.offer_expires_at is None
    agent = offered.get_agent("ann")
    assert agent is not None and agent.assigned == ["t1"] and agent.offers == []
    assert agent.load == {"email": 1}
    assert offered.pending_offers("ann") == []
    assert [e.type for e in events()].count("accepted") == 1


def test_accept_refusals(offered: QueueStore) -> None:
    with pytest.raises(NotFound, match="agent ghost"):
        offered.accept("t1", "ghost")
    with pytest.raises(NotFound, match="ticket ghost"):
        offered.accept("ghost", "ann")
    with pytest.raises(NotOfferHolder, match="bob does not hold an offer of ticket t1"):
        offered.accept("t1", "bob")
    with pytest.raises(NotOfferHolder):
        offered.accept("t2", "ann")  # waiting, never offered to ann
    offered.set_agent_status("bob", "offline")
    with pytest.raises(AgentUnavailable, match="bob is offline"):
        offered.accept("t1", "bob")
    offered.accept("t1", "ann")
    offered.complete("t1", "ann")
    with pytest.raises(FailedPrecondition, match="t1 is completed"):
        offered.accept("t1", "ann")


def test_an_expired_offer_cannot_be_accepted_and_goes_back(
    store: QueueStore, events: Callable[[], list[Event]]
) -> None:
    store.set_queue_policy("support", offer_timeout_s=SHORT_TIMEOUT_S)
    store.upsert_agent("ann", ["support"], {}, {"email": 1})
    store.enqueue("t1", "support", 2, "email")
    offer = store.assign("support")
    assert offer is not None
    store.enqueue("t2", "support", 2, "email")
    wait_past(offer.expires_at)

    with pytest.raises(OfferExpired, match="expired before it was accepted"):
        store.accept("t1", "ann")

    ticket = store.get_ticket("t1")
    assert ticket is not None and ticket.status is TicketStatus.WAITING
    assert store.get_agent("ann").load == {}  # type: ignore[union-attr]
    assert [e.type for e in events()][-1] == "offer_expired"
    with pytest.raises(OfferExpired, match="expired or was withdrawn"):
        store.accept("t1", "ann")  # again: still refused, nothing changes
    store.upsert_agent("bob", ["support"], {}, {"email": 1})
    assert store.assign("support").ticket_id == "t1"  # type: ignore[union-attr]  # front


def test_expire_due_hands_back_every_due_offer_once(
    store: QueueStore, redis_url: str
) -> None:
    store.set_queue_policy("support", offer_timeout_s=SHORT_TIMEOUT_S, cooloff_s=30)
    for name in ("ann", "bob", "cid"):
        store.upsert_agent(name, ["support"], {}, {"email": 1})
    for n in range(3):
        store.enqueue(f"t{n}", "support", 2, "email")
    offers = [store.assign("support") for _ in range(3)]
    assert store.expire_due() == []  # not due yet
    wait_past(max(o.expires_at for o in offers if o))
    other_process = QueueStore(redis.Redis.from_url(redis_url))

    expired = store.expire_due(limit=2) + other_process.expire_due() + store.expire_due()

    assert sorted(o.ticket_id for o in expired) == ["t0", "t1", "t2"]
    assert all(store.get_ticket(f"t{n}").status == "waiting" for n in range(3))  # type: ignore[union-attr]
    # Each agent now cools off from the ticket it let expire: nobody gets its own back.
    previous_holder = {o.ticket_id: o.agent_id for o in offers if o}
    again = [store.assign("support") for _ in range(3)]
    assert len([o for o in again if o]) >= 2
    assert all(o.agent_id != previous_holder[o.ticket_id] for o in again if o)


def test_reject_puts_the_ticket_first_and_skips_that_agent(
    offered: QueueStore, events: Callable[[], list[Event]]
) -> None:
    ticket = offered.reject("t1", "ann")

    assert ticket.status is TicketStatus.WAITING and ticket.agent_id is None
    assert events()[-1].type == "rejected" and events()[-1].agent_id == "ann"
    offer = offered.assign("support")
    assert offer is not None and (offer.ticket_id, offer.agent_id) == ("t1", "bob")
    offer = offered.assign("support")  # ann is free, t2 is next: ann is only skipped for t1
    assert offer is not None and (offer.ticket_id, offer.agent_id) == ("t2", "ann")


def test_reject_keeps_the_agents_note_in_its_event(
    offered: QueueStore, events: Callable[[], list[Event]]
) -> None:
    offered.reject("t1", "ann", note="customer is a friend of mine")
    offered.assign("support")  # to bob
    offered.reject("t1", "bob")

    ann, bob = [e for e in events() if e.type == "rejected"]
    assert all(isinstance(e.data.pop("expires_ms"), int) for e in (ann, bob))  # the offer's
    assert ann.data == {"channel": "email", "reason": "rejected",
                        "note": "customer is a friend of mine"}
    assert bob.data == {"channel": "email", "reason": "rejected"}


def test_cool_off_ends(store: QueueStore) -> None:
    store.set_queue_policy("support", cooloff_s=SHORT_TIMEOUT_S)
    store.upsert_agent("ann", ["support"], {}, {"email": 1})
    store.enqueue("t1", "support", 2, "email")
    store.assign("support")
    store.reject("t1", "ann")
    rejected_at = store.get_agent("ann").last_offer_at  # type: ignore[union-attr]
    assert store.assign("support") is None

    wait_past(rejected_at + SHORT_TIMEOUT_S)  # type: ignore[operator]

    assert store.assign("support").agent_id == "ann"  # type: ignore[union-attr]


def test_reject_refusals(offered: QueueStore) -> None:
    with pytest.raises(NotOfferHolder):
        offered.reject("t1", "bob")
    with pytest.raises(NotFound):
        offered.reject("t1", "ghost")
    offered.accept("t1", "ann")
    with pytest.raises(FailedPrecondition, match="already accepted"):
        offered.reject("t1", "ann")


def test_complete_frees_capacity_for_the_next_ticket(
    offered: QueueStore, events: Callable[[], list[Event]]
) -> None:
    offered.set_agent_status("bob", "away")
    offered.accept("t1", "ann")
    assert offered.assign("support") is None  # ann full, bob away

    done = offered.complete("t1", "ann")

    assert done.status is TicketStatus.COMPLETED and done.finished_at is not None
    assert offered.complete("t1", "ann") == done  # a retry changes nothing
    assert [e.type for e in events()].count("completed") == 1
    assert offered.get_agent("ann").load == {}  # type: ignore[union-attr]
    assert offered.assign_for_agent("ann").ticket_id == "t2"  # type: ignore[union-attr]


def test_complete_keeps_the_resolution_in_its_event(
    offered: QueueStore, events: Callable[[], list[Event]]
) -> None:
    offered.accept("t1", "ann")
    offered.complete("t1", "ann", resolution="refunded the double charge")
    offered.complete("t1", "ann", resolution="a retry says something else")
    offered.accept(offered.assign("support").ticket_id, "bob")  # type: ignore[union-attr]
    offered.complete("t2", "bob")

    first, second = [e for e in events() if e.type == "completed"]
    assert first.data["resolution"] == "refunded the double charge"
    assert "resolution" not in second.data


def test_complete_refusals(offered: QueueStore) -> None:
    with pytest.raises(FailedPrecondition, match="accept the offer first"):
        offered.complete("t1", "ann")
    with pytest.raises(FailedPrecondition, match="t2 is waiting"):
        offered.complete("t2", "ann")
    offered.accept("t1", "ann")
    with pytest.raises(NotOfferHolder, match="assigned to another agent"):
        offered.complete("t1", "bob")
    with pytest.raises(NotFound):
        offered.complete("t1", "ghost")
