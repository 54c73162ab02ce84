"""`ticket-router demo`: a router on embedded defaults, a simulated team, a stream of tickets.

Starts the server in this process, registers agents with skills and capacities, lets each
agent's simulated desktop take offers from `StreamOffers` (accepting most, rejecting some,
ignoring a few so they expire), streams tickets from the demo set through `SubmitTicket`,
shows progress and live queue stats, and ends with a summary.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import numpy as np
from rich.console import Console
from rich.live import Live
from rich.table import Table

from clients.client import AsyncRouterClient
from clients.requests import make_agent, make_ticket
from router.api.ticket_router.v1 import agent_service_pb2 as agents_pb
from router.api.ticket_router.v1 import queue_service_pb2 as queues_pb
from router.api.ticket_router.v1 import ticket_pb2
from router.api.ticket_router.v1 import ticket_service_pb2 as tickets_pb
from router.serve import running_router
from router.settings import Settings

TEAM = {
    "billing": 3,
    "technical": 4,
    "account": 3,
    "shipping": 2,
    "sales": 2,
    "triage": 2,
}
"""Agents per home queue; every agent also helps one neighbouring queue."""


@dataclass
class DemoStats:
    """What the demo measured."""

    submit_ms: list[float] = field(default_factory=list)
    per_queue: Counter[str] = field(default_factory=Counter)
    by_reason: Counter[str] = field(default_factory=Counter)
    accepted: int = 0
    rejected: int = 0
    ignored: int = 0
    resolved: int = 0
    errors: Counter[str] = field(default_factory=Counter)


async def _agent_desktop(
    client: AsyncRouterClient, agent_id: str, stats: DemoStats, rng: random.Random
) -> None:
    """Take offers as a person would: mostly accept, sometimes decline or miss them."""
    async for message in client.stream_offers(agent_id):
        if not message.HasField("offer"):
            continue
        offer = message.offer
        roll = rng.random()
        if roll < 0.04:
            stats.ignored += 1  # never answered: the offer expires and goes to someone else
            continue
        try:
            await asyncio.sleep(rng.uniform(0.01, 0.1))
            if roll < 0.12:
                await client.call(
                    "AgentService", "RejectOffer",
                    agents_pb.RejectOfferRequest(agent_id=agent_id, ticket_id=offer.ticket.id),
                )
                stats.rejected += 1
                continue
            await client.call(
                "AgentService", "AcceptOffer",
                agents_pb.AcceptOfferRequest(agent_id=agent_id, ticket_id=offer.ticket.id),
            )
            stats.accepted += 1
            asyncio.get_running_loop().create_task(
                _work_on(client, agent_id, offer.ticket.id, stats, rng)
            )
        except grpc.aio.AioRpcError as error:
            stats.errors[error.code().name] += 1


async def _work_on(
    client: AsyncRouterClient, agent_id: str, ticket_id: str, stats: DemoStats, rng: random.Random
) -> None:
    await asyncio.sleep(rng.uniform(0.05, 0.3))
    await client.call(
        "TicketService", "RecordFirstResponse",
        tickets_pb.RecordFirstResponseRequest(ticket_id=ticket_id, agent_id=agent_id),
    )
    await asyncio.sleep(rng.uniform(0.2, 1.5))
    await client.call(
        "TicketService", "ResolveTicket",
        tickets_pb.ResolveTicketRequest(ticket_id=ticket_id, agent_id=agent_id),
    )
    stats.resolved += 1


async def _register_team(client: AsyncRouterClient) -> list[str]:
    queues = list(TEAM)
    agent_ids = []
    for home_index, (home, count) in enumerate(TEAM.items()):
        for n in range(count):
            agent_id = f"{home}-{n + 1}"
            helps = queues[(home_index + 1 + n) % len(queues)]
            agent = make_agent(
                agent_id,
                [home, helps],
                capacity={"email": 4, "web": 4, "chat": 2, "phone": 1},
                skills={"english": 5, "german": 3 if n % 2 else 1},
            )
            await client.call("AgentService", "UpsertAgent",
                              agents_pb.UpsertAgentRequest(agent=agent))
            agent_ids.append(agent_id)
    return agent_ids


async def _send_team_home(client: AsyncRouterClient, agent_ids: list[str]) -> None:
    """Set the simulated agents offline: a router serving this data directory later must not
    offer real tickets to them (their offers come back to the queues)."""
    for agent_id in agent_ids:
        await client.call("AgentService", "SetAgentStatus", agents_pb.SetAgentStatusRequest(
            agent_id=agent_id, status=agents_pb.AGENT_STATUS_OFFLINE))


def _stats_table(rows: list[queues_pb.QueueStats], submitted: int, total: int) -> Table:
    table = Table(title=f"ticket-router demo: {submitted}/{total} tickets submitted")
    for column in ("queue", "waiting", "oldest wait (s)", "agents available", "agents busy"):
        table.add_column(column, justify="right" if column != "queue" else "left")
    for stats in rows:
        table.add_row(
            stats.queue, str(stats.depth), f"{stats.oldest_wait.ToTimedelta().total_seconds():.1f}",
            str(stats.agents_available), str(stats.agents_busy),
        )
    return table


async def run_demo(
    settings: Settings, *, tickets: int, rate: float, console: Console | None = None
) -> DemoStats:
    """Run the demo end to end and return what it measured."""
    console = console or Console()
    stats = DemoStats()
    rng = random.Random(11)
    async with running_router(settings) as running:
        target = f"127.0.0.1:{running.port}"
        console.print(f"[bold]router on {target}[/] (Redis {running.redis_url})")
        async with AsyncRouterClient(target) as client:
            agent_ids = await _register_team(client)
            desktops = [
                asyncio.create_task(_agent_desktop(client, agent_id, stats, rng))
                for agent_id in agent_ids
            ]
            queue_names = [q.name for q in (await client.call(
                "QueueService", "ListQueues", queues_pb.ListQueuesRequest())).queues]
            messages = demo_tickets(tickets, seed=2024, id_prefix=f"demo-{int(time.time())}-")
            started = time.perf_counter()
            with Live(console=console, refresh_per_second=4) as live:
                for index, ticket in enumerate(messages):
                    due = started + index / rate
                    await asyncio.sleep(max(0.0, due - time.perf_counter()))
                    sent = time.perf_counter()
                    try:
                        response = await client.submit_ticket(ticket)
                    except grpc.aio.AioRpcError as error:
                        stats.errors[error.code().name] += 1
                        continue
                    stats.submit_ms.append((time.perf_counter() - sent) * 1000)
                    stats.per_queue[response.decision.queue] += 1
                    stats.by_reason[ticket_pb2.RoutingReason.Name(
                        response.decision.reason)] += 1
                    if index % 20 == 0:
                        rows = [(await client.call(
                            "QueueService", "GetQueueStats",
                            queues_pb.GetQueueStatsRequest(queue=name))).stats
                            for name in queue_names]
                        live.update(_stats_table(rows, index + 1, tickets))
                await asyncio.sleep(3.0)  # let the team answer the last offers
            for task in desktops:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, grpc.aio.AioRpcError):
                    await task
            await _send_team_home(client, agent_ids)
    _print_summary(console, stats, tickets)
    return stats


def demo_tickets(count: int, seed: int, id_prefix: str | None = None) -> list[ticket_pb2.Ticket]:
    """Tickets of the demo set (`scoring.demo_data`) as messages, without a creation time.

    Args:
        id_prefix: ids are this and the demo set's id; None leaves them empty (set per call).
    """
    from scoring.demo_data import generate_demo_tickets

    frame = generate_demo_tickets(count, seed=seed)
    return [
        make_ticket("" if id_prefix is None else f"{id_prefix}{row.ticket_id}", row.subject,
                    row.body, channel=row.channel, customer_id=row.customer_id,
                    customer_tier=row.customer_tier, product=row.product,
                    language=row.language)
        for row in frame.itertuples()
    ]


def _print_summary(console: Console, stats: DemoStats, tickets: int) -> None:
    latencies = np.array(stats.submit_ms) if stats.submit_ms else np.zeros(1)
    table = Table(title="summary")
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("tickets routed", f"{len(stats.submit_ms)} of {tickets}")
    for queue, count in sorted(stats.per_queue.items()):
        table.add_row(f"  queue {queue}", str(count))
    for reason, count in sorted(stats.by_reason.items()):
        table.add_row(f"  decided by {reason.removeprefix('ROUTING_REASON_').lower()}", str(count))
    table.add_row("offers accepted / rejected / left to expire",
                  f"{stats.accepted} / {stats.rejected} / {stats.ignored}")
    table.add_row("tickets resolved", str(stats.resolved))
    for name, q in (("p50", 50), ("p90", 90), ("p99", 99)):
        table.add_row(f"SubmitTicket latency {name}", f"{np.percentile(latencies, q):.2f} ms")
    if stats.errors:
        table.add_row("errors", ", ".join(f"{k}: {v}" for k, v in stats.errors.items()))
    console.print(table)


DEMO_SUBDIR = "demo"
"""The demo's own data directory inside the default one: its simulated team and tickets stay
out of the Redis and history of a router serving the default directory."""


def demo_settings(data_dir: Path | None) -> Settings:
    """Embedded defaults on free ports, in `data_dir` or the default data directory's
    `demo` subdirectory."""
    from router.settings import default_data_dir, load_settings

    return load_settings(data_dir=data_dir or default_data_dir() / DEMO_SUBDIR, port=0,
                         metrics_port=0)
