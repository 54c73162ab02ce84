"""Several `ticket-router serve` processes on one Redis: rules published through one are live in
the others, and a router killed with SIGKILL mid-stream loses no ticket and no event."""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path

import grpc
import pytest
import redis

from clients.client import AsyncRouterClient
from clients.requests import make_agent, make_ticket
from queues.events import Event, EventReader, EventType
from router.api.ticket_router.v1 import agent_service_pb2 as agents_pb
from router.api.ticket_router.v1 import queue_service_pb2 as queues_pb
from router.api.ticket_router.v1 import rule_service_pb2 as rules_pb
from router.api.ticket_router.v1 import ticket_pb2 as pb
from router.api.ticket_router.v1 import ticket_service_pb2 as tickets_pb
from tests.router.service.conftest import eventually
from tests.router.service.history_db import (
    empty_database,
    history_event_ids,
    history_ticket_ids,
)
from tests.router.service.processes import router_processes

VIP_RULES = """\
queues: [vip]
default_queue: triage
category_queues: {billing: billing, technical: technical, account: account}
rules:
  - id: vip
    when:
      customer_tier: premium
    route_to: vip
    set_priority: P1
"""

PREMIUM = make_ticket("t-premium", "Invoice charged twice", "Please refund the second charge.",
                      customer_tier="premium")


async def score(client: AsyncRouterClient, ticket: pb.Ticket) -> pb.RoutingDecision:
    response = await client.call(
        "TicketService", "ScoreTicket", tickets_pb.ScoreTicketRequest(ticket=ticket)
    )
    return response.decision  # type: ignore[no-any-return]


@pytest.mark.slow
async def test_rules_published_through_one_process_route_in_another(
    redis_url: str, tmp_path: Path, model_dir: Path
) -> None:
    with router_processes(2, redis_url, tmp_path, model_dir) as (first, second):
        async with (
            AsyncRouterClient(first.target) as publisher,
            AsyncRouterClient(second.target) as other,
        ):
            before = await score(other, PREMIUM)
            assert before.rule_id != "vip"

            published = await publisher.call(
                "RuleService", "PublishRules",
                rules_pb.PublishRulesRequest(text=VIP_RULES, format=rules_pb.RULE_FORMAT_YAML),
            )
            started = time.monotonic()

            async def routed_by_the_new_version() -> bool:
                decision = await score(other, PREMIUM)
                return decision.rule_version == published.version

            await eventually(routed_by_the_new_version, timeout=3.0)
            seen_after = time.monotonic() - started
            decision = await score(other, PREMIUM)
            assert (decision.rule_id, decision.queue, decision.priority) == (
                "vip", "vip", pb.PRIORITY_P1
            ), f"seen after {seen_after:.2f} s"

            live = await other.call("RuleService", "GetRules", rules_pb.GetRulesRequest())
            assert live.live_version == published.version and live.rules.text == VIP_RULES
            submitted = await other.submit_ticket(PREMIUM)
            assert submitted.decision.queue == "vip"  # the queue was created with the version
    assert first.process.returncode == 0 and second.process.returncode == 0  # clean SIGTERM


# --- kill -9 -------------------------------------------------------------------------------------

TICKETS = 200
AGENTS = 6
KILL_AFTER = 70
"""Submissions answered before the first router is killed (the rest are still to come)."""

SUBJECTS = [
    ("Invoice charged twice", "My card was charged twice for the March invoice. Refund please."),
    ("Cannot log in", "The password reset e-mail never arrives and my account is locked."),
    ("Parcel never arrived", "Tracking has said in transit for three weeks. Where is my order?"),
    ("App crashes on start", "Since the update the app crashes with an error on every start."),
    ("Upgrade my plan", "We want to move to the enterprise plan; can you send a quote?"),
]


def stream_events(redis_url: str) -> list[Event]:
    """Every event of the queues' Redis stream, oldest first."""
    client = redis.Redis.from_url(redis_url)
    try:
        reader, after, events = EventReader(client), "0-0", []
        while batch := reader.read(after, count=1000):
            events += batch
            after = batch[-1].event_id
        return events
    finally:
        client.close()


def assert_assigned_once(redis_url: str, ticket_ids: set[str]) -> set[str]:
    """Each ticket enqueued, accepted and completed once in the Redis stream; returns the ids
    of the stream's events."""
    events = stream_events(redis_url)
    per_ticket: dict[str, list[str]] = {}
    for event in events:
        if event.ticket_id:
            per_ticket.setdefault(event.ticket_id, []).append(event.type)
    once = {EventType.ENQUEUED: 1, EventType.ACCEPTED: 1, EventType.COMPLETED: 1}
    for ticket_id in ticket_ids:
        types = per_ticket[ticket_id]
        assert {t: types.count(t) for t in once} == once, (ticket_id, types)
    stream_ids = {event.event_id for event in events}
    assert len(stream_ids) == len(events)
    return stream_ids


class Team:
    """Simulated agents: each keeps an offer stream open to a surviving router and accepts,
    answers and resolves every ticket it is offered."""

    def __init__(self, clients: list[AsyncRouterClient]) -> None:
        self.clients = clients
        self.resolved: set[str] = set()
        self.refused: list[str] = []
        self._tasks: list[asyncio.Task[None]] = []

    def start(self, agent_ids: list[str]) -> None:
        for index, agent_id in enumerate(agent_ids):
            client = self.clients[index % len(self.clients)]
            self._tasks.append(asyncio.create_task(self._desk(client, agent_id)))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _desk(self, client: AsyncRouterClient, agent_id: str) -> None:
        working: set[asyncio.Task[None]] = set()
        while True:  # reconnect whenever the stream breaks
            stream = client.stream_offers(agent_id)
            try:
                async for message in stream:
                    if message.HasField("offer"):
                        task = asyncio.create_task(
                            self._work(client, agent_id, message.offer.ticket.id)
                        )
                        working.add(task)
                        task.add_done_callback(working.discard)
            except grpc.aio.AioRpcError:
                await asyncio.sleep(0.2)

    async def _work(self, client: AsyncRouterClient, agent_id: str, ticket_id: str) -> None:
        try:
            await client.call("AgentService", "AcceptOffer",
                              agents_pb.AcceptOfferRequest(agent_id=agent_id, ticket_id=ticket_id))
        except grpc.aio.AioRpcError as error:  # expired or withdrawn: it will come back
            self.refused.append(f"{ticket_id}: {error.code().name} {error.details()}")
            return
        await asyncio.sleep(0.02)  # reading the ticket
        await client.call("TicketService", "RecordFirstResponse",
                          tickets_pb.RecordFirstResponseRequest(ticket_id=ticket_id,
                                                                agent_id=agent_id))
        await client.call("TicketService", "ResolveTicket",
                          tickets_pb.ResolveTicketRequest(ticket_id=ticket_id, agent_id=agent_id))
        self.resolved.add(ticket_id)


@pytest.mark.slow
@pytest.mark.postgres
async def test_a_router_killed_mid_stream_loses_no_ticket_and_no_event(
    redis_url: str, postgres_url: str, tmp_path: Path, model_dir: Path
) -> None:
    empty_database(postgres_url)
    env = {"TICKET_ROUTER_OFFER_TIMEOUT_S": "5"}
    with router_processes(
        3, redis_url, tmp_path, model_dir, database_url=postgres_url, env=env
    ) as routers:
        victim = routers[0]
        clients = [AsyncRouterClient(router.target) for router in routers]
        team = Team(clients[1:])
        try:
            queues = await clients[1].call("QueueService", "ListQueues",
                                           queues_pb.ListQueuesRequest())
            names = [queue.name for queue in queues.queues]
            agent_ids = [f"agent-{n}" for n in range(AGENTS)]
            for agent_id in agent_ids:
                await clients[2].call("AgentService", "UpsertAgent", agents_pb.UpsertAgentRequest(
                    agent=make_agent(agent_id, names, {"email": 3})))
            team.start(agent_ids)

            answered: dict[str, pb.TicketState] = {}
            failed_over: list[str] = []
            serial = itertools.count()

            async def submit(ticket: pb.Ticket) -> None:
                first_try = clients[next(serial) % len(clients)]
                try:
                    response = await first_try.submit_ticket(ticket, timeout=10)
                except grpc.aio.AioRpcError:
                    # The router died under the call: the caller tries another with the same
                    # id, which returns the ticket if the dead one had accepted it already.
                    failed_over.append(ticket.id)
                    response = await clients[1 + len(failed_over) % 2].submit_ticket(ticket)
                answered[ticket.id] = response.state

            async def kill_mid_stream() -> None:
                while len(answered) < KILL_AFTER:
                    await asyncio.sleep(0.01)
                victim.kill()

            limit = asyncio.Semaphore(8)

            async def paced(index: int) -> None:
                subject, body = SUBJECTS[index % len(SUBJECTS)]
                async with limit:
                    await submit(make_ticket(f"t-kill-{index:03d}", subject, body))

            killer = asyncio.create_task(kill_mid_stream())
            await asyncio.gather(*(paced(index) for index in range(TICKETS)))
            await killer
            assert victim.process.returncode == -9
            assert len(answered) == TICKETS
            assert failed_over  # the victim's later callers had to go elsewhere

            async def all_resolved() -> bool:
                return len(team.resolved) == TICKETS

            await eventually(all_resolved, timeout=90)
            survivors = itertools.cycle(clients[1:])
            states = await asyncio.gather(*(
                next(survivors).call("TicketService", "GetTicket",
                                     tickets_pb.GetTicketRequest(ticket_id=ticket_id))
                for ticket_id in answered
            ))
            assert [s.ticket.id for s in states if s.state != pb.TICKET_STATE_RESOLVED] == []
        finally:
            await team.stop()
            for client in clients:
                await client.close()

        # Checked while the survivors run: their history writers drain the stream.
        stream_ids = assert_assigned_once(redis_url, set(answered))

        async def history_caught_up() -> bool:
            rows, _ = await asyncio.to_thread(history_event_ids, postgres_url)
            return rows >= len(stream_ids)

        await eventually(history_caught_up, timeout=30)
        rows, ids = history_event_ids(postgres_url)
        assert ids == stream_ids  # every event of the stream, nothing else
        assert rows == len(stream_ids)  # each once
        # and every accepted submission with its text, scores and decision, the victim's too
        assert set(answered) <= await asyncio.to_thread(history_ticket_ids, postgres_url)

