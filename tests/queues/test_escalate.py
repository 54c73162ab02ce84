"""Escalation (one claim per ticket and level, with its actions) and the shared SLA checks."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable

import pytest
import redis
import redis.asyncio

from queues import AsyncQueueStore, QueueStore, SlaCheck, TicketStatus
from queues.events import Event
from router.errors import FailedPrecondition, InvalidArgument, NotFound
from tests.queues.test_tickets import drain_order

DEADLINES = {1: (2_000_000_100.0, 2_000_000_800.0), 2: (2_000_000_400.0, 2_000_002_400.0)}


def test_a_level_fires_once_and_applies_its_actions(
    store: QueueStore, events: Callable[[], list[Event]]
) -> None:
    store.enqueue("t1", "support", 3, "email", skills={"german": 2, "billing": 1},
                  deadline_ts=2_000_000_900.0)

    first = store.escalate("t1", "urgent", raise_by=1, relax_skills=["german", "absent"],
                           deadlines=DEADLINES, event_data={"sla_risk": 0.9})
    again = store.escalate("t1", "urgent", raise_by=1, deadlines=DEADLINES)

    assert first.won and not again.won
    assert again.ticket == first.ticket
    ticket = first.ticket
    assert (ticket.priority, ticket.skills, ticket.status) == (2, {"billing": 1},
                                                              TicketStatus.WAITING)
    assert (ticket.deadline_ts, ticket.resolve_deadline_ts) == DEADLINES[2]
    assert set(ticket.escalations) == {"urgent"}
    escalated = [e for e in events() if e.type == "escalated"]
    assert len(escalated) == 1
    assert escalated[0].queue == "support"
    assert escalated[0].data | {"deadline_ms": 0} == {
        "level": "urgent", "sla_risk": 0.9, "priority_from": 3, "priority_to": 2,
        "priority": 2, "from_queue": "support", "relaxed_skills": ["german"],
        "deadline_ms": 0, "channel": "email"}


def test_priority_is_never_lowered_and_deadlines_stay_without_a_change(
    store: QueueStore, events: Callable[[], list[Event]]
) -> None:
    store.enqueue("t1", "support", 1, "email", deadline_ts=2_000_000_050.0)

    result = store.escalate("t1", "raise", raise_by=2, raise_to=2, deadlines=DEADLINES)

    assert result.won
    assert (result.ticket.priority, result.ticket.deadline_ts) == (1, 2_000_000_050.0)
    assert result.ticket.resolve_deadline_ts is None
    [escalated] = [e for e in events() if e.type == "escalated"]
    assert (escalated.data["priority_from"], escalated.data["priority_to"]) == (1, 1)


def test_raise_to_a_priority_reranks_the_waiting_ticket(store: QueueStore) -> None:
    store.enqueue("a", "support", 2, "email")
    store.enqueue("b", "support", 4, "email")

    result = store.escalate("b", "urgent", raise_to=1)

    assert result.ticket.priority == 1
    assert drain_order(store) == ["b", "a"]


def test_moving_an_offered_ticket_frees_its_agent_and_says_so(
    store: QueueStore, events: Callable[[], list[Event]]
) -> None:
    store.set_queue_policy("escalations")
    store.upsert_agent("ann", ["support"], {}, {"email": 1})
    store.enqueue("t1", "support", 3, "email")
    store.assign("support")

    result = store.escalate("t1", "handover", to_queue="escalations", deadlines=DEADLINES)

    ticket = result.ticket
    assert (ticket.status, ticket.queue, ticket.agent_id) == (
        TicketStatus.WAITING, "escalations", None)
    assert ticket.deadline_ts is None  # priority 3 has no deadline given: kept
    agent = store.get_agent("ann")
    assert agent is not None and agent.load == {} and agent.offers == []
    assert store.queue_stats("escalations").depth == 1
    assert store.queue_stats("support").depth == 0
    kinds = [(e.type, e.queue, e.agent_id) for e in events()][-2:]
    assert kinds == [("transferred", "escalations", "ann"), ("escalated", "escalations", None)]


def test_without_an_event_the_state_changes_are_still_in_the_stream(
    store: QueueStore, events: Callable[[], list[Event]]
) -> None:
    store.set_queue_policy("escalations")
    store.enqueue("t1", "support", 3, "email")

    store.escalate("t1", "quiet", raise_by=1, to_queue="escalations", emit_event=False)

    assert [e.type for e in events()] == ["enqueued", "reprioritized", "transferred"]


def test_refusals_claim_nothing(store: QueueStore) -> None:
    store.upsert_agent("ann", ["support"], {}, {"email": 1})
    store.enqueue("t1", "support", 3, "email")
    with pytest.raises(NotFound, match="escalation queue nowhere does not exist"):
        store.escalate("t1", "move", to_queue="nowhere")
    with pytest.raises(NotFound):
        store.escalate("missing", "move")
    with pytest.raises(InvalidArgument):
        store.escalate("t1", "move", raise_by=-1)
    ticket = store.get_ticket("t1")
    assert ticket is not None and ticket.escalations == {}

    store.assign("support")
    store.accept("t1", "ann")
    store.complete("t1", "ann")
    with pytest.raises(FailedPrecondition, match="completed"):
        store.escalate("t1", "move")


def test_an_answered_ticket_is_not_escalated_by_a_sweep_that_decided_before(
    store: QueueStore,
) -> None:
    store.upsert_agent("ann", ["support"], {}, {"email": 1})
    store.enqueue("t1", "support", 2, "email")
    claimed = store.claim_sla_checks(10, 30.0)  # the sweep's snapshot: unanswered
    assert [c.ticket.ticket_id for c in claimed.checks] == ["t1"]
    store.assign("support")
    store.accept("t1", "ann")
    store.record_first_response("t1", "ann")

    with pytest.raises(FailedPrecondition, match="answered"):
        store.escalate("t1", "breach", raise_by=1, to_queue="escalations")

    ticket = store.get_ticket("t1")
    assert ticket is not None
    assert (ticket.status, ticket.agent_id, ticket.queue, ticket.priority) == (
        TicketStatus.ASSIGNED, "ann", "support", 2)
    assert ticket.escalations == {}


def test_concurrent_escalations_of_one_level_have_one_winner(redis_url: str) -> None:
    QueueStore(redis.Redis.from_url(redis_url)).set_queue_policy("support")
    QueueStore(redis.Redis.from_url(redis_url)).enqueue("t1", "support", 4, "email")
    wins: list[bool] = []
    start = threading.Barrier(8)

    def escalate() -> None:
        store = QueueStore(redis.Redis.from_url(redis_url))
        start.wait()
        for level in ("warn", "raise", "urgent"):
            wins.append(store.escalate("t1", level, raise_by=1).won)

    threads = [threading.Thread(target=escalate) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert Counter(wins) == {True: 3, False: 21}
    ticket = QueueStore(redis.Redis.from_url(redis_url)).get_ticket("t1")
    assert ticket is not None and ticket.priority == 1


# --- SLA checks ---------------------------------------------------------------------------


def test_due_tickets_are_claimed_by_one_caller_per_interval(store: QueueStore) -> None:
    for n in range(5):
        store.enqueue(f"t{n}", "support", 3, "email")

    first = store.claim_sla_checks(limit=3, interval_s=60)
    second = store.claim_sla_checks(limit=10, interval_s=60)
    third = store.claim_sla_checks(limit=10, interval_s=60)

    assert [c.ticket.ticket_id for c in first.checks] == ["t0", "t1", "t2"]
    assert [c.ticket.ticket_id for c in second.checks] == ["t3", "t4"]
    assert third.checks == []
    assert all(c.rescore for c in first.checks + second.checks)
    assert abs(first.now - time.time()) < 5


def test_an_early_check_reuses_the_model_risk(store: QueueStore) -> None:
    store.enqueue("t1", "support", 3, "email")
    [claimed] = store.claim_sla_checks(limit=10, interval_s=60).checks
    assert claimed.rescore
    # Checked again in 10 ms (e.g. a time-left trigger is near), scored at most once a minute.
    store.record_sla_checks([SlaCheck("t1", at_risk=False, next_check_at=time.time() + 0.01,
                                      sla_risk=0.3, model_risk=0.2)])
    time.sleep(0.05)

    [again] = store.claim_sla_checks(limit=10, interval_s=60).checks

    assert not again.rescore
    assert (again.ticket.sla_risk, again.ticket.sla_model_risk) == (0.3, 0.2)


def test_a_check_keeps_the_sla_basis_until_the_checks_stop(store: QueueStore) -> None:
    store.upsert_agent("ann", ["support"], {}, {"email": 2})
    for n in range(3):
        store.enqueue(f"t{n}", "support", 3, "email")
    store.claim_sla_checks(limit=10, interval_s=0.001)
    later = time.time() + 60
    basis = '{"model": "m1", "text": [0.5], "middle": [1.0, NaN]}'  # opaque to the queues
    store.record_sla_checks([SlaCheck(f"t{n}", at_risk=False, next_check_at=later,
                                      model_risk=0.2, sla_basis=basis) for n in range(3)])
    store.record_sla_checks([SlaCheck("t2", at_risk=False, next_check_at=later)])  # no new one

    assert [store.get_ticket(f"t{n}").sla_basis for n in range(3)] == [basis] * 3  # type: ignore[union-attr]
    offer = store.assign("support")
    assert offer is not None
    store.accept(offer.ticket_id, "ann")
    store.record_first_response(offer.ticket_id, "ann")
    cancelled = next(f"t{n}" for n in range(3) if f"t{n}" != offer.ticket_id)
    store.cancel(cancelled)

    assert store.get_ticket(offer.ticket_id).sla_basis is None  # type: ignore[union-attr]
    assert store.get_ticket(cancelled).sla_basis is None  # type: ignore[union-attr]
    with pytest.raises(InvalidArgument, match="at most 16384 characters"):
        store.record_sla_checks([SlaCheck("t1", at_risk=False, next_check_at=later,
                                          sla_basis="x" * 20_000)])


def test_at_risk_tickets_are_counted_per_queue_until_answered(store: QueueStore) -> None:
    store.set_queue_policy("escalations")
    store.upsert_agent("ann", ["support"], {}, {"email": 1})
    for n in range(3):
        store.enqueue(f"t{n}", "support", 3, "email")
    store.claim_sla_checks(limit=10, interval_s=60)
    later = time.time() + 60
    store.record_sla_checks([SlaCheck(f"t{n}", at_risk=True, next_check_at=later)
                             for n in range(3)])
    assert store.queue_stats("support").at_risk == 3

    store.escalate("t0", "move", to_queue="escalations")
    offer = store.assign("support")
    assert offer is not None
    store.accept(offer.ticket_id, "ann")
    store.record_first_response(offer.ticket_id, "ann")
    store.cancel("t2" if offer.ticket_id != "t2" else "t1")
    store.record_sla_checks([SlaCheck("t1", at_risk=True, next_check_at=later)])

    assert store.queue_stats("support").at_risk == 0
    assert store.queue_stats("escalations").at_risk == 1
    assert store.get_ticket(offer.ticket_id).at_risk is False  # type: ignore[union-attr]


def test_answered_and_finished_tickets_leave_the_checks(store: QueueStore) -> None:
    store.upsert_agent("ann", ["support"], {}, {"email": 2})
    for n in range(3):
        store.enqueue(f"t{n}", "support", 3, "email")
    store.assign("support")
    store.accept("t0", "ann")
    store.record_first_response("t0", "ann")
    store.cancel("t1")

    claimed = store.claim_sla_checks(limit=10, interval_s=0.001).checks

    assert [c.ticket.ticket_id for c in claimed] == ["t2"]


def test_claims_refuse_bad_limits(store: QueueStore) -> None:
    with pytest.raises(InvalidArgument):
        store.claim_sla_checks(limit=0, interval_s=1)
    with pytest.raises(InvalidArgument):
        store.claim_sla_checks(limit=10, interval_s=0)
    with pytest.raises(InvalidArgument, match="probability"):
        store.record_sla_checks([SlaCheck("t1", at_risk=True, next_check_at=1.0,
                                          sla_risk=float("nan"))])


async def test_async_store_escalates_and_claims(redis_url: str) -> None:
    client = redis.asyncio.Redis.from_url(redis_url)
    store = AsyncQueueStore(client)
    try:
        await store.set_queue_policy("support")
        await store.enqueue("t1", "support", 3, "email")
        checks = await store.claim_sla_checks(limit=5, interval_s=30)
        assert [c.ticket.ticket_id for c in checks.checks] == ["t1"]
        first = await store.escalate("t1", "warn", raise_by=1)
        again = await store.escalate("t1", "warn", raise_by=1)
        assert (first.won, again.won, again.ticket.priority) == (True, False, 2)
        assert await store.record_sla_checks(
            [SlaCheck("t1", at_risk=True, next_check_at=time.time())]) == 1
        assert (await store.queue_stats("support")).at_risk == 1
    finally:
        await client.aclose()
