"""UpsertAgent changes an agent's profile, never its status (SetAgentStatus does)."""

from __future__ import annotations

from clients.client import AsyncRouterClient
from clients.requests import make_agent, make_ticket
from router.api.ticket_router.v1 import agent_service_pb2 as agents_pb
from router.api.ticket_router.v1 import ticket_pb2 as pb
from router.api.ticket_router.v1 import ticket_service_pb2 as tickets_pb

INVOICE = make_ticket("t-profile-1", "Invoice charged twice", "Refund the second charge.")


async def upsert(
    client: AsyncRouterClient, agent: agents_pb.Agent
) -> agents_pb.UpsertAgentResponse:
    return await client.call(  # type: ignore[no-any-return]
        "AgentService", "UpsertAgent", agents_pb.UpsertAgentRequest(agent=agent)
    )


async def set_status(client: AsyncRouterClient, agent_id: str, status: int) -> None:
    await client.call("AgentService", "SetAgentStatus",
                      agents_pb.SetAgentStatusRequest(agent_id=agent_id, status=status))


async def ticket_state(client: AsyncRouterClient) -> tuple[int, str]:
    ticket = await client.call(
        "TicketService", "GetTicket", tickets_pb.GetTicketRequest(ticket_id=INVOICE.id)
    )
    return ticket.state, ticket.agent_id


async def test_a_profile_update_keeps_an_away_agent_away(client: AsyncRouterClient) -> None:
    queue = (await client.submit_ticket(INVOICE)).decision.queue
    await upsert(client, make_agent("alice", [queue], {"chat": 1}))  # no e-mail capacity yet
    await set_status(client, "alice", agents_pb.AGENT_STATUS_AWAY)

    # A lead gives her e-mail capacity while she is on a break (the request says "available").
    updated = await upsert(client, make_agent("alice", [queue], {"chat": 1, "email": 2}))
    assert updated.agent.status == agents_pb.AGENT_STATUS_AWAY
    assert dict(updated.agent.capacity) == {"chat": 1, "email": 2}
    assert await ticket_state(client) == (pb.TICKET_STATE_WAITING, "")  # no offer on a break

    await set_status(client, "alice", agents_pb.AGENT_STATUS_AVAILABLE)
    assert await ticket_state(client) == (pb.TICKET_STATE_OFFERED, "alice")


async def test_a_new_agent_starts_available_whatever_the_request_says(
    client: AsyncRouterClient,
) -> None:
    created = await upsert(client, make_agent("bob", ["triage"], {"email": 1}, status="offline"))
    assert created.created and created.agent.status == agents_pb.AGENT_STATUS_AVAILABLE


async def test_an_offer_the_new_profile_does_not_fit_goes_to_another_agent(
    client: AsyncRouterClient,
) -> None:
    queue = (await client.submit_ticket(INVOICE)).decision.queue
    await upsert(client, make_agent("alice", [queue], {"email": 1}))
    assert await ticket_state(client) == (pb.TICKET_STATE_OFFERED, "alice")
    await upsert(client, make_agent("bob", [queue], {"email": 1}))  # full house: no change

    # A lead moves alice to another queue while the offer is open: it goes to bob at once.
    await upsert(client, make_agent("alice", ["triage" if queue != "triage" else "billing"],
                                    {"email": 1}))
    assert await ticket_state(client) == (pb.TICKET_STATE_OFFERED, "bob")
