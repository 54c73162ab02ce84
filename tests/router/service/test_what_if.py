"""SimulateRules (what-if): past tickets from the history replayed through a draft rule set."""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest
from typer.testing import CliRunner

from clients.client import AsyncRouterClient
from clients.requests import make_agent
from router import convert
from router.api.ticket_router.v1 import agent_service_pb2 as agents_pb
from router.api.ticket_router.v1 import rule_service_pb2 as rules_pb
from router.api.ticket_router.v1 import ticket_pb2 as pb
from router.api.ticket_router.v1 import ticket_service_pb2 as tickets_pb
from router.cli import app as cli_app
from router.demo import demo_tickets
from router.history.models import Ticket
from router.history.queries import past_submissions
from router.rules import RuleSet
from router.scoring_adapter import scoring_ticket
from router.serve import Running
from router.what_if import PastTicket, past_ticket, replay_queue_states, simulate
from scoring.features import QueueState
from scoring.scorer import Scorer
from tests.router.service.conftest import eventually

QUEUES = ["billing", "technical", "account", "shipping", "sales", "triage"]
CHAT_RULE = "  - id: chat-desk\n    when: {channel: chat}\n    route_to: chat-desk\n"
TICKETS = 40


def with_chat_rule(live_text: str) -> tuple[str, int]:
    """The live rules with a first rule sending chat tickets to a new queue, chat-desk, and
    that rule's line."""
    head, rules = live_text.split("\nrules:\n", 1)
    line = head.count("\n") + 4
    return f"queues: [chat-desk]\n{head}\nrules:\n{CHAT_RULE}{rules}", line


async def simulate_rpc(client: AsyncRouterClient, text: str, **fields: object) -> object:
    return await client.call(
        "RuleService", "SimulateRules", rules_pb.SimulateRulesRequest(text=text, **fields)
    )


async def live_text(client: AsyncRouterClient) -> str:
    reply = await client.call("RuleService", "GetRules", rules_pb.GetRulesRequest())
    return str(reply.rules.text)


@pytest.fixture
async def history(router: Running, client: AsyncRouterClient) -> dict[str, pb.RoutingDecision]:
    """TICKETS demo tickets submitted (one agent serves every default queue) and stored in
    the history; their decisions by id."""
    await client.call("AgentService", "UpsertAgent", agents_pb.UpsertAgentRequest(
        agent=make_agent("ann", QUEUES, {"email": 2, "chat": 2, "web": 2, "phone": 2})))
    decisions = {}
    for ticket in demo_tickets(TICKETS, seed=11, id_prefix="wi-"):
        reply = await client.call(
            "TicketService", "SubmitTicket", tickets_pb.SubmitTicketRequest(ticket=ticket)
        )
        decisions[ticket.id] = reply.decision

    async def stored() -> bool:
        rows = await asyncio.to_thread(past_submissions, router.app.engine)
        return len(rows) == TICKETS

    await eventually(stored, timeout=30)
    return decisions


async def test_the_live_rules_change_nothing(
    client: AsyncRouterClient, history: dict[str, pb.RoutingDecision]
) -> None:
    reply = await simulate_rpc(client, await live_text(client))
    assert reply.tickets == TICKETS
    assert (reply.queue_changed, reply.priority_changed) == (0, 0)
    assert not reply.moves and not reply.changed and not reply.warnings
    routed = Counter(decision.queue for decision in history.values())
    assert {q.queue: (q.tickets_before, q.tickets_after) for q in reply.queues} == {
        queue: (n, n) for queue, n in routed.items()
    }
    assert reply.risk_scored
    assert reply.predicted_breaches_before == reply.predicted_breaches_after
    assert 0 < reply.predicted_breaches_before < TICKETS
    assert sum(reply.reasons.values()) == TICKETS
    assert all(q.agents_available == 1 for q in reply.queues)


async def test_a_draft_rule_moves_tickets_and_warns_of_a_queue_nobody_serves(
    client: AsyncRouterClient, history: dict[str, pb.RoutingDecision]
) -> None:
    draft, line = with_chat_rule(await live_text(client))
    reply = await simulate_rpc(client, draft, max_examples=5)
    submitted = {t.id: t for t in demo_tickets(TICKETS, seed=11, id_prefix="wi-")}
    chats = [i for i, t in submitted.items() if t.channel == pb.CHANNEL_CHAT]
    assert chats, "the demo sample has chat tickets"

    assert reply.queue_changed == len(chats)
    moved = Counter(history[i].queue for i in chats)
    assert {(m.from_queue, m.to_queue): m.tickets for m in reply.moves} == {
        (queue, "chat-desk"): n for queue, n in moved.items()
    }
    desk = next(q for q in reply.queues if q.queue == "chat-desk")
    assert (desk.tickets_before, desk.tickets_after, desk.agents_available) == (0, len(chats), 0)
    assert desk.predicted_breaches_after > 0
    hits = {hit.rule_id: (hit.line, hit.tickets) for hit in reply.rules}
    assert hits["chat-desk"] == (line, len(chats))
    assert len(reply.changed) == min(5, len(chats) + reply.priority_changed)
    assert all(c.ticket_id in submitted for c in reply.changed)
    assert any("chat-desk" in warning for warning in reply.warnings)
    assert reply.predicted_breaches_before == pytest.approx(
        sum(q.predicted_breaches_before for q in reply.queues))

    # nothing was published
    assert "chat-desk" not in await live_text(client)


async def test_limit_takes_the_latest_tickets(
    client: AsyncRouterClient, history: dict[str, pb.RoutingDecision]
) -> None:
    every = await simulate_rpc(client, await live_text(client))
    latest = await simulate_rpc(client, await live_text(client), limit=5)
    assert latest.tickets == 5
    assert latest.last_submitted_at == every.last_submitted_at
    assert latest.first_submitted_at.ToNanoseconds() > every.first_submitted_at.ToNanoseconds()
    after_all = await simulate_rpc(client, await live_text(client), since=every.last_submitted_at,
                                   until=convert.timestamp(
                                       every.last_submitted_at.ToNanoseconds() / 1e9 + 1))
    assert after_all.tickets >= 1


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"text": "default_queue: triage\nrules:\n  - id: x\n    when: {colour: red}\n"
                  "    route_to: billing\n"}, "line 4"),
        ({"text": "default_queue: triage\n", "limit": -1}, "limit"),
        ({"text": "default_queue: triage\n", "max_examples": 5000}, "max_examples"),
        ({"text": "default_queue: triage\n", "since": convert.timestamp(2000.0),
          "until": convert.timestamp(1000.0)}, "since"),
    ],
)
async def test_bad_requests_are_refused_and_the_router_keeps_serving(
    client: AsyncRouterClient, fields: dict[str, object], words: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await client.call("RuleService", "SimulateRules", rules_pb.SimulateRulesRequest(**fields))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert words in (caught.value.details() or "")
    assert await live_text(client)


async def test_a_draft_naming_a_queue_that_does_not_exist_is_refused(
    client: AsyncRouterClient,
) -> None:
    typo = (await live_text(client)).replace("default_queue: triage", "default_queue: triag")
    assert "triag\n" in typo
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await simulate_rpc(client, typo)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "unknown queue 'triag' (did you mean 'triage'?)" in (
        caught.value.details() or "")


async def test_an_empty_history_replays_nothing(client: AsyncRouterClient) -> None:
    reply = await simulate_rpc(client, "default_queue: triage\n")
    assert reply.tickets == 0 and not reply.queues
    assert any("no submitted tickets" in warning for warning in reply.warnings)


async def test_the_cli_prints_the_comparison(
    router: Running, history: dict[str, pb.RoutingDecision], client: AsyncRouterClient,
    tmp_path: Path,
) -> None:
    draft, _ = with_chat_rule(await live_text(client))
    path = tmp_path / "draft.yaml"
    path.write_text(draft)
    result = await asyncio.to_thread(
        CliRunner().invoke, cli_app,
        ["rules", "what-if", str(path), "--target", f"127.0.0.1:{router.port}"],
    )
    assert result.exit_code == 0, result.output
    assert f"{TICKETS} tickets submitted" in result.output
    assert "chat-desk" in result.output and "Predicted SLA breaches" in result.output

    with_page = await asyncio.to_thread(
        CliRunner().invoke, cli_app,
        ["rules", "what-if", str(path), "--out", str(tmp_path / "reports"),
         "--target", f"127.0.0.1:{router.port}"],
    )
    assert with_page.exit_code == 0, with_page.output
    page = (tmp_path / "reports" / "what-if.html").read_text()
    assert "<td>chat-desk</td>" in page and page.count("data:image/png;base64,") == 2
    assert f"{TICKETS} past tickets replayed" in page
    bad = await asyncio.to_thread(
        CliRunner().invoke, cli_app,
        ["rules", "what-if", str(path), "--since", "yesterday",
         "--target", f"127.0.0.1:{router.port}"],
    )
    assert bad.exit_code != 0 and "not a date" in bad.output


def test_queue_states_are_replayed_from_recorded_waits() -> None:
    arrivals = [
        ("a", 0.0, 10.0),   # waits 10 s
        ("a", 5.0, None),   # still waiting
        ("b", 6.0, 6.5),
        ("a", 12.0, 13.0),  # the first has left, the second waits
        ("b", 20.0, None),  # the one before left at 6.5
        ("a", 14.0, 14.0),
    ]
    assert replay_queue_states(arrivals) == [
        (0, 0.0), (1, 5.0), (0, 0.0), (1, 7.0), (0, 0.0), (1, 9.0),
    ]


def test_each_risk_is_the_models_in_the_replayed_state(model_dir: Path) -> None:
    scorer = Scorer.load(model_dir)
    first, second = demo_tickets(2, seed=3, id_prefix="r-")
    tickets = [
        PastTicket(first, pb.Scores(category="billing", category_confidence=0.9,
                                    priority=pb.PRIORITY_P3), "billing", "P3", 100.0, None),
        PastTicket(second, pb.Scores(category="billing", category_confidence=0.9,
                                     priority=pb.PRIORITY_P2), "billing", "P2", 160.0, 170.0),
    ]
    draft = RuleSet.parse("default_queue: elsewhere\ndefault_priority: P4\n"
                          "rules:\n  - id: all\n    set_priority: P1\n    route_to: billing\n",
                          "yaml")
    result = simulate(tickets, draft, scorer, {"billing": 3})
    expected_before = (
        scorer.sla_risk(scoring_ticket(first), QueueState(0, 3, 0.0, "P3"))
        + scorer.sla_risk(scoring_ticket(second), QueueState(1, 3, 60.0, "P2"))
    )
    expected_after = (
        scorer.sla_risk(scoring_ticket(first), QueueState(0, 3, 0.0, "P1"))
        + scorer.sla_risk(scoring_ticket(second), QueueState(1, 3, 60.0, "P1"))
    )
    (billing,) = result.queues
    assert billing.predicted_breaches_before == pytest.approx(expected_before, rel=1e-12)
    assert billing.predicted_breaches_after == pytest.approx(expected_after, rel=1e-12)
    assert (result.queue_changed, result.priority_changed) == (0, 2)
    assert [(c.priority_before, c.priority_after) for c in result.changed] == [
        ("P3", "P1"), ("P2", "P1")]
    assert result.rule_hits == [("all", 4, 2)]
    assert not math.isnan(result.predicted_breaches_after)


def test_without_an_sla_model_a_risk_rule_matches_nothing_as_live(model_dir: Path) -> None:
    full = Scorer.load(model_dir)
    no_risk = Scorer(full.vectorizer, {t: m for t, m in full.models.items() if t != "sla_risk"},
                     full.metadata)
    (ticket,) = demo_tickets(1, seed=4, id_prefix="n-")
    past = [PastTicket(ticket, pb.Scores(category="billing", category_confidence=0.9),
                       "billing", "P3", 100.0, None)]
    draft = RuleSet.parse("default_queue: billing\nrules:\n  - id: calm\n"
                          "    when: {sla_risk: {lt: 0.3}}\n    route_to: calm\n", "yaml")
    result = simulate(past, draft, no_risk, {})
    assert not result.risk_scored and result.rule_hits == [] and result.queue_changed == 0


def test_a_history_row_gives_the_models_priority_else_the_queued_one() -> None:
    row = Ticket(id="h-1", subject="s", queue="billing", priority="P2",
                 priority_probabilities={"P1": 0.1, "P3": 0.7, "P4": 0.2},
                 submitted_at=datetime(2026, 1, 1, tzinfo=UTC))
    assert past_ticket(row, None).scores.priority == pb.PRIORITY_P3
    row.priority_probabilities = {}
    past = past_ticket(row, None)
    assert (past.scores.priority, past.priority, past.left_at) == (pb.PRIORITY_P2, "P2", None)
