"""Redis stopped under a running router: calls fail UNAVAILABLE, and all recovers on its return."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest

from clients.client import AsyncRouterClient
from clients.requests import make_agent, make_ticket
from router.api.ticket_router.v1 import agent_service_pb2 as agents_pb
from router.api.ticket_router.v1 import ticket_pb2 as pb
from router.api.ticket_router.v1 import ticket_service_pb2 as tickets_pb
from router.embedded_redis import EmbeddedRedis
from router.serve import running_router
from tests.router.service.conftest import eventually, router_settings

BEFORE = make_ticket("t-before-outage", "Invoice charged twice", "Refund the second charge.")
DURING = make_ticket("t-during-outage", "Cannot log in", "The password reset mail never arrives.")


async def get(client: AsyncRouterClient, ticket_id: str) -> tickets_pb.GetTicketResponse:
    return await client.call(  # type: ignore[no-any-return]
        "TicketService", "GetTicket", tickets_pb.GetTicketRequest(ticket_id=ticket_id)
    )


async def test_redis_down_gives_unavailable_and_the_router_recovers(
    private_redis: EmbeddedRedis, data_dir: Path, model_dir: Path
) -> None:
    settings = router_settings(private_redis.url, data_dir, model_dir)
    async with (
        running_router(settings, telemetry=False) as running,
        AsyncRouterClient(f"127.0.0.1:{running.port}") as client,
    ):
        first = await client.submit_ticket(BEFORE)
        assert first.created

        await asyncio.to_thread(private_redis.stop)
        for call in (
            client.submit_ticket(DURING, timeout=5),
            get(client, BEFORE.id),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await call
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
            details = caught.value.details() or ""
            assert "Redis" in details and "unavailable" in details and "retry" in details

        # Same port and directory: the AOF brings back what was accepted before the outage.
        await asyncio.to_thread(private_redis.start)

        during = await client.submit_ticket(DURING, timeout=10)
        assert during.created
        before = await get(client, BEFORE.id)
        assert before.ticket == BEFORE and before.state == pb.TICKET_STATE_WAITING
        assert before.decision == first.decision

        # The background loops came back too: the history writer, the sweeper, the offer hub.
        async def both_in_history() -> bool:
            timelines = [await get(client, t.id) for t in (BEFORE, DURING)]
            return all("enqueued" in [e.type for e in t.events] for t in timelines)

        await eventually(both_in_history, timeout=20)
        queues = {first.decision.queue, during.decision.queue}
        await client.call("AgentService", "UpsertAgent", agents_pb.UpsertAgentRequest(
            agent=make_agent("alice", sorted(queues), {"email": 2})
        ))
        stream = client.stream_offers("alice")
        offered = set()
        while len(offered) < 2:
            message = await asyncio.wait_for(stream.read(), 10)
            offered.add(message.offer.ticket.id)
        stream.cancel()
        assert offered == {BEFORE.id, DURING.id}
