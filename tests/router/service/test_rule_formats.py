"""PublishRules and ValidateRules read YAML and TOML, detecting the format when it is not set."""

from __future__ import annotations

import grpc
import pytest

from clients.client import AsyncRouterClient
from clients.requests import make_ticket
from router.api.ticket_router.v1 import queue_service_pb2 as queues_pb
from router.api.ticket_router.v1 import rule_service_pb2 as rules_pb
from router.api.ticket_router.v1 import ticket_service_pb2 as tickets_pb

TOML_RULES = """\
default_queue = "triage"

[[rules]]
id = "chat-to-sales"
when = { channel = "chat" }
route_to = "sales"
"""

YAML_RULES = """\
default_queue: triage
rules:
  - id: chat-to-technical
    when: {channel: chat}
    route_to: technical
"""

CHAT = make_ticket("t-chat", "Hello", "Is anyone there?", channel="chat")


async def publish(client: AsyncRouterClient, text: str) -> int:
    response = await client.call(
        "RuleService", "PublishRules", rules_pb.PublishRulesRequest(text=text)
    )
    return int(response.version)


async def chat_queue(client: AsyncRouterClient) -> str:
    scored = await client.call(
        "TicketService", "ScoreTicket", tickets_pb.ScoreTicketRequest(ticket=CHAT)
    )
    return str(scored.decision.queue)


async def test_an_unset_format_is_detected_from_the_text(client: AsyncRouterClient) -> None:
    toml_version = await publish(client, TOML_RULES)
    stored = await client.call("RuleService", "GetRules", rules_pb.GetRulesRequest())
    assert (stored.live_version, stored.rules.format) == (toml_version, rules_pb.RULE_FORMAT_TOML)
    assert await chat_queue(client) == "sales"

    yaml_version = await publish(client, YAML_RULES)
    stored = await client.call("RuleService", "GetRules", rules_pb.GetRulesRequest())
    assert (stored.live_version, stored.rules.format) == (yaml_version, rules_pb.RULE_FORMAT_YAML)
    assert await chat_queue(client) == "technical"

    for text in (TOML_RULES, YAML_RULES):
        checked = await client.call(
            "RuleService", "ValidateRules", rules_pb.ValidateRulesRequest(text=text)
        )
        assert checked.valid, checked.problems


async def test_a_typo_in_a_queue_is_refused_and_a_declared_new_queue_is_created(
    client: AsyncRouterClient,
) -> None:
    typo = YAML_RULES.replace("route_to: technical", "route_to: technicl")
    checked = await client.call(
        "RuleService", "ValidateRules", rules_pb.ValidateRulesRequest(text=typo)
    )
    assert not checked.valid
    assert "did you mean 'technical'" in checked.problems[0].message
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await publish(client, typo)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    await publish(client, "queues: [technicl]\n" + typo)  # meant: a new queue
    listed = await client.call("QueueService", "ListQueues", queues_pb.ListQueuesRequest())
    assert "technicl" in {queue.name for queue in listed.queues}
    assert await chat_queue(client) == "technicl"
