"""What the service and the reports read back from history, and the records the service writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from queues.events import Event
from router.errors import NotFound
from router.history import (
    HistoryWriter,
    ModelVersionCreate,
    RuleVersionCreate,
    TicketCreate,
    get_rule_version,
    get_ticket,
    list_model_versions,
    list_rule_versions,
    record_model_version,
    record_rule_version,
    record_ticket,
    record_tickets,
    ticket_durations,
    ticket_timeline,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class NoEvents:
    def read(self, after: str, count: int, block_ms: int | None) -> list[Event]:
        return []


def write(engine: Engine, *events: tuple[str, str, str, str | None, float, dict]) -> None:
    """Store (event_id, type, ticket, agent, seconds after T0, data) events."""
    HistoryWriter(engine, NoEvents()).write_batch(
        [
            Event(
                i, kind, ticket, str(data.pop("queue", "billing")), agent, T0.timestamp() + s, data
            )
            for i, kind, ticket, agent, s, data in events
        ]
    )


def test_timeline_is_in_stream_order_not_text_order(history: Engine) -> None:
    # "…-10" sorts before "…-9" as text; the timeline must follow the stream.
    write(
        history,
        ("1772442000000-10", "offered", "t1", "a1", 1, {}),
        ("1772442000000-9", "enqueued", "t1", None, 0, {"priority": 2}),
        ("1772442000001-0", "accepted", "t1", "a1", 2, {}),
        ("1772442000001-1", "enqueued", "other", None, 2, {}),
    )
    timeline = ticket_timeline(history, "t1")
    assert [e.type for e in timeline] == ["enqueued", "offered", "accepted"]
    assert timeline[1].agent_id == "a1"
    assert timeline[0].data == {"priority": 2}
    assert timeline[0].time == T0
    assert ticket_timeline(history, "nobody") == []


def test_recording_a_ticket_twice_keeps_the_first(history: Engine) -> None:
    first = TicketCreate(
        id="t7",
        subject="Refund",
        body="I was charged twice",
        channel="email",
        attributes={"order": "42"},
        category="billing",
        category_confidence=0.91,
        category_probabilities={"billing": 0.91, "tech": 0.09},
        priority="P2",
        sla_risk=0.2,
        queue="billing",
        required_skills={"billing": 2},
        tags=["refund"],
        rule_id="vip-billing",
        rule_version=3,
        routing_reason="rule",
        submitted_at=T0,
    )
    assert record_ticket(history, first) is True
    assert record_ticket(history, first.model_copy(update={"subject": "changed"})) is False
    assert record_tickets(history, [first, first.model_copy(update={"id": "t8"})]) == {"t8"}
    details = get_ticket(history, "t7")
    assert details.ticket is not None
    assert details.ticket.subject == "Refund"
    assert details.ticket.required_skills == {"billing": 2}
    assert details.ticket.submitted_at == T0
    assert details.state == ""  # no events yet: recorded, not projected


def test_an_unknown_ticket_is_not_found(history: Engine) -> None:
    with pytest.raises(NotFound, match="'ghost'"):
        get_ticket(history, "ghost")


def test_rule_versions(history: Engine) -> None:
    for version in (1, 2):
        rules = RuleVersionCreate(
            version=version,
            text=f"rules: [] # v{version}",
            format="yaml",
            sha256=f"{version:064x}",
            published_at=T0 + timedelta(minutes=version),
            published_by="lead",
        )
        assert record_rule_version(history, rules) is True
    assert record_rule_version(history, rules.model_copy(update={"text": "other"})) is False
    assert [r.version for r in list_rule_versions(history)] == [2, 1]
    assert get_rule_version(history, 2).text == "rules: [] # v2"
    with pytest.raises(NotFound, match="rule version 9"):
        get_rule_version(history, 9)


def test_model_versions(history: Engine) -> None:
    for n, version in enumerate(["2026-03-01", "2026-03-02"]):
        model = ModelVersionCreate(
            version=version,
            created_at=T0 + timedelta(days=n),
            path=f"/models/{version}",
            metrics={"category": {"macro_f1": [0.7, 0.8][n]}},
            feature_schema={"features": ["subject", "body"]},
        )
        assert record_model_version(history, model) is True
    versions = list_model_versions(history)
    assert [m.version for m in versions] == ["2026-03-02", "2026-03-01"]
    assert versions[0].metrics == {"category": {"macro_f1": 0.8}}
    assert versions[1].created_at == T0


def test_ticket_durations_per_queue_and_priority(history: Engine) -> None:
    write(
        history,
        ("1-0", "enqueued", "a", None, 0, {"priority": 1, "channel": "chat"}),
        ("2-0", "offered", "a", "x", 10, {}),
        ("3-0", "accepted", "a", "x", 25, {}),
        ("4-0", "first_response", "a", "x", 60, {}),
        ("5-0", "completed", "a", "x", 600, {}),
        ("6-0", "enqueued", "b", None, 3600, {"priority": 4, "queue": "tech"}),
        ("7-0", "offered", "b", "y", 3605, {"queue": "tech"}),
    )
    rows = {row.ticket_id: row for row in ticket_durations(history)}
    a, b = rows["a"], rows["b"]
    assert (a.queue, a.priority, a.channel, a.state) == ("billing", "P1", "chat", "resolved")
    assert a.time_to_first_offer_s == 10
    assert a.time_to_accept_s == 25
    assert a.time_to_first_response_s == 60
    assert a.time_to_resolve_s == 600
    assert (b.queue, b.priority, b.state) == ("tech", "P4", "offered")
    assert b.time_to_first_offer_s == 5
    assert b.time_to_accept_s is None
    assert b.time_to_resolve_s is None
    later = ticket_durations(history, since=T0 + timedelta(minutes=30))
    assert [row.ticket_id for row in later] == ["b"]
    earlier = ticket_durations(history, until=T0 + timedelta(minutes=30))
    assert [row.ticket_id for row in earlier] == ["a"]
