"""Submit: enqueue and the queue's first offer in one script."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import pytest
import redis

from queues import FirstSlaCheck, Keys, QueueStore, TicketStatus
from queues.events import Event
from router.errors import InvalidArgument, NotFound


def test_submit_offers_the_new_ticket_at_once_when_an_agent_fits(
    store: QueueStore, events: Callable[[], list[Event]]
) -> None:
    store.upsert_agent("ann", ["support"], {"french": 2}, {"email": 2})

    submitted = store.submit("t1", "support", 2, "email", skills={"french": 2},
                             deadline_ts=2_000_000_000.5, data={"subject": "hi"})

    ticket, offer = submitted.ticket, submitted.offer
    assert ticket.created and ticket.status is TicketStatus.OFFERED
    assert offer is not None and (offer.ticket_id, offer.agent_id) == ("t1", "ann")
    assert (ticket.agent_id, ticket.offers_made) == ("ann", 1)
    assert ticket.offer_expires_at == offer.expires_at
    assert ticket.data == {"subject": "hi"}  # what was sent; the reply leaves it out
    stored = store.get_ticket("t1")
    assert stored == dataclasses.replace(ticket, created=False)
    assert [e.type for e in events()] == ["enqueued", "offered"]


def test_submit_without_an_agent_leaves_the_ticket_waiting(store: QueueStore) -> None:
    store.upsert_agent("bob", ["support"], {}, {"chat": 1})  # no email capacity

    submitted = store.submit("t1", "support", 3, "email", data={"subject": "hi"})

    assert submitted.offer is None
    assert submitted.ticket.status is TicketStatus.WAITING
    assert store.queue_stats("support").depth == 1
    stored = store.get_ticket("t1")  # saved by the script although no offer saved it
    assert stored == dataclasses.replace(submitted.ticket, created=False)
    assert stored is not None and stored.data == {"subject": "hi"}


def test_submit_offers_an_older_waiting_ticket_first(store: QueueStore) -> None:
    store.enqueue("old", "support", 1, "email")
    store.upsert_agent("ann", ["support"], {}, {"email": 1})

    submitted = store.submit("new", "support", 3, "email", data={"subject": "hi"})

    assert submitted.offer is not None and submitted.offer.ticket_id == "old"
    assert submitted.ticket.status is TicketStatus.WAITING
    assert store.get_ticket("old").status is TicketStatus.OFFERED  # type: ignore[union-attr]
    stored = store.get_ticket("new")
    assert stored == dataclasses.replace(submitted.ticket, created=False)
    assert stored is not None and stored.data == {"subject": "hi"}


def test_submit_of_a_known_id_changes_nothing_and_offers_nothing(
    store: QueueStore, events: Callable[[], list[Event]]
) -> None:
    first = store.submit("t1", "support", 3, "email", data={"n": 1})
    store.upsert_agent("ann", ["support"], {}, {"email": 1})
    before = len(events())

    again = store.submit("t1", "support", 1, "chat", data={"n": 2})

    assert again.ticket.created is False and again.offer is None
    assert (again.ticket.priority, again.ticket.data) == (3, {"n": 1})
    assert again.ticket.enqueued_at == first.ticket.enqueued_at
    assert len(events()) == before
    assert store.get_ticket("t1").status is TicketStatus.WAITING  # type: ignore[union-attr]


def test_submit_refuses_an_unknown_queue(store: QueueStore) -> None:
    with pytest.raises(NotFound, match="queue nowhere does not exist") as error:
        store.submit("t1", "nowhere", 1, "email")
    assert error.value.field == "queue"
    assert store.get_ticket("t1") is None


def test_the_submissions_model_risk_spares_the_first_sla_check_a_scoring(
    store: QueueStore,
) -> None:
    store.submit("scored", "support", 3, "email", sla_model_risk=0.25)
    store.submit("unscored", "support", 3, "email")

    claimed = {c.ticket.ticket_id: c for c in store.claim_sla_checks(10, 60.0).checks}

    assert claimed["scored"].rescore is False
    assert claimed["scored"].ticket.sla_model_risk == 0.25
    assert claimed["unscored"].rescore is True


def test_submit_keeps_the_sla_basis_it_is_given(store: QueueStore) -> None:
    basis = '{"model": "m1", "text": [0.5], "middle": [1.0, NaN]}'  # opaque to the queues
    submitted = store.submit("t1", "support", 3, "email", data={"n": 1}, sla_basis=basis)
    store.submit("t2", "support", 3, "email")

    assert store.get_ticket("t1") == dataclasses.replace(submitted.ticket, created=False)
    assert submitted.ticket.sla_basis == basis and submitted.ticket.data == {"n": 1}
    assert store.get_ticket("t2").sla_basis is None  # type: ignore[union-attr]
    again = store.submit("t1", "support", 3, "email", sla_basis="{}")
    assert again.ticket.sla_basis == basis  # the first submission's
    with pytest.raises(InvalidArgument) as error:
        store.submit("t3", "support", 3, "email", sla_basis="x" * 20_000)
    assert error.value.field == "sla_basis"
    assert store.get_ticket("t3") is None


def test_submit_refuses_a_risk_that_is_no_probability(store: QueueStore) -> None:
    with pytest.raises(InvalidArgument) as error:
        store.submit("t1", "support", 3, "email", sla_model_risk=1.5)
    assert error.value.field == "sla_model_risk"
    assert store.get_ticket("t1") is None


def test_a_first_sla_check_worked_out_at_submission_comes_later_with_its_risk(
    store: QueueStore, redis_client: redis.Redis
) -> None:
    store.submit("later", "support", 3, "email", sla_model_risk=0.25,
                 first_sla_check=FirstSlaCheck(in_s=30.0, sla_risk=0.3))
    store.submit("now", "support", 3, "email", sla_model_risk=0.25)

    claimed = store.claim_sla_checks(10, 60.0)

    assert [c.ticket.ticket_id for c in claimed.checks] == ["now"]
    due = redis_client.zscore(Keys().sla_checks, "later")
    assert due is not None and due / 1000 == pytest.approx(claimed.now + 30.0, abs=1.0)
    later = store.get_ticket("later")
    assert later is not None and later.sla_risk == 0.3 and later.sla_model_risk == 0.25


def test_submit_takes_a_risk_of_any_real_number_type(store: QueueStore) -> None:
    store.submit("t1", "support", 3, "email", sla_model_risk=np.float32(0.25),
                 first_sla_check=FirstSlaCheck(in_s=10.0, sla_risk=np.float64(0.5)))

    ticket = store.get_ticket("t1")
    assert ticket is not None and ticket.sla_model_risk == 0.25 and ticket.sla_risk == 0.5


@pytest.mark.parametrize(
    "check", [FirstSlaCheck(in_s=-1.0), FirstSlaCheck(in_s=float("inf")),
              FirstSlaCheck(in_s=5.0, sla_risk=1.5)]
)
def test_submit_refuses_a_first_sla_check_out_of_range(
    store: QueueStore, check: FirstSlaCheck
) -> None:
    with pytest.raises(InvalidArgument) as error:
        store.submit("t1", "support", 3, "email", first_sla_check=check)
    assert error.value.field == "first_sla_check"
    assert store.get_ticket("t1") is None
