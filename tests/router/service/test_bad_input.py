"""Bad input over the real API: each gets its exact status and a message that says what to fix,
and the server keeps serving."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
import redis
from grpc_health.v1 import health_pb2, health_pb2_grpc

from clients.client import AsyncRouterClient
from clients.requests import make_agent, make_ticket
from router.api.ticket_router.v1 import agent_service_pb2 as agents_pb
from router.api.ticket_router.v1 import queue_service_pb2 as queues_pb
from router.api.ticket_router.v1 import rule_service_pb2 as rules_pb
from router.api.ticket_router.v1 import ticket_pb2 as pb
from router.api.ticket_router.v1 import ticket_service_pb2 as tickets_pb
from router.api.ticket_router.v1 import ticket_service_pb2_grpc as tickets_grpc
from router.serve import Running, running_router
from tests.router.service.api_keys import KEYS, OTHER_AGENT_KEY, write_keys_file
from tests.router.service.conftest import router_settings

PAUSE_WRITES_MS = 2000

BROKEN_RULES = """\
default_queue: triage
rules:
  - id: vip
    when:
      customer_tier: premium
    route_to: billing
  - id: typo
    when:
      channel: {inn: [chat, phone]}
    route_to: technical
"""
"""A rule set whose mistake is on line 9 (an unknown operator in rule 'typo')."""

_ids = itertools.count()


@dataclass
class Clients:
    """Clients of one router with auth on: admin (acts for anyone), a submitter, agent bob."""

    admin: AsyncRouterClient
    submitter: AsyncRouterClient
    bob: AsyncRouterClient
    channel: grpc.aio.Channel


@pytest.fixture
async def keyed_router(
    redis_url: str, data_dir: Path, model_dir: Path
) -> AsyncIterator[Running]:
    settings = router_settings(
        redis_url, data_dir, model_dir, api_keys_file=write_keys_file(data_dir)
    )
    async with running_router(settings, telemetry=False) as running:
        yield running


@pytest.fixture
async def clients(keyed_router: Running) -> AsyncIterator[Clients]:
    target = f"127.0.0.1:{keyed_router.port}"
    async with (
        AsyncRouterClient(target, api_key=KEYS["admin"]) as admin,
        AsyncRouterClient(target, api_key=KEYS["submitter"]) as submitter,
        AsyncRouterClient(target, api_key=OTHER_AGENT_KEY) as bob,
        grpc.aio.insecure_channel(target) as channel,
    ):
        yield Clients(admin, submitter, bob, channel)


def fresh_ticket(**fields: object) -> pb.Ticket:
    """A valid ticket with a new id, with `fields` overwritten."""
    ticket = make_ticket(f"bad-input-{next(_ids)}", "Invoice charged twice",
                         "My card was charged twice for the March invoice.")
    for name, value in fields.items():
        setattr(ticket, name, value)
    return ticket


async def submitted(clients: Clients) -> tuple[str, tickets_pb.SubmitTicketResponse]:
    """Submit a fresh valid ticket; returns its id and the response."""
    ticket = fresh_ticket()
    return ticket.id, await clients.admin.submit_ticket(ticket)


# --- the table -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One bad request: what it does, the status it must get, words its message must contain."""

    name: str
    call: Callable[[Clients], Awaitable[object]]
    code: grpc.StatusCode
    says: tuple[str, ...]


async def submit_with(clients: Clients, **fields: object) -> object:
    return await clients.admin.submit_ticket(fresh_ticket(**fields))  # type: ignore[arg-type]


async def accept_unknown_agent(clients: Clients) -> object:
    ticket_id, _ = await submitted(clients)
    return await clients.admin.call("AgentService", "AcceptOffer", agents_pb.AcceptOfferRequest(
        agent_id="ghost", ticket_id=ticket_id
    ))


async def transfer_to_unknown_queue(clients: Clients) -> object:
    ticket_id, _ = await submitted(clients)
    return await clients.admin.call("TicketService", "TransferTicket",
                                    tickets_pb.TransferTicketRequest(
                                        ticket_id=ticket_id, queue="nowhere"))


async def accept_by_the_wrong_agent(clients: Clients) -> object:
    ticket_id, first = await submitted(clients)
    for agent in ("alice", "bob"):  # alice first: she gets the offer, bob has none
        await clients.admin.call("AgentService", "UpsertAgent", agents_pb.UpsertAgentRequest(
            agent=make_agent(agent, [first.decision.queue], {"email": 2})
        ))
    return await clients.bob.call("AgentService", "AcceptOffer", agents_pb.AcceptOfferRequest(
        agent_id="bob", ticket_id=ticket_id
    ))


async def resolve_by_another_agent(clients: Clients) -> object:
    ticket_id, first = await submitted(clients)
    await clients.admin.call("AgentService", "UpsertAgent", agents_pb.UpsertAgentRequest(
        agent=make_agent("alice", [first.decision.queue], {"email": 2})))
    await clients.admin.call("AgentService", "AcceptOffer", agents_pb.AcceptOfferRequest(
        agent_id="alice", ticket_id=ticket_id))
    await clients.admin.call("AgentService", "UpsertAgent", agents_pb.UpsertAgentRequest(
        agent=make_agent("bob", [first.decision.queue], {"email": 2})))
    return await clients.bob.call("TicketService", "ResolveTicket", tickets_pb.ResolveTicketRequest(
        agent_id="bob", ticket_id=ticket_id))


CASES = [
    Case("missing ticket id", lambda c: submit_with(c, id=""),
         grpc.StatusCode.INVALID_ARGUMENT, ("ticket.id", "required")),
    Case("malformed ticket id", lambda c: submit_with(c, id="a b"),
         grpc.StatusCode.INVALID_ARGUMENT, ("ticket.id", "letters, digits")),
    Case("empty subject and body", lambda c: submit_with(c, subject=" ", body=""),
         grpc.StatusCode.INVALID_ARGUMENT, ("ticket.body", "subject or a body")),
    Case("10 MB body", lambda c: submit_with(c, body="x" * (10 * 1024 * 1024)),
         grpc.StatusCode.INVALID_ARGUMENT, ("ticket.body", "limit is 50000")),
    Case("unknown channel", lambda c: submit_with(c, channel=99),
         grpc.StatusCode.INVALID_ARGUMENT, ("ticket.channel", "CHANNEL_EMAIL")),
    Case("unspecified channel", lambda c: submit_with(c, channel=0),
         grpc.StatusCode.INVALID_ARGUMENT, ("ticket.channel", "CHANNEL_EMAIL")),
    Case("unknown ticket", lambda c: c.admin.call(
        "TicketService", "GetTicket", tickets_pb.GetTicketRequest(ticket_id="nope")),
         grpc.StatusCode.NOT_FOUND, ("'nope'", "submit")),
    Case("accept: unknown agent", accept_unknown_agent,
         grpc.StatusCode.NOT_FOUND, ("ghost", "UpsertAgent")),
    Case("set status: unknown agent", lambda c: c.admin.call(
        "AgentService", "SetAgentStatus", agents_pb.SetAgentStatusRequest(
            agent_id="ghost", status=agents_pb.AGENT_STATUS_AWAY)),
         grpc.StatusCode.NOT_FOUND, ("ghost", "UpsertAgent")),
    Case("stats: unknown queue", lambda c: c.admin.call(
        "QueueService", "GetQueueStats", queues_pb.GetQueueStatsRequest(queue="nowhere")),
         grpc.StatusCode.NOT_FOUND, ("nowhere", "ListQueues")),
    Case("transfer: unknown queue", transfer_to_unknown_queue,
         grpc.StatusCode.NOT_FOUND, ("nowhere", "ListQueues")),
    Case("agent: unknown queue", lambda c: c.admin.call(
        "AgentService", "UpsertAgent", agents_pb.UpsertAgentRequest(
            agent=make_agent("carol", ["nowhere"], {"email": 1}))),
         grpc.StatusCode.NOT_FOUND, ("nowhere", "ListQueues")),
    Case("agent: skill level out of range", lambda c: c.admin.call(
        "AgentService", "UpsertAgent", agents_pb.UpsertAgentRequest(
            agent=make_agent("carol", ["billing"], {"email": 1}, {"german": 11}))),
         grpc.StatusCode.INVALID_ARGUMENT, ("agent.skills", "german", "1-10")),
    Case("agent: no capacity", lambda c: c.admin.call(
        "AgentService", "UpsertAgent", agents_pb.UpsertAgentRequest(
            agent=make_agent("carol", ["billing"], {}))),
         grpc.StatusCode.INVALID_ARGUMENT, ("agent.capacity", "per channel")),
    Case("agent: unknown channel", lambda c: c.admin.call(
        "AgentService", "UpsertAgent", agents_pb.UpsertAgentRequest(
            agent=make_agent("carol", ["billing"], {"email": 1, "sms": 3}))),
         grpc.StatusCode.INVALID_ARGUMENT, ("agent.capacity", "'sms'", "email, chat")),
    Case("wrong role", lambda c: c.submitter.call(
        "RuleService", "PublishRules", rules_pb.PublishRulesRequest(
            text="default_queue: triage\n", format=rules_pb.RULE_FORMAT_YAML)),
         grpc.StatusCode.PERMISSION_DENIED, ("submitter", "PublishRules", "lead")),
    Case("accept by the wrong agent", accept_by_the_wrong_agent,
         grpc.StatusCode.FAILED_PRECONDITION, ("bob", "offer")),
    Case("rules: unknown format", lambda c: c.admin.call(
        "RuleService", "PublishRules", rules_pb.PublishRulesRequest(
            text="default_queue: triage\n", format=99)),  # type: ignore[arg-type]
         grpc.StatusCode.INVALID_ARGUMENT, ("format", "RULE_FORMAT_YAML")),
    Case("rules: empty text", lambda c: c.admin.call(
        "RuleService", "ValidateRules", rules_pb.ValidateRulesRequest(text="  \n")),
         grpc.StatusCode.INVALID_ARGUMENT, ("text", "give the text")),
    Case("rules: text too large", lambda c: c.admin.call(
        "RuleService", "ValidateRules", rules_pb.ValidateRulesRequest(
            text="# " + "x" * 1_000_000 + "\ndefault_queue: triage\n")),
         grpc.StatusCode.INVALID_ARGUMENT, ("text", "1,000,000")),
    Case("rules: unknown version", lambda c: c.admin.call(
        "RuleService", "GetRules", rules_pb.GetRulesRequest(version=999)),
         grpc.StatusCode.NOT_FOUND, ("version 999 does not exist", "published are 1 to")),
    Case("agent: unknown status", lambda c: c.admin.call(
        "AgentService", "SetAgentStatus", agents_pb.SetAgentStatusRequest(
            agent_id="alice", status=99)),  # type: ignore[arg-type]
         grpc.StatusCode.INVALID_ARGUMENT, ("status", "AGENT_STATUS_AWAY")),
    Case("offers: unknown agent", lambda c: c.admin.stream_offers("ghost").read(),  # type: ignore[attr-defined]
         grpc.StatusCode.NOT_FOUND, ("ghost", "UpsertAgent")),
    Case("resolve: not the assignee", resolve_by_another_agent,
         grpc.StatusCode.FAILED_PRECONDITION, ("agent_id", "assigned to another agent")),
    Case("reject: reason too long", lambda c: c.admin.call(
        "AgentService", "RejectOffer", agents_pb.RejectOfferRequest(
            agent_id="alice", ticket_id="t1", reason="x" * 1001)),
         grpc.StatusCode.INVALID_ARGUMENT, ("reason", "1001 characters", "limit is 1000")),
    Case("cancel: reason too long", lambda c: c.admin.call(
        "TicketService", "CancelTicket", tickets_pb.CancelTicketRequest(
            ticket_id="t1", reason="x" * 1001)),
         grpc.StatusCode.INVALID_ARGUMENT, ("reason", "limit is 1000")),
    Case("transfer: reason too long", lambda c: c.admin.call(
        "TicketService", "TransferTicket", tickets_pb.TransferTicketRequest(
            ticket_id="t1", queue="billing", reason="x" * 1001)),
         grpc.StatusCode.INVALID_ARGUMENT, ("reason", "limit is 1000")),
    Case("resolve: resolution too long", lambda c: c.admin.call(
        "TicketService", "ResolveTicket", tickets_pb.ResolveTicketRequest(
            ticket_id="t1", agent_id="alice", resolution="x" * 1001)),
         grpc.StatusCode.INVALID_ARGUMENT, ("resolution", "limit is 1000")),
]


async def still_serving(clients: Clients) -> None:
    health = health_pb2_grpc.HealthStub(clients.channel)
    answer = await health.Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert answer.status == health_pb2.HealthCheckResponse.SERVING
    _, response = await submitted(clients)
    assert response.created and response.decision.queue


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
async def test_bad_input_gets_its_status_and_what_to_fix(clients: Clients, case: Case) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await case.call(clients)
    error = caught.value
    assert error.code() == case.code, error.details()
    for words in case.says:
        assert words in (error.details() or ""), f"{words!r} not in {error.details()!r}"
    await still_serving(clients)


async def live_version(clients: Clients) -> int:
    rules = await clients.admin.call("RuleService", "GetRules", rules_pb.GetRulesRequest())
    return int(rules.live_version)


async def test_malformed_rules_are_refused_by_line_and_the_live_version_keeps_routing(
    clients: Clients,
) -> None:
    premium = fresh_ticket(customer_tier="premium")
    before = await clients.admin.call(
        "TicketService", "ScoreTicket", tickets_pb.ScoreTicketRequest(ticket=premium))
    version = await live_version(clients)

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await clients.admin.call("RuleService", "PublishRules", rules_pb.PublishRulesRequest(
            text=BROKEN_RULES, format=rules_pb.RULE_FORMAT_YAML))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = caught.value.details() or ""
    assert "line 9" in details and "typo" in details and "'in'" in details, details

    checked = await clients.admin.call(
        "RuleService", "ValidateRules",
        rules_pb.ValidateRulesRequest(text=BROKEN_RULES, format=rules_pb.RULE_FORMAT_YAML))
    assert not checked.valid
    assert [(p.line, p.rule_id) for p in checked.problems] == [(9, "typo")]
    assert "'in'" in checked.problems[0].message

    unparsable = await clients.admin.call(
        "RuleService", "ValidateRules", rules_pb.ValidateRulesRequest(
            text="default_queue = 'triage'\ndefault_priority = P3\n",
            format=rules_pb.RULE_FORMAT_TOML))
    assert not unparsable.valid and unparsable.problems[0].line == 2

    fixed = BROKEN_RULES.replace("inn:", "in:")
    assert (await clients.admin.call("RuleService", "ValidateRules", rules_pb.ValidateRulesRequest(
        text=fixed, format=rules_pb.RULE_FORMAT_YAML))).valid

    assert await live_version(clients) == version  # refused whole: nothing was published
    after = await clients.admin.call(
        "TicketService", "ScoreTicket", tickets_pb.ScoreTicketRequest(ticket=premium))
    assert after.decision == before.decision
    assert after.decision.rule_version == version and after.decision.rule_id != "vip"
    await still_serving(clients)


async def test_a_tiny_deadline_gets_deadline_exceeded_and_changes_nothing_twice(
    clients: Clients, redis_url: str
) -> None:
    ticket = fresh_ticket()
    stub = tickets_grpc.TicketServiceStub(clients.channel)
    key = (("authorization", f"Bearer {KEYS['submitter']}"),)
    # Redis answers no write for a while, so no attempt can finish within its deadline however fast
    # the router is (a bare 1 ms deadline was sometimes met).
    paused = redis.Redis.from_url(redis_url)
    paused.client_pause(PAUSE_WRITES_MS, all=False)
    try:
        for timeout in (0.05, 0.05, 1e-4):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub.SubmitTicket(
                    tickets_pb.SubmitTicketRequest(ticket=ticket), timeout=timeout, metadata=key)
            assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    finally:
        paused.client_unpause()
        paused.close()

    # Whichever attempt reached the server first created the ticket; the others changed nothing.
    again = await clients.admin.submit_ticket(ticket, timeout=10)
    assert again.decision.queue
    stats = await clients.admin.call("QueueService", "GetQueueStats",
                                     queues_pb.GetQueueStatsRequest(queue=again.decision.queue))
    assert stats.stats.depth == 1
    await still_serving(clients)
