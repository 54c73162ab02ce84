"""The metrics a router records match what happened to its tickets (read back in memory)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from clients.client import AsyncRouterClient
from clients.requests import make_agent, make_ticket
from router.api.ticket_router.v1 import agent_service_pb2 as agents_pb
from router.api.ticket_router.v1 import rule_service_pb2 as rules_pb
from router.api.ticket_router.v1 import ticket_service_pb2 as tickets_pb
from router.metrics import METER_NAME, RouterMetrics
from router.serve import running_router
from tests.router.service.conftest import eventually, router_settings

RULES = """
queues: [support]
default_queue: support
rules: []
sla_policy:
  targets:
    P1: {first_response: 30s, resolution: 1h}
    P2: {first_response: 30s, resolution: 1h}
    P3: {first_response: 30s, resolution: 1h}
    P4: {first_response: 30s, resolution: 1h}
"""


@pytest.fixture
def reader() -> InMemoryMetricReader:
    return InMemoryMetricReader()


@pytest.fixture
def metrics(reader: InMemoryMetricReader) -> Iterator[RouterMetrics]:
    provider = MeterProvider(metric_readers=[reader])
    yield RouterMetrics(provider.get_meter(METER_NAME))
    provider.shutdown()


def sums(reader: InMemoryMetricReader, name: str) -> dict[tuple[tuple[str, Any], ...], float]:
    """Counter values of one metric by attribute set."""
    found: dict[tuple[tuple[str, Any], ...], float] = {}
    data = reader.get_metrics_data()
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == name:
                    for point in metric.data.data_points:
                        key = tuple(sorted(point.attributes.items()))
                        found[key] = getattr(point, "value", getattr(point, "count", 0))
    return found


def total(reader: InMemoryMetricReader, name: str, **where: str) -> float:
    return sum(
        value
        for key, value in sums(reader, name).items()
        if all(dict(key).get(k) == v for k, v in where.items())
    )


async def test_ten_submitted_three_expired_one_breach(
    redis_url: str,
    data_dir: Path,
    model_dir: Path,
    reader: InMemoryMetricReader,
    metrics: RouterMetrics,
) -> None:
    settings = router_settings(redis_url, data_dir, model_dir, offer_timeout_s=3.0)
    async with running_router(settings, telemetry=False, metrics=metrics) as running:
        client = AsyncRouterClient(f"127.0.0.1:{running.port}")
        await client.call("RuleService", "PublishRules", rules_pb.PublishRulesRequest(
            text=RULES, format=rules_pb.RULE_FORMAT_YAML))
        await client.call("AgentService", "UpsertAgent", agents_pb.UpsertAgentRequest(
            agent=make_agent("sleepy", ["support"], {"email": 3})))
        for n in range(10):
            reply = await client.submit_ticket(make_ticket(f"m-{n}", f"Question {n}", "Hi"))
            assert reply.decision.queue == "support"
        last_submitted = time.monotonic()

        # sleepy holds 3 offers and answers none: all 3 expire; then it goes offline, which
        # hands back (does not expire) whatever it was offered since.
        await eventually(lambda: _async(total(reader, "ticket_router.offers",
                                              outcome="expired") >= 3), timeout=20)
        await client.call("AgentService", "SetAgentStatus", agents_pb.SetAgentStatusRequest(
            agent_id="sleepy", status=agents_pb.AGENT_STATUS_OFFLINE))
        await client.call("AgentService", "UpsertAgent", agents_pb.UpsertAgentRequest(
            agent=make_agent("quick", ["support"], {"email": 10})))

        async def all_offered_to_quick() -> bool:
            for n in range(10):
                reply = await client.call("TicketService", "GetTicket",
                                          tickets_pb.GetTicketRequest(ticket_id=f"m-{n}"))
                if reply.agent_id != "quick":
                    return False
            return True

        await eventually(all_offered_to_quick, timeout=20)
        ids = [f"m-{n}" for n in range(10)]
        for ticket_id in ids:
            await client.call("AgentService", "AcceptOffer", agents_pb.AcceptOfferRequest(
                agent_id="quick", ticket_id=ticket_id))
        for ticket_id in ids[:-1]:
            await _respond(client, ticket_id)
        # the last one answers after its 30 s first-response target
        await asyncio.sleep(max(0.0, last_submitted + 31 - time.monotonic()))
        await _respond(client, ids[-1])
        await client.close()

    assert total(reader, "ticket_router.tickets.submitted") == 10
    assert total(reader, "ticket_router.offers", outcome="expired") == 3
    assert total(reader, "ticket_router.offers", outcome="accepted") == 10
    assert total(reader, "ticket_router.sla_breaches", kind="first_response") == 1
    assert total(reader, "ticket_router.time_to_first_response") == 10  # histogram count


async def _async(value: bool) -> bool:
    return value


async def _respond(client: AsyncRouterClient, ticket_id: str) -> None:
    await client.call("TicketService", "RecordFirstResponse", tickets_pb.RecordFirstResponseRequest(
        ticket_id=ticket_id, agent_id="quick"))
