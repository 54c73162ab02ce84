"""Submitting a ticket id again returns the first result and creates nothing new."""

from __future__ import annotations

import asyncio

import redis

from clients.client import AsyncRouterClient
from clients.requests import make_ticket
from queues.events import EventReader, EventType
from router.api.ticket_router.v1 import queue_service_pb2 as queues_pb
from router.api.ticket_router.v1 import ticket_service_pb2 as tickets_pb
from tests.router.service.conftest import eventually

FIRST = make_ticket("t-same-1", "Invoice charged twice",
                    "My credit card was charged twice for the March invoice.")
CHANGED = make_ticket("t-same-1", "My parcel never arrived",
                      "The tracking page has said 'in transit' for three weeks.", channel="chat")
"""The same id with other content: the second submission must change nothing."""


def stream_events(redis_url: str, ticket_id: str) -> list[str]:
    """Types of the ticket's events in the queues' Redis stream, oldest first."""
    client = redis.Redis.from_url(redis_url)
    try:
        reader, after, types = EventReader(client), "0-0", []
        while batch := reader.read(after, count=500):
            types += [event.type for event in batch if event.ticket_id == ticket_id]
            after = batch[-1].event_id
        return types
    finally:
        client.close()


async def depth(client: AsyncRouterClient, queue: str) -> int:
    stats = await client.call(
        "QueueService", "GetQueueStats", queues_pb.GetQueueStatsRequest(queue=queue)
    )
    return int(stats.stats.depth)


async def timeline(client: AsyncRouterClient, ticket_id: str) -> list[str]:
    ticket = await client.call(
        "TicketService", "GetTicket", tickets_pb.GetTicketRequest(ticket_id=ticket_id)
    )
    return [event.type for event in ticket.events]


async def test_resubmitting_an_id_returns_the_first_result_and_creates_nothing(
    client: AsyncRouterClient, redis_url: str
) -> None:
    first = await client.submit_ticket(FIRST)
    again = await client.submit_ticket(CHANGED)
    assert first.created and not again.created
    assert (again.scores, again.decision, again.state) == (
        first.scores, first.decision, first.state
    )
    stored = await client.call(
        "TicketService", "GetTicket", tickets_pb.GetTicketRequest(ticket_id=FIRST.id)
    )
    assert stored.ticket == FIRST  # the first content, not the resubmitted one

    async def enqueued_in_history() -> bool:
        return EventType.ENQUEUED in await timeline(client, FIRST.id)

    await eventually(enqueued_in_history)
    assert stream_events(redis_url, FIRST.id).count(EventType.ENQUEUED) == 1
    assert (await timeline(client, FIRST.id)).count(EventType.ENQUEUED) == 1
    assert await depth(client, first.decision.queue) == 1


async def test_twenty_concurrent_submissions_of_one_id_create_it_once(
    client: AsyncRouterClient, redis_url: str
) -> None:
    responses = await asyncio.gather(*(client.submit_ticket(FIRST) for _ in range(20)))
    assert sum(response.created for response in responses) == 1
    decisions = {response.decision.SerializeToString() for response in responses}
    assert len(decisions) == 1  # every caller got the one stored routing decision
    queue = responses[0].decision.queue
    assert await depth(client, queue) == 1
    assert stream_events(redis_url, FIRST.id).count(EventType.ENQUEUED) == 1

    async def enqueued_in_history() -> bool:
        return EventType.ENQUEUED in await timeline(client, FIRST.id)

    await eventually(enqueued_in_history)
    assert (await timeline(client, FIRST.id)).count(EventType.ENQUEUED) == 1
