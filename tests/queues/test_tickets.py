"""Enqueue (idempotent), waiting order, transfer, cancel, reprioritize, purge."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import pytest

from queues import QueueStore, TicketStatus
from queues.events import Event
from queues.operations import MAX_DURATION_S, MAX_EPOCH_S, MAX_NOTE_CHARS
from router.errors import FailedPrecondition, InvalidArgument, NotFound, NotOfferHolder


def drain_order(store: QueueStore, queue: str = "support") -> list[str]:
    """Ticket ids in the order one roomy agent is offered them."""
    store.upsert_agent("drain", [queue], {}, {"email": 100, "chat": 100})
    order = []
    while offer := store.assign(queue):
        order.append(offer.ticket_id)
    return order


def test_enqueue_creates_a_waiting_ticket_and_an_event(
    store: QueueStore, events: Callable[[], list[Event]]
) -> None:
    ticket = store.enqueue("t1", "support", 2, "email", skills={"french": 2},
                           deadline_ts=2_000_000_000.5, data={"subject": "hi", "tags": []})

    assert ticket.created and ticket.status is TicketStatus.WAITING
    assert ticket.skills == {"french": 2} and ticket.deadline_ts == 2_000_000_000.5
    assert ticket.data == {"subject": "hi", "tags": []}
    assert abs(ticket.enqueued_at - time.time()) < 5
    assert store.get_ticket("t1") == dataclasses.replace(ticket, created=False)
    [event] = events()
    assert (event.type, event.ticket_id, event.queue, event.agent_id) == (
        "enqueued", "t1", "support", None)
    assert event.data["priority"] == 2 and event.data["channel"] == "email"


def test_enqueue_is_idempotent_on_ticket_id(
    store: QueueStore, events: Callable[[], list[Event]]
) -> None:
    first = store.enqueue("t1", "support", 3, "email")
    again = store.enqueue("t1", "support", 1, "chat", data={"other": True})

    assert again.created is False
    assert (again.priority, again.channel, again.data, again.enqueued_at) == (
        3, "email", None, first.enqueued_at)
    assert len(events()) == 1
    assert store.queue_stats("support").depth == 1


def test_enqueue_refuses_an_unknown_queue(store: QueueStore) -> None:
    with pytest.raises(NotFound, match="queue nowhere does not exist") as error:
        store.enqueue("t1", "nowhere", 1, "email")
    assert error.value.field == "queue"
    assert store.get_ticket("t1") is None


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"priority": 0}, "priority"),
        ({"priority": 100}, "priority"),
        ({"channel": "e mail"}, "channel"),
        ({"skills": {"french": 0}}, "skills"),
        ({"skills": {"french": 11}}, "skills"),
        ({"ticket_id": ""}, "ticket_id"),
        ({"data": {"x": object()}}, "data"),
        ({"data": {"x": "y" * 70_000}}, "data"),
        ({"deadline_ts": float("nan")}, "deadline_ts"),
        ({"deadline_ts": 20_000_000_000.0}, "deadline_ts"),  # past 2286: 14-digit ms
    ],
)
def test_enqueue_refuses_malformed_input(
    store: QueueStore, kwargs: dict[str, object], field: str
) -> None:
    arguments: dict[str, object] = {"ticket_id": "t1", "queue": "support", "priority": 2,
                                    "channel": "email", **kwargs}
    with pytest.raises(InvalidArgument) as error:
        store.enqueue(**arguments)  # type: ignore[arg-type]
    assert error.value.field == field


def test_waiting_order_is_priority_then_deadline_then_arrival(store: QueueStore) -> None:
    store.enqueue("p3-old", "support", 3, "email")
    store.enqueue("p2-no-deadline", "support", 2, "email")
    store.enqueue("p2-late", "support", 2, "email", deadline_ts=2_000_000_100)
    store.enqueue("p2-early", "support", 2, "email", deadline_ts=2_000_000_000)
    store.enqueue("p1", "support", 1, "chat")
    store.enqueue("p3-new", "support", 3, "email")

    assert drain_order(store) == ["p1", "p2-early", "p2-late", "p2-no-deadline", "p3-old",
                                  "p3-new"]


def test_reprioritize_moves_a_waiting_ticket(
    store: QueueStore, events: Callable[[], list[Event]]
) -> None:
    store.enqueue("a", "support", 2, "email")
    store.enqueue("b", "support", 3, "email")

    ticket = store.reprioritize("b", 1, deadline_ts=2_000_000_000)

    assert (ticket.priority, ticket.deadline_ts) == (1, 2_000_000_000)
    assert store.reprioritize("b", 1).deadline_ts == 2_000_000_000  # None keeps the deadline
    assert events()[-1].data["previous"] == 1
    assert drain_order(store) == ["b", "a"]
    with pytest.raises(NotFound):
        store.reprioritize("zzz", 1)


def test_transfer_moves_a_waiting_ticket_and_frees_an_agent(
    store: QueueStore, events: Callable[[], list[Event]]
) -> None:
    store.set_queue_policy("billing")
    store.upsert_agent("ann", ["support"], {}, {"email": 1})
    store.enqueue("t1", "support", 2, "email")
    store.enqueue("t2", "support", 2, "email")
    store.accept("t1", store.assign("support").agent_id)  # type: ignore[union-attr]

    moved = store.transfer("t1", "billing")
    waiting = store.transfer("t2", "billing")

    assert (moved.status, moved.queue, moved.agent_id) == (TicketStatus.WAITING, "billing", None)
    assert waiting.queue == "billing"
    assert store.get_agent("ann").load == {}  # type: ignore[union-attr]
    assert store.queue_stats("support").depth == 0
    assert store.queue_stats("billing").depth == 2
    transferred = [e for e in events() if e.type == "transferred"]
    assert [(e.ticket_id, e.agent_id, e.data["from_queue"]) for e in transferred] == [
        ("t1", "ann", "support"), ("t2", None, "support")]


def test_transfer_keeps_the_callers_note_in_its_event(
    store: QueueStore, events: Callable[[], list[Event]]
) -> None:
    store.set_queue_policy("billing")
    store.enqueue("t1", "support", 2, "email")
    store.transfer("t1", "billing", note="it is about an invoice")
    store.transfer("t1", "billing", note="already there: no event")
    store.transfer("t1", "support")

    there, back = [e for e in events() if e.type == "transferred"]
    assert there.data == {"from_queue": "support", "channel": "email",
                          "note": "it is about an invoice"}
    assert back.data == {"from_queue": "billing", "channel": "email"}


def test_transfer_refusals(store: QueueStore) -> None:
    store.enqueue("t1", "support", 2, "email")
    with pytest.raises(NotFound, match="queue nowhere"):
        store.transfer("t1", "nowhere")
    with pytest.raises(NotFound, match="ticket zzz"):
        store.transfer("zzz", "support")
    store.cancel("t1")
    with pytest.raises(FailedPrecondition, match="cancelled"):
        store.transfer("t1", "support")


def test_cancel_in_every_state_frees_the_agent(store: QueueStore) -> None:
    store.upsert_agent("ann", ["support"], {}, {"email": 3})
    for ticket_id in ("offered", "assigned", "waiting"):
        store.enqueue(ticket_id, "support", 2, "email")
    store.assign("support")
    store.assign("support")
    store.accept("assigned", "ann")
    assert [store.get_ticket(t).status for t in ("offered", "assigned", "waiting")] == [  # type: ignore[union-attr]
        TicketStatus.OFFERED, TicketStatus.ASSIGNED, TicketStatus.WAITING]

    for ticket_id in ("offered", "assigned", "waiting"):
        assert store.cancel(ticket_id).status is TicketStatus.CANCELLED
    assert store.cancel("waiting").status is TicketStatus.CANCELLED  # idempotent
    assert store.get_agent("ann").load == {}  # type: ignore[union-attr]
    assert store.queue_stats("support").depth == 0
    assert store.pending_offers("ann") == []


def test_cancel_keeps_the_callers_note_in_its_event(
    store: QueueStore, events: Callable[[], list[Event]]
) -> None:
    store.enqueue("t1", "support", 2, "email")
    store.enqueue("t2", "support", 2, "email")
    store.cancel("t1", note="customer withdrew the request")
    store.cancel("t1", note="a retry emits nothing")
    store.cancel("t2")

    first, second = [e for e in events() if e.type == "cancelled"]
    assert (first.ticket_id, first.data) == (
        "t1", {"channel": "email", "note": "customer withdrew the request"})
    assert (second.ticket_id, second.data) == ("t2", {"channel": "email"})


def test_notes_are_bounded(store: QueueStore) -> None:
    store.upsert_agent("ann", ["support"], {}, {"email": 1})
    store.enqueue("t1", "support", 2, "email")
    store.assign("support")
    too_long = "x" * (MAX_NOTE_CHARS + 1)
    calls = {
        "note": [lambda: store.cancel("t1", note=too_long),
                 lambda: store.transfer("t1", "support", note=too_long),
                 lambda: store.reject("t1", "ann", note=too_long)],
        "resolution": [lambda: store.complete("t1", "ann", resolution=too_long)],
    }
    for field, refused in calls.items():
        for call in refused:
            with pytest.raises(InvalidArgument, match=str(MAX_NOTE_CHARS)) as caught:
                call()
            assert caught.value.field == field
    assert store.get_ticket("t1").status is TicketStatus.OFFERED  # type: ignore[union-attr]
    assert store.cancel("t1", note="x" * MAX_NOTE_CHARS).status is TicketStatus.CANCELLED


def test_cancel_refuses_a_completed_ticket(store: QueueStore) -> None:
    store.upsert_agent("ann", ["support"], {}, {"email": 1})
    store.enqueue("t1", "support", 2, "email")
    store.assign("support")
    store.accept("t1", "ann")
    store.complete("t1", "ann")
    with pytest.raises(FailedPrecondition, match="completed"):
        store.cancel("t1")
    with pytest.raises(NotFound):
        store.cancel("zzz")


def test_purge_forgets_finished_tickets_so_ids_can_be_reused(store: QueueStore) -> None:
    store.enqueue("t1", "support", 2, "email")
    store.enqueue("t2", "support", 2, "email")
    store.cancel("t1")

    assert store.purge_finished(retention_s=3600) == 0
    assert store.purge_finished(retention_s=0) == 1
    assert store.get_ticket("t1") is None
    assert store.get_ticket("t2") is not None
    assert store.enqueue("t1", "support", 2, "email").created


def test_durations_and_times_are_bounded_where_the_scripts_store_them(store: QueueStore) -> None:
    with pytest.raises(InvalidArgument, match="100 years") as error:
        store.set_queue_policy("support", offer_timeout_s=1e300)
    assert error.value.field == "offer_timeout_s"
    with pytest.raises(InvalidArgument, match="100 years"):
        store.set_queue_policy("support", cooloff_s=4e9)
    store.set_queue_policy("support", offer_timeout_s=MAX_DURATION_S)
    store.upsert_agent("ann", ["support"], {}, {"email": 2})
    store.enqueue("latest", "support", 2, "email", deadline_ts=MAX_EPOCH_S)
    store.enqueue("near", "support", 2, "email", deadline_ts=2_000_000_000.0)
    assert store.assign("support").ticket_id == "near"  # type: ignore[union-attr]
    assert store.assign("support").ticket_id == "latest"  # type: ignore[union-attr]
    assert store.expire_due(10) == []  # a 100-year offer does not expire now


def test_a_transfer_for_a_holder_moves_only_a_ticket_it_holds(store: QueueStore) -> None:
    store.set_queue_policy("tier2")
    store.upsert_agent("ann", ["support"], {}, {"email": 1})
    store.upsert_agent("bob", ["support"], {}, {"email": 1})
    store.enqueue("t1", "support", 2, "email")
    store.enqueue("t2", "support", 2, "email")
    holder_of_t1 = store.assign("support").agent_id  # type: ignore[union-attr]
    other = "bob" if holder_of_t1 == "ann" else "ann"
    store.enqueue("t3", "support", 2, "email")  # waits: nobody is free after t2's offer
    store.assign("support")

    for ticket_id, agent in (("t1", other), ("t3", holder_of_t1)):
        with pytest.raises(NotOfferHolder, match="may transfer only tickets"):
            store.transfer(ticket_id, "tier2", holder=agent)
    assert store.get_ticket("t1").queue == "support"  # type: ignore[union-attr]
    moved = store.transfer("t1", "tier2", holder=holder_of_t1)
    assert (moved.queue, moved.status) == ("tier2", TicketStatus.WAITING)
