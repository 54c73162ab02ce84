"""ExplainRouting: the rules checked, the model's reasons and every candidate agent's standing."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from clients.client import AsyncRouterClient
from clients.requests import make_agent, make_ticket
from router import convert
from router.api.ticket_router.v1 import agent_service_pb2 as agents_pb
from router.api.ticket_router.v1 import rule_service_pb2 as rules_pb
from router.serve import Running

RULES = """\
default_queue: triage
rules:
  - id: german
    when: {language: de}
    continue: true
    require_skills: {german: 2}
  - id: vip
    when: {customer_tier: [premium, enterprise]}
    route_to: billing
"""

GERMAN_VIP = make_ticket("ex-1", "Rechnung doppelt", "Bitte erstatten Sie die zweite Abbuchung.",
                         customer_tier="premium", language="de")


async def explain(client: AsyncRouterClient, **subject: object) -> rules_pb.ExplainRoutingResponse:
    return await client.call(  # type: ignore[no-any-return]
        "RuleService", "ExplainRouting", rules_pb.ExplainRoutingRequest(**subject)
    )


@pytest.fixture
async def team(client: AsyncRouterClient) -> None:
    await client.call("RuleService", "PublishRules", rules_pb.PublishRulesRequest(text=RULES))
    for agent in (
        make_agent("ann", ["billing"], {"email": 1}, {"german": 3}),
        make_agent("bob", ["billing"], {"email": 5}, {"german": 1}),
        make_agent("cat", ["billing"], {"email": 5}, {"german": 5}),
        make_agent("dan", ["billing"], {"chat": 2}, {"german": 3}),
    ):
        await client.call("AgentService", "UpsertAgent", agents_pb.UpsertAgentRequest(agent=agent))
    await client.call("AgentService", "SetAgentStatus", agents_pb.SetAgentStatusRequest(
        agent_id="cat", status=agents_pb.AGENT_STATUS_OFFLINE))


async def test_a_hypothetical_ticket_shows_rules_scores_and_candidates(
    client: AsyncRouterClient, team: None
) -> None:
    reply = await explain(client, ticket=GERMAN_VIP)

    assert [(r.rule_id, r.matched) for r in reply.rules] == [("german", True), ("vip", True)]
    assert [r.line for r in reply.rules] == [3, 7]
    assert reply.matched_rule_id == "vip"
    assert (reply.decision.queue, dict(reply.decision.required_skills)) == (
        "billing", {"german": 2})
    assert reply.scores.category and reply.scores.explanation.tasks["category"].contributions
    standing = {c.agent_id: (c.eligible, c.reason, c.chosen) for c in reply.candidates}
    assert standing["ann"] == (True, "", True)
    assert not standing["bob"][0] and "german" in standing["bob"][1]
    assert standing["cat"][:2] == (False, "offline")
    assert not standing["dan"][0] and "email" in standing["dan"][1]
    assert reply.candidates[0].agent_id == "ann"  # eligible ones first


async def test_a_failed_condition_is_shown_with_the_value_seen(
    client: AsyncRouterClient, team: None
) -> None:
    standard = make_ticket("ex-2", "Invoice wrong", "Charged twice.", customer_tier="standard")
    reply = await explain(client, ticket=standard)
    assert [(r.rule_id, r.matched) for r in reply.rules] == [("german", False), ("vip", False)]
    assert [r.failed_condition for r in reply.rules] == [
        "language == 'de' (was: missing)",
        "customer_tier in ['enterprise', 'premium'] (was: standard)",
    ]
    assert (reply.matched_rule_id, reply.decision.queue) == ("", "triage")  # the default


async def test_a_submitted_ticket_names_the_agent_holding_it(
    client: AsyncRouterClient, team: None
) -> None:
    submitted = await client.submit_ticket(GERMAN_VIP)
    assert submitted.agent_id == "ann"  # offered: ann's one e-mail slot is now taken

    reply = await explain(client, ticket_id=GERMAN_VIP.id)

    chosen = [c for c in reply.candidates if c.chosen]
    assert [(c.agent_id, c.eligible, c.reason) for c in chosen] == [("ann", True, "")]
    assert not any(c.eligible for c in reply.candidates if c.agent_id != "ann")


async def test_an_unknown_ticket_or_version_is_not_found(
    client: AsyncRouterClient, team: None
) -> None:
    for subject in ({"ticket_id": "nobody"}, {"ticket": GERMAN_VIP, "rule_version": 999}):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await explain(client, **subject)
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_a_failed_risk_condition_shows_the_risk_the_rule_saw(
    client: AsyncRouterClient, router: Running
) -> None:
    rules = ("default_queue: triage\nrules:\n  - id: hopeless\n"
             "    when: {sla_risk: {gt: 0.999999}}\n    route_to: billing\n")
    await client.call("RuleService", "PublishRules", rules_pb.PublishRulesRequest(text=rules))
    for n in range(30):  # a long triage queue: its risk differs from the one rules see
        await client.submit_ticket(make_ticket(f"ex-wait-{n}", "Invoice wrong", "Charged twice."))
    await asyncio.sleep(1.0)  # the router's view of queue states is at most 0.5 s old
    reply = await explain(client, ticket=GERMAN_VIP)

    (check,) = reply.rules
    assert reply.decision.queue == "triage" and reply.scores.sla_risk != pytest.approx(
        router.app.scoring.sla_risk(GERMAN_VIP, None, convert.PRIORITY_NAMES[
            reply.scores.priority]))
    predicted = convert.PRIORITY_NAMES[reply.scores.priority]
    seen = router.app.scoring.sla_risk(GERMAN_VIP, None, predicted)  # no queue state
    assert check.failed_condition.endswith(f" (was: {seen})") and seen <= 0.999999
