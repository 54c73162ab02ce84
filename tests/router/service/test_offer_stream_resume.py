"""StreamOffers: a desktop that reconnects with its last resume token misses no withdrawal."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from clients.client import AsyncRouterClient
from clients.requests import make_agent, make_ticket
from router.api.ticket_router.v1 import agent_service_pb2 as agents_pb

INVOICE = make_ticket("t-resume-1", "Invoice charged twice", "Refund the second charge.")


async def set_status(client: AsyncRouterClient, status: int) -> None:
    await client.call("AgentService", "SetAgentStatus",
                      agents_pb.SetAgentStatusRequest(agent_id="alice", status=status))


async def first(stream: object) -> agents_pb.StreamOffersResponse:
    return await asyncio.wait_for(stream.read(), 10)  # type: ignore[attr-defined,no-any-return]


async def test_a_withdrawal_while_disconnected_is_sent_on_resume(
    client: AsyncRouterClient,
) -> None:
    queue = (await client.submit_ticket(INVOICE)).decision.queue
    await client.call("AgentService", "UpsertAgent", agents_pb.UpsertAgentRequest(
        agent=make_agent("alice", [queue], {"email": 2})))
    stream = client.stream_offers("alice")
    offered = await first(stream)
    assert offered.offer.ticket.id == INVOICE.id and offered.resume_token
    stream.cancel()

    # away from the desk: the offer is withdrawn; back: the ticket is offered again (new id)
    await set_status(client, agents_pb.AGENT_STATUS_AWAY)
    await set_status(client, agents_pb.AGENT_STATUS_AVAILABLE)

    resumed = client.stream_offers("alice", resume_after=offered.resume_token)
    withdrawn, again = await first(resumed), await first(resumed)
    resumed.cancel()
    assert withdrawn.WhichOneof("kind") == "withdrawal"
    assert (withdrawn.withdrawal.ticket_id, withdrawn.withdrawal.offer_id) == (
        INVOICE.id, offered.offer.offer_id)
    assert withdrawn.withdrawal.reason == "agent away" and withdrawn.resume_token
    assert again.offer.ticket.id == INVOICE.id
    assert again.offer.offer_id != offered.offer.offer_id and again.resume_token

    # a fresh connection (no token) gets only what is open now
    fresh = client.stream_offers("alice")
    only = await first(fresh)
    fresh.cancel()
    assert only.offer.offer_id == again.offer.offer_id


async def test_a_malformed_resume_token_is_invalid_argument(client: AsyncRouterClient) -> None:
    await client.call("AgentService", "UpsertAgent", agents_pb.UpsertAgentRequest(
        agent=make_agent("alice", ["triage"], {"email": 2})))
    stream = client.stream_offers("alice", resume_after="yesterday")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await first(stream)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "resume_after" in (caught.value.details() or "")
