"""The auth matrix over the real service: each role, no key and an unknown key against one RPC
of each service; agents act only for themselves; health checks need no key; a public bind
needs keys."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from clients.client import AsyncRouterClient
from clients.requests import make_agent, make_ticket
from router.api.ticket_router.v1 import agent_service_pb2 as agents_pb
from router.api.ticket_router.v1 import queue_service_pb2 as queues_pb
from router.api.ticket_router.v1 import rule_service_pb2 as rules_pb
from router.api.ticket_router.v1 import ticket_service_pb2 as tickets_pb
from router.errors import FailedPrecondition
from router.serve import Running, running_router
from router.server import check_exposure, load_key_ring
from tests.router.service.api_keys import (
    AGENT_OF_AGENT_KEY,
    KEYS,
    OTHER_AGENT_KEY,
    write_keys_file,
)
from tests.router.service.conftest import router_settings

OK = grpc.StatusCode.OK
DENIED = grpc.StatusCode.PERMISSION_DENIED
UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED

CALLERS = {**KEYS, "no key": None, "unknown key": "not-a-configured-key"}

_serial = iter(range(1_000_000))


def submit(_: str) -> tuple[str, str, object]:
    ticket = make_ticket(f"auth-{next(_serial)}", "Invoice charged twice", "Refund please.")
    return "TicketService", "SubmitTicket", tickets_pb.SubmitTicketRequest(ticket=ticket)


def set_own_status(_: str) -> tuple[str, str, object]:
    return "AgentService", "SetAgentStatus", agents_pb.SetAgentStatusRequest(
        agent_id=AGENT_OF_AGENT_KEY, status=agents_pb.AGENT_STATUS_AVAILABLE)


def list_queues(_: str) -> tuple[str, str, object]:
    return "QueueService", "ListQueues", queues_pb.ListQueuesRequest()


def get_rules(_: str) -> tuple[str, str, object]:
    return "RuleService", "GetRules", rules_pb.GetRulesRequest()


def simulate_rules(_: str) -> tuple[str, str, object]:
    return "RuleService", "SimulateRules", rules_pb.SimulateRulesRequest(
        text="default_queue: triage\n")


def upsert_agent(_: str) -> tuple[str, str, object]:
    return "AgentService", "UpsertAgent", agents_pb.UpsertAgentRequest(
        agent=make_agent("carol", ["billing"], {"email": 1}))


MATRIX = {
    #                 submitter  agent     lead      admin  no key           unknown key
    submit:         (OK,        DENIED,   OK,       OK,    UNAUTHENTICATED, UNAUTHENTICATED),
    set_own_status: (DENIED,    OK,       OK,       OK,    UNAUTHENTICATED, UNAUTHENTICATED),
    list_queues:    (OK,        OK,       OK,       OK,    UNAUTHENTICATED, UNAUTHENTICATED),
    get_rules:      (DENIED,    DENIED,   OK,       OK,    UNAUTHENTICATED, UNAUTHENTICATED),
    simulate_rules: (DENIED,    DENIED,   OK,       OK,    UNAUTHENTICATED, UNAUTHENTICATED),
    upsert_agent:   (DENIED,    DENIED,   OK,       OK,    UNAUTHENTICATED, UNAUTHENTICATED),
}
"""RPC -> the status each caller (in `CALLERS` order) gets."""


@pytest.fixture
async def keyed_router(
    redis_url: str, data_dir: Path, model_dir: Path
) -> AsyncIterator[Running]:
    settings = router_settings(
        redis_url, data_dir, model_dir, api_keys_file=write_keys_file(data_dir)
    )
    async with running_router(settings, telemetry=False) as running:
        async with AsyncRouterClient(f"127.0.0.1:{running.port}", api_key=KEYS["admin"]) as admin:
            for agent in (AGENT_OF_AGENT_KEY, "bob"):
                await admin.call("AgentService", "UpsertAgent", agents_pb.UpsertAgentRequest(
                    agent=make_agent(agent, ["triage"], {"email": 2})))
        yield running


async def status_of(target: str, api_key: str | None, rpc: object) -> grpc.StatusCode:
    async with AsyncRouterClient(target, api_key=api_key) as client:
        try:
            await client.call(*rpc(target))  # type: ignore[operator]
        except grpc.aio.AioRpcError as error:
            return error.code()
    return OK


async def test_each_role_against_one_rpc_of_each_service(keyed_router: Running) -> None:
    target = f"127.0.0.1:{keyed_router.port}"
    got = {
        rpc.__name__: tuple([await status_of(target, key, rpc) for key in CALLERS.values()])
        for rpc in MATRIX
    }
    assert got == {rpc.__name__: expected for rpc, expected in MATRIX.items()}


async def test_refusals_say_why(keyed_router: Running) -> None:
    target = f"127.0.0.1:{keyed_router.port}"
    for api_key, code, words in [
        (None, UNAUTHENTICATED, "authorization: Bearer"),
        ("not-a-configured-key", UNAUTHENTICATED, "unknown API key"),
        (KEYS["submitter"], DENIED, "role 'submitter' may not call"),
    ]:
        async with AsyncRouterClient(target, api_key=api_key) as client:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await client.call(*get_rules(""))
        assert caught.value.code() == code
        assert words in (caught.value.details() or "")
    assert "admin, lead" in (caught.value.details() or "")  # who may call it


async def test_an_agent_key_acts_only_for_its_own_agent(keyed_router: Running) -> None:
    target = f"127.0.0.1:{keyed_router.port}"
    async with (
        AsyncRouterClient(target, api_key=KEYS["agent"]) as alice,
        AsyncRouterClient(target, api_key=OTHER_AGENT_KEY) as bob,
        AsyncRouterClient(target, api_key=KEYS["submitter"]) as helpdesk,
        AsyncRouterClient(target, api_key=KEYS["lead"]) as lead,
    ):
        submitted = await helpdesk.submit_ticket(make_ticket("t-auth-1", "Invoice charged twice"))
        for agent in (AGENT_OF_AGENT_KEY, "bob"):
            await lead.call("AgentService", "UpsertAgent", agents_pb.UpsertAgentRequest(
                agent=make_agent(agent, [submitted.decision.queue], {"email": 2})))
        holder = (await helpdesk.call("TicketService", "GetTicket", tickets_pb.GetTicketRequest(
            ticket_id="t-auth-1"))).agent_id
        assert submitted.created and holder in (AGENT_OF_AGENT_KEY, "bob")
        thief, owner = (alice, bob) if holder == "bob" else (bob, alice)
        for service, method, request in [
            ("AgentService", "AcceptOffer",
             agents_pb.AcceptOfferRequest(agent_id=holder, ticket_id="t-auth-1")),
            ("AgentService", "RejectOffer",
             agents_pb.RejectOfferRequest(agent_id=holder, ticket_id="t-auth-1")),
            ("AgentService", "SetAgentStatus",
             agents_pb.SetAgentStatusRequest(agent_id=holder, status=agents_pb.AGENT_STATUS_AWAY)),
            ("TicketService", "ResolveTicket",
             tickets_pb.ResolveTicketRequest(agent_id=holder, ticket_id="t-auth-1")),
        ]:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await thief.call(service, method, request)
            assert caught.value.code() == DENIED, method
            assert f"may not act for agent {holder!r}" in (caught.value.details() or "")

        stream = thief.stream_offers(holder)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stream.read()
        assert caught.value.code() == DENIED

        accepted = await owner.call("AgentService", "AcceptOffer", agents_pb.AcceptOfferRequest(
            agent_id=holder, ticket_id="t-auth-1"))  # the thief's attempts changed nothing
        assert accepted.assignment.agent_id == holder

        # an agent may transfer a ticket it holds, not another's, nor name another agent
        thief_id = "bob" if holder == AGENT_OF_AGENT_KEY else AGENT_OF_AGENT_KEY
        for agent_id, words in ((thief_id, "may transfer only tickets"),
                                (holder, f"may not act for agent {holder!r}")):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await thief.call("TicketService", "TransferTicket", transfer(agent_id))
            assert caught.value.code() == DENIED and words in (caught.value.details() or "")
        moved = await owner.call("TicketService", "TransferTicket", transfer(holder))
        assert moved.queue == "triage"


def transfer(agent_id: str) -> tickets_pb.TransferTicketRequest:
    return tickets_pb.TransferTicketRequest(ticket_id="t-auth-1", queue="triage",
                                            agent_id=agent_id)


async def test_health_and_reflection_need_no_key(keyed_router: Running) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{keyed_router.port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", "ticket_router.v1.TicketService"):
            answer = await health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
            assert answer.status == health_pb2.HealthCheckResponse.SERVING
        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
        replies = reflection.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5
        )
        names = {s.name async for r in replies for s in r.list_services_response.service}
        assert "ticket_router.v1.TicketService" in names


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "router.example"])
def test_a_public_bind_without_keys_is_refused_unless_allowed(
    host: str, data_dir: Path, model_dir: Path
) -> None:
    public = router_settings(None, data_dir, model_dir, host=host)  # type: ignore[arg-type]
    with pytest.raises(FailedPrecondition) as caught:
        check_exposure(public, load_key_ring(public))
    assert "api_keys_file" in str(caught.value)
    keyed = router_settings(None, data_dir, model_dir, host=host,  # type: ignore[arg-type]
                            api_keys_file=write_keys_file(data_dir))
    check_exposure(keyed, load_key_ring(keyed))
    allowed = router_settings(None, data_dir, model_dir, host=host,  # type: ignore[arg-type]
                              allow_insecure_public=True)
    check_exposure(allowed, None)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "[::1]"])
def test_a_loopback_bind_needs_no_keys(host: str, data_dir: Path, model_dir: Path) -> None:
    settings = router_settings(None, data_dir, model_dir, host=host)  # type: ignore[arg-type]
    check_exposure(settings, None)


async def test_a_router_bound_publicly_without_keys_does_not_start(
    redis_url: str, data_dir: Path, model_dir: Path
) -> None:
    settings = router_settings(redis_url, data_dir, model_dir, host="0.0.0.0")
    with pytest.raises(FailedPrecondition):
        async with running_router(settings, telemetry=False):
            pytest.fail("the router served on a public address without API keys")
