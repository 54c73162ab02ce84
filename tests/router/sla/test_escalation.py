"""Tests of router.sla.escalation: the pure decision, no flapping, parsing with lines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from router.config_document import ConfigDocument, InvalidConfig
from router.errors import InvalidArgument, NotFound
from router.sla.escalation import (
    DEFAULT_ESCALATION_POLICY,
    AtRiskBand,
    EscalationActions,
    EscalationPolicy,
    TicketEscalationState,
    load_escalation_policy,
)
from router.sla.policy import DEFAULT_POLICY

M = timedelta(minutes=1)

POLICY_YAML = """\
escalation:
  at_risk: {sla_risk_at_least: 0.5, clear_below: 0.35}
  levels:
    - name: warn
      when: {sla_risk_at_least: 0.5}
    - name: raise
      when: {sla_risk_at_least: 0.8, time_left_at_most: 30m}
      actions: {raise_priority: 1}
    - name: both
      when: {sla_risk_at_least: 0.7, time_left_at_most: 1h, match: all}
      actions: {relax_skills: [german, sap]}
    - name: urgent
      when: {time_left_at_most: 10m}
      actions:
        raise_priority: P1
        move_to_queue: escalations
        relax_skills: [german]
        emit_event: true
"""

POLICY_TOML = """\
[escalation.at_risk]
sla_risk_at_least = 0.5
clear_below = 0.35

[[escalation.levels]]
name = "warn"
when = { sla_risk_at_least = 0.5 }

[[escalation.levels]]
name = "raise"
when = { sla_risk_at_least = 0.8, time_left_at_most = "30m" }
actions = { raise_priority = 1 }

[[escalation.levels]]
name = "both"
when = { sla_risk_at_least = 0.7, time_left_at_most = "1h", match = "all" }
actions = { relax_skills = ["german", "sap"] }

[[escalation.levels]]
name = "urgent"
when = { time_left_at_most = "10m" }
actions = { raise_priority = "P1", move_to_queue = "escalations", relax_skills = ["german"] }
"""


@pytest.fixture(params=[("yaml", POLICY_YAML), ("toml", POLICY_TOML)], ids=["yaml", "toml"])
def policy(request: pytest.FixtureRequest) -> EscalationPolicy:
    fmt, text = request.param
    return load_escalation_policy(ConfigDocument.parse(text, fmt))


def names(policy: EscalationPolicy, state: TicketEscalationState) -> list[str]:
    return [level.name for level in policy.decide(state).levels]


def test_parsed_identically_from_yaml_and_toml(policy: EscalationPolicy) -> None:
    assert policy.level_names == ("warn", "raise", "both", "urgent")
    assert policy.at_risk == AtRiskBand(0.5, 0.35)
    urgent = policy.level("urgent")
    assert urgent.actions == EscalationActions(0, "P1", "escalations", ("german",), True)
    assert urgent.index == 3
    assert policy.level("both").trigger.match == "all"


@pytest.mark.parametrize(
    ("risk", "left", "expected"),
    [
        (None, None, []),
        (0.49, timedelta(hours=5), []),
        (0.5, timedelta(hours=5), ["warn"]),
        (0.75, timedelta(hours=5), ["warn"]),  # "both" needs the time condition too
        (0.75, 45 * M, ["warn", "both"]),
        (0.2, 20 * M, ["raise"]),  # either condition fires "raise"
        (0.9, 5 * M, ["warn", "raise", "both", "urgent"]),
        (None, -5 * M, ["raise", "urgent"]),  # past the deadline still escalates
    ],
)
def test_levels_whose_trigger_holds_fire(
    policy: EscalationPolicy, risk: float | None, left: timedelta | None, expected: list[str]
) -> None:
    state = TicketEscalationState("P3", sla_risk=risk, time_left=left)
    assert names(policy, state) == expected


def test_combined_effect_applies_levels_in_order(policy: EscalationPolicy) -> None:
    decision = policy.decide(TicketEscalationState("P4", sla_risk=0.9, time_left=5 * M))
    assert [(s.priority_before, s.priority_after) for s in decision.steps] == [
        ("P4", "P4"),
        ("P4", "P3"),
        ("P3", "P3"),
        ("P3", "P1"),
    ]
    assert decision.priority == "P1"
    assert decision.queue == "escalations"
    assert decision.relax_skills == {"german", "sap"}
    data = decision.steps[3].event_data(TicketEscalationState("P4", sla_risk=0.9, time_left=5 * M))
    assert data == {
        "level": "urgent",
        "level_index": 3,
        "sla_risk": 0.9,
        "time_left_s": 300.0,
        "priority_from": "P3",
        "priority_to": "P1",
        "move_to_queue": "escalations",
        "relax_skills": ["german"],
    }


def test_each_level_fires_once_even_when_risk_oscillates(policy: EscalationPolicy) -> None:
    fired: set[str] = set()
    fired_log: list[list[str]] = []
    risks = [0.3, 0.55, 0.45, 0.56, 0.2, 0.85, 0.4, 0.86, 0.9, 0.1]
    priority = "P3"
    for risk in risks:
        decision = policy.decide(
            TicketEscalationState(priority, frozenset(fired), risk, timedelta(hours=4))
        )
        fired_log.append([level.name for level in decision.levels])
        fired.update(level.name for level in decision.levels)
        priority = decision.priority
    assert fired_log == [[], ["warn"], [], [], [], ["raise"], [], [], [], []]
    assert priority == "P2"  # raised once, never lowered when the risk fell back


def test_priority_is_never_lowered() -> None:
    assert EscalationActions(raise_priority_to="P2").priority_after("P1") == "P1"
    assert EscalationActions(raise_priority_by=2).priority_after("P2") == "P1"
    assert EscalationActions(raise_priority_by=1, raise_priority_to="P3").priority_after(4) == "P3"
    assert EscalationActions().priority_after("P4") == "P4"


def test_at_risk_flag_has_hysteresis(policy: EscalationPolicy) -> None:
    band = policy.at_risk
    flags = []
    at_risk = False
    for risk in [0.4, 0.5, 0.45, 0.36, 0.34, 0.49, 0.5, None]:
        at_risk = band.at_risk(risk, at_risk)
        flags.append(at_risk)
    assert flags == [False, True, True, True, False, False, True, True]


def test_unknown_priority_and_level() -> None:
    with pytest.raises(InvalidArgument, match="unknown priority"):
        DEFAULT_ESCALATION_POLICY.decide(TicketEscalationState("urgent"))
    with pytest.raises(NotFound, match="no escalation level 'nope'"):
        DEFAULT_ESCALATION_POLICY.level("nope")


def test_a_ticket_about_to_breach_is_escalated_before_the_breach() -> None:
    # Default SLA and escalation policies, a P3 ticket nobody answers, no risk score at all:
    # a sweep every minute sees the time left shrink and escalates before the first response
    # deadline (8 h), raising the priority twice.
    submitted = datetime(2024, 3, 11, 9, tzinfo=UTC)
    deadlines = DEFAULT_POLICY.deadlines("P3", "support", None, submitted)
    fired: set[str] = set()
    escalated_at: dict[str, datetime] = {}
    priority = "P3"
    now = submitted
    while now < deadlines.first_response_at:
        left = deadlines.time_left(now, responded=False)
        decision = DEFAULT_ESCALATION_POLICY.decide(
            TicketEscalationState(priority, frozenset(fired), None, left)
        )
        for step in decision.steps:
            fired.add(step.level.name)
            escalated_at[step.level.name] = now
        priority = decision.priority
        now += M
    assert escalated_at == {
        "raise": deadlines.first_response_at - 30 * M,
        "urgent": deadlines.first_response_at - 10 * M,
    }
    assert priority == "P1"


def test_default_policy_without_section() -> None:
    assert load_escalation_policy(ConfigDocument.parse("rules: []\n", "yaml")) is (
        DEFAULT_ESCALATION_POLICY
    )
    assert DEFAULT_ESCALATION_POLICY.level_names == ("warn", "raise", "urgent")
    at_risk = load_escalation_policy(
        ConfigDocument.parse(
            "escalation:\n  levels:\n    - when: {sla_risk_at_least: 0.7}\n", "yaml"
        )
    )
    # Without at_risk: entered at the lowest risk threshold, cleared 0.1 below it.
    assert at_risk.at_risk == AtRiskBand(0.7, pytest.approx(0.6))
    assert at_risk.level_names == ("level_1",)


BAD_YAML = """\
escalation:
  at_risk: {sla_risk_at_least: 0.5, clear_below: 0.6}
  levels:
    - name: warn
      when: {sla_risk_at_least: 1.5}
    - name: warn
      when: {time_left_at_most: 10m}
    - name: "bad name"
      when: {time_left_at_most: 10m}
    - name: raise
      when: {time_left_at_most: soon, match: either}
      actions: {raise_priority: 7, move_to_queue: "", relax_skills: german, emit_evnt: true}
    - name: empty
      when: {}
    - name: nowhen
"""


def test_every_mistake_is_listed_with_its_line_and_level() -> None:
    with pytest.raises(InvalidConfig) as caught:
        load_escalation_policy(ConfigDocument.parse(BAD_YAML, "yaml"))
    found = {(p.line, p.path, p.item_id): p.message for p in caught.value.problems}
    expected = {
        (2, "escalation.at_risk.clear_below", None): "above the at-risk threshold",
        (5, "escalation.levels[0].when.sla_risk_at_least", "warn"): "outside 0.0..1.0",
        (6, "escalation.levels[1].name", None): "already the name of levels[0]",
        (8, "escalation.levels[2].name", None): "letters, digits",
        (11, "escalation.levels[3].when.time_left_at_most", "raise"): "not a duration",
        (11, "escalation.levels[3].when.match", "raise"): "use any",
        (12, "escalation.levels[3].actions.raise_priority", "raise"): "give steps",
        (12, "escalation.levels[3].actions.move_to_queue", "raise"): "non-empty name",
        (12, "escalation.levels[3].actions.relax_skills", "raise"): "list of names",
        (12, "escalation.levels[3].actions.emit_evnt", "raise"): "did you mean 'emit_event'",
        (14, "escalation.levels[4].when", "empty"): "sla_risk_at_least and/or time_left_at_most",
        (15, "escalation.levels[5]", "nowhen"): "when is required",
    }
    for where, fragment in expected.items():
        assert where in found, (where, sorted(found, key=str))
        assert fragment in found[where]
    assert len(found) == len(expected)
    assert "(level 'raise')" in str(caught.value)
