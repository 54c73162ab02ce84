"""A ticket's whole life over the real gRPC API: submit, offer, accept, respond, resolve."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from sqlmodel import Session

from clients.client import AsyncRouterClient
from clients.requests import make_agent, make_ticket
from router.api.ticket_router.v1 import agent_service_pb2 as agents_pb
from router.api.ticket_router.v1 import queue_service_pb2 as queues_pb
from router.api.ticket_router.v1 import ticket_pb2 as pb
from router.api.ticket_router.v1 import ticket_service_pb2 as tickets_pb
from router.history.models import Ticket as HistoryTicket
from router.serve import Running
from tests.router.service.conftest import eventually

INVOICE = make_ticket(
    "t-invoice-1",
    "Invoice charged twice",
    "Hello, my credit card was charged twice for the March invoice. Please refund.",
    channel="email",
    customer_tier="premium",
)


async def upsert(client: AsyncRouterClient, agent_id: str, queues: list[str]) -> None:
    await client.call(
        "AgentService", "UpsertAgent",
        agents_pb.UpsertAgentRequest(agent=make_agent(agent_id, queues, {"email": 2, "chat": 1})),
    )


async def get(client: AsyncRouterClient, ticket_id: str) -> tickets_pb.GetTicketResponse:
    return await client.call(  # type: ignore[no-any-return]
        "TicketService", "GetTicket", tickets_pb.GetTicketRequest(ticket_id=ticket_id)
    )


async def test_submit_routes_scores_and_offers(client: AsyncRouterClient) -> None:
    first = await client.submit_ticket(INVOICE)
    assert first.created
    assert first.decision.queue  # routed somewhere the rules allow
    assert first.scores.category in first.scores.category_probabilities
    assert 0.0 <= first.scores.sla_risk <= 1.0
    assert first.state == pb.TICKET_STATE_WAITING  # nobody is on shift yet

    again = await client.submit_ticket(INVOICE)
    assert not again.created
    assert again.scores == first.scores and again.decision == first.decision


async def test_whole_lifecycle_with_offer_stream(
    client: AsyncRouterClient, router: Running
) -> None:
    submitted = await client.submit_ticket(INVOICE)
    queue = submitted.decision.queue
    await upsert(client, "alice", [queue])

    stream = client.stream_offers("alice")
    message = await asyncio.wait_for(stream.read(), 10)
    assert message.offer.ticket.id == INVOICE.id
    assert message.offer.ticket.subject == INVOICE.subject
    stream.cancel()

    with pytest.raises(grpc.aio.AioRpcError) as stale:
        await client.call(
            "AgentService", "AcceptOffer",
            agents_pb.AcceptOfferRequest(
                agent_id="alice", ticket_id=INVOICE.id, offer_id=f"{INVOICE.id}@1"
            ),
        )
    assert stale.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    accepted = await client.call(
        "AgentService", "AcceptOffer",
        agents_pb.AcceptOfferRequest(
            agent_id="alice", ticket_id=INVOICE.id, offer_id=message.offer.offer_id
        ),
    )
    assert accepted.assignment.agent_id == "alice"
    responded = await client.call(
        "TicketService", "RecordFirstResponse",
        tickets_pb.RecordFirstResponseRequest(ticket_id=INVOICE.id, agent_id="alice"),
    )
    assert not responded.already_recorded
    resolved = await client.call(
        "TicketService", "ResolveTicket",
        tickets_pb.ResolveTicketRequest(ticket_id=INVOICE.id, agent_id="alice"),
    )
    assert not resolved.already_resolved

    async def timeline_complete() -> bool:
        ticket = await get(client, INVOICE.id)
        types = [event.type for event in ticket.events]
        return ticket.state == pb.TICKET_STATE_RESOLVED and "completed" in types

    await eventually(timeline_complete)
    ticket = await get(client, INVOICE.id)
    types = [event.type for event in ticket.events]
    assert types[0] == "enqueued"
    assert types.index("offered") < types.index("accepted") < types.index("completed")
    assert "first_response" in types
    assert ticket.accepted_at.ToDatetime() <= ticket.resolved_at.ToDatetime()
    with Session(router.app.engine) as session:  # the submission itself is in the history
        row = session.get(HistoryTicket, INVOICE.id)
        assert row is not None
        assert (row.subject, row.queue) == (INVOICE.subject, queue)
        assert row.rule_version >= 1

    stats = await client.call(
        "QueueService", "GetQueueStats", queues_pb.GetQueueStatsRequest(queue=queue)
    )
    assert stats.stats.depth == 0
    assert stats.stats.agents_available == 1


async def test_rejected_offer_goes_to_the_next_agent(client: AsyncRouterClient) -> None:
    submitted = await client.submit_ticket(INVOICE)
    queue = submitted.decision.queue
    await upsert(client, "bob", [queue])
    offered_to = (await get(client, INVOICE.id)).agent_id
    assert offered_to == "bob"
    await upsert(client, "carol", [queue])
    await client.call(
        "AgentService", "RejectOffer",
        agents_pb.RejectOfferRequest(agent_id="bob", ticket_id=INVOICE.id),
    )

    async def offered_to_carol() -> bool:
        ticket = await get(client, INVOICE.id)
        return ticket.state == pb.TICKET_STATE_OFFERED and ticket.agent_id == "carol"

    await eventually(offered_to_carol)


async def test_unanswered_offer_expires_and_comes_back(client: AsyncRouterClient) -> None:
    submitted = await client.submit_ticket(INVOICE)
    await upsert(client, "dave", [submitted.decision.queue])
    assert (await get(client, INVOICE.id)).agent_id == "dave"
    await upsert(client, "erin", [submitted.decision.queue])

    async def moved_to_erin() -> bool:  # offers time out after 2 s in these tests
        return (await get(client, INVOICE.id)).agent_id == "erin"

    await eventually(moved_to_erin, timeout=15)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await client.call(
            "AgentService", "AcceptOffer",
            agents_pb.AcceptOfferRequest(agent_id="dave", ticket_id=INVOICE.id),
        )
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_transfer_moves_and_reprioritizes(client: AsyncRouterClient) -> None:
    submitted = await client.submit_ticket(INVOICE)
    target = "sales" if submitted.decision.queue != "sales" else "billing"
    moved = await client.call(
        "TicketService", "TransferTicket",
        tickets_pb.TransferTicketRequest(
            ticket_id=INVOICE.id, queue=target, priority=pb.PRIORITY_P1
        ),
    )
    assert (moved.queue, moved.priority) == (target, pb.PRIORITY_P1)
    assert moved.state == pb.TICKET_STATE_WAITING
    ticket = await get(client, INVOICE.id)
    assert (ticket.queue, ticket.priority) == (target, pb.PRIORITY_P1)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await client.call(
            "TicketService", "TransferTicket",
            tickets_pb.TransferTicketRequest(ticket_id=INVOICE.id, queue="no-such-queue"),
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND



async def test_the_timeline_keeps_why_a_ticket_was_rejected_moved_resolved_or_cancelled(
    client: AsyncRouterClient,
) -> None:
    submitted = await client.submit_ticket(INVOICE)
    target = "sales" if submitted.decision.queue != "sales" else "billing"
    await upsert(client, "bob", [submitted.decision.queue])
    await client.call("AgentService", "RejectOffer", agents_pb.RejectOfferRequest(
        agent_id="bob", ticket_id=INVOICE.id, reason="busy with an outage"))
    await client.call("TicketService", "TransferTicket", tickets_pb.TransferTicketRequest(
        ticket_id=INVOICE.id, queue=target, reason="the customer asks for a quote"))
    await upsert(client, "carol", [target])

    async def offered_to_carol() -> bool:
        return (await get(client, INVOICE.id)).agent_id == "carol"

    await eventually(offered_to_carol)
    await client.call("AgentService", "AcceptOffer",
                      agents_pb.AcceptOfferRequest(agent_id="carol", ticket_id=INVOICE.id))
    await client.call("TicketService", "ResolveTicket", tickets_pb.ResolveTicketRequest(
        ticket_id=INVOICE.id, agent_id="carol", resolution="refunded"))
    other = make_ticket("t-invoice-2", "Wrong address", "Please change my address.")
    await client.submit_ticket(other)
    await client.call("TicketService", "CancelTicket", tickets_pb.CancelTicketRequest(
        ticket_id=other.id, reason="sent twice"))
    await client.call("TicketService", "CancelTicket", tickets_pb.CancelTicketRequest(
        ticket_id=other.id, reason="a retry adds no event"))

    async def data_of(ticket_id: str, last: str) -> dict[str, dict[str, str]] | None:
        events = (await get(client, ticket_id)).events
        by_type = {event.type: dict(event.data) for event in events}
        return by_type if last in by_type else None

    await eventually(lambda: data_of(INVOICE.id, "completed"))
    await eventually(lambda: data_of(other.id, "cancelled"))
    resolved = await data_of(INVOICE.id, "completed")
    assert resolved is not None
    assert (resolved["rejected"]["reason"], resolved["rejected"]["note"]) == (
        "rejected", "busy with an outage")
    assert resolved["transferred"]["note"] == "the customer asks for a quote"
    assert resolved["completed"]["resolution"] == "refunded"
    cancelled = [event for event in (await get(client, other.id)).events
                 if event.type == "cancelled"]
    assert [event.data["note"] for event in cancelled] == ["sent twice"]


RISK_RULES = """
queues: [never, risky]
default_queue: triage
default_priority: P3
rules:
  - id: never
    when: {sla_risk: {lt: 0.0}}
    route_to: never
  - id: any-risk
    when: {sla_risk: {ge: 0.0}}
    route_to: risky
"""


async def test_rules_on_sla_risk_see_the_risk(client: AsyncRouterClient, router: Running) -> None:
    from router.api.ticket_router.v1 import rule_service_pb2 as rules_pb

    await client.call("RuleService", "PublishRules", rules_pb.PublishRulesRequest(
        text=RISK_RULES, format=rules_pb.RULE_FORMAT_YAML))

    reply = await client.submit_ticket(INVOICE)

    # both rules test the risk: the first fails on it, the second matches on it
    assert (reply.decision.queue, reply.decision.rule_id) == ("risky", "any-risk")
    assert 0.0 <= reply.scores.sla_risk <= 1.0


URGENT_RULES = """
queues: [urgent]
default_queue: triage
default_priority: P4
rules:
  - id: refunds-urgent
    when: {subject: {matches: "(?i)refund"}}
    set_priority: P1
    route_to: urgent
"""


async def test_the_sla_risk_is_scored_at_the_priority_the_ticket_is_queued_with(
    client: AsyncRouterClient, router: Running
) -> None:
    from router.api.ticket_router.v1 import rule_service_pb2 as rules_pb
    from router.scoring_adapter import scoring_ticket
    from scoring.features import QueueState

    await client.call("RuleService", "PublishRules", rules_pb.PublishRulesRequest(
        text=URGENT_RULES, format=rules_pb.RULE_FORMAT_YAML))
    ticket = make_ticket("t-refund", "Refund please", "I was charged twice.", channel="email")

    reply = await client.submit_ticket(ticket)

    assert reply.decision.priority == pb.PRIORITY_P1
    # the queue was empty when the ticket came: its state at arrival is known exactly
    scorer, plain = router.app.scoring.scorer, scoring_ticket(ticket)
    at = {p: scorer.sla_risk(plain, QueueState(0, 0, 0.0, priority=p)) for p in ("P1", "P4")}
    assert at["P1"] != at["P4"]  # the priority matters to the risk model, so this can fail
    assert reply.scores.sla_risk == pytest.approx(at["P1"], abs=1e-9)
    stored = await router.app.queues.get_ticket("t-refund")
    assert stored is not None and stored.sla_model_risk == pytest.approx(at["P1"], abs=1e-9)
    # kept with it: the basis its SLA re-checks score from without the text, the same risk
    assert stored.sla_basis is not None
    from_basis = router.app.scoring.sla_risk_from_basis(stored.sla_basis, None, "P1")
    assert from_basis == reply.scores.sla_risk


async def test_a_submission_schedules_its_first_sla_check_as_the_sweep_would(
    client: AsyncRouterClient, router: Running
) -> None:
    from queues import Keys
    from router.tasks import cancel_and_wait

    subjects = ["Invoice charged twice", "Password reset link expired", "Parcel never arrived",
                "Production outage: all logins fail", "Question about my plan", "Refund please"]
    tiers = ["free", "standard", "premium", "enterprise"]
    tickets = [make_ticket(f"t-check-{n}", subjects[n % len(subjects)], "Please help.",
                           channel="email", customer_tier=tiers[n % len(tiers)])
               for n in range(12)]
    for task in router.app._tasks:  # no sweep meanwhile: what is due stays due
        if task.get_name() == "sla-sweep":
            await cancel_and_wait(task)
    for ticket in tickets:
        await client.submit_ticket(ticket)

    checks = router.app.client
    deferred = 0
    for ticket in tickets:
        state = await router.app.queues.get_ticket(ticket.id)
        assert state is not None
        now_s = (await checks.time())[0]
        due_s = (await checks.zscore(Keys().sla_checks, ticket.id)) / 1000
        if due_s > now_s + 1:  # worked out at submission: nothing would change before then
            deferred += 1
            assert state.sla_risk == pytest.approx(state.sla_model_risk)  # just submitted
            assert not state.at_risk and due_s <= now_s + 31
        else:  # due at once: a check now changes something (here: at risk, or a level holds)
            assert state.sla_risk is None
    assert deferred >= 1
