"""Tests of router.rules: validation with line numbers, and routing decisions."""

from __future__ import annotations

from pathlib import Path

import pytest

from router.config_document import InvalidConfig
from router.errors import InvalidArgument
from router.rules import Priority, RuleSet

DEMO_QUEUES = {"billing", "technical", "account", "shipping", "sales", "triage", "escalations"}
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "rules.yaml"

HEAD = """\
default_queue: triage
category_queues: {billing: billing}
rules:
"""  # the rules below start on line 4


def problems_of(text: str, fmt: str = "yaml", **kwargs: object) -> list[tuple[int | None, str]]:
    with pytest.raises(InvalidConfig) as raised:
        RuleSet.parse(text, fmt, **kwargs)  # type: ignore[arg-type]
    return [(p.line, str(p)) for p in raised.value.problems]


# --- a wrong file is refused with the line, the rule and what to fix ----------------------------

MALFORMED = [
    pytest.param(
        HEAD + "  - id: a\n    when: {category: billing\n    route_to: billing\n",
        "yaml",
        6,
        None,
        "YAML syntax error",
        id="yaml-syntax",
    ),
    pytest.param(
        HEAD + "  - id: a\n    when: {category: {inn: [billing]}}\n    route_to: billing\n",
        "yaml",
        5,
        "a",
        "unknown operator 'inn' (did you mean 'in'?)",
        id="unknown-operator",
    ),
    pytest.param(
        HEAD + "  - id: a\n    when: {subject: {gt: abc}}\n    route_to: billing\n",
        "yaml",
        5,
        "a",
        "'gt' does not apply to subject; subject takes eq, ne, in, not_in, matches",
        id="operator-for-other-kind",
    ),
    pytest.param(
        HEAD + "  - id: a\n    when:\n      body: {matches: '(refund'}\n    route_to: billing\n",
        "yaml",
        6,
        "a",
        "bad regular expression '(refund': missing ): (refund",
        id="bad-regex",
    ),
    pytest.param(
        HEAD + "  - id: a\n    route_to: billing\n  - id: a\n    route_to: triage\n",
        "yaml",
        6,
        "a",
        "duplicate rule id 'a' (first used on line 4); give each rule its own id",
        id="duplicate-id",
    ),
    pytest.param(
        HEAD + "  - id: a\n    when: {sla_risk: {ge: high}}\n    route_to: billing\n",
        "yaml",
        5,
        "a",
        "sla_risk is a probability; compare it with 0..1, not 'high'",
        id="wrong-type-number",
    ),
    pytest.param(
        HEAD + "  - id: a\n    route_to: billing\n    require_skills: {german: two}\n",
        "yaml",
        6,
        "a",
        "a skill level is a whole number, not 'two'",
        id="wrong-type-skill",
    ),
    pytest.param(
        HEAD + "  - id: a\n    when: {customer_tierr: premium}\n    route_to: billing\n",
        "yaml",
        5,
        "a",
        "unknown field 'customer_tierr' (did you mean 'customer_tier'?)",
        id="unknown-field",
    ),
    pytest.param(
        HEAD + "  - id: a\n    rout_to: billing\n    continue: true\n",
        "yaml",
        5,
        "a",
        "unknown rule key 'rout_to' (did you mean 'route_to'?)",
        id="unknown-rule-key",
    ),
    pytest.param(
        HEAD + "  - id: a\n    route_to: billing\n    set_priority: P5\n",
        "yaml",
        6,
        "a",
        "'P5' is not a priority; write a priority as P1 (most urgent), P2, P3 or P4",
        id="priority-out-of-range",
    ),
    pytest.param(
        HEAD + "  - id: a\n    route_to: billing\n    raise_priority: 7\n",
        "yaml",
        6,
        "a",
        "raise_priority is a priority (P1..P4: at least that urgent) or a number of levels",
        id="raise-out-of-range",
    ),
    pytest.param(
        HEAD + "  - id: a\n    when: {category: billing}\n",
        "yaml",
        4,
        "a",
        "the rule neither routes nor continues",
        id="no-action",
    ),
    pytest.param(
        HEAD + "  - id: a\n    route_to: billing\n    continue: true\n",
        "yaml",
        6,
        "a",
        "a rule with continue: true does not decide the queue",
        id="continue-and-route",
    ),
    pytest.param(
        HEAD + "  - when: {category: billing}\n    route_to: billing\n",
        "yaml",
        4,
        None,
        "the rule has no id",
        id="missing-id",
    ),
    pytest.param(
        HEAD + "  - id: a\n    when: {any: []}\n    route_to: billing\n",
        "yaml",
        5,
        "a",
        "any takes a non-empty list of conditions",
        id="empty-any",
    ),
    pytest.param(
        HEAD + "  - id: a\n    route_to: biling\n",
        "yaml",
        5,
        "a",
        "unknown queue 'biling' (did you mean 'billing'?)",
        id="unknown-queue",
    ),
    pytest.param(
        "default_queue: triage\nrulez: []\n",
        "yaml",
        2,
        None,
        "unknown top-level key 'rulez' (did you mean 'rules'?)",
        id="unknown-top-level",
    ),
    pytest.param(
        "rules: []\n",
        "yaml",
        1,
        None,
        "default_queue is missing",
        id="no-default-queue",
    ),
    pytest.param(
        'default_queue = "triage"\n\n[[rules]]\nid = "a"\nroute_to = "billing"\n'
        '[rules.when]\ncategory = "billing"\nsla_risk = { gte = 0.5 }\n',
        "toml",
        8,
        "a",
        "unknown operator 'gte' (did you mean 'ge'?)",
        id="toml-unknown-operator",
    ),
    pytest.param(
        'default_queue = "triage"\n[[rules]]\nid = "a"\nroute_to = billing\n',
        "toml",
        4,
        None,
        "TOML syntax error",
        id="toml-syntax",
    ),
]


@pytest.mark.parametrize(("text", "fmt", "line", "rule_id", "fragment"), MALFORMED)
def test_malformed_rule_sets_are_refused_with_line_and_fix(
    text: str, fmt: str, line: int, rule_id: str | None, fragment: str
) -> None:
    with pytest.raises(InvalidConfig) as raised:
        RuleSet.parse(text, fmt, known_queues=DEMO_QUEUES)
    assert isinstance(raised.value, InvalidArgument)
    matching = [p for p in raised.value.problems if fragment in p.message]
    assert matching, [str(p) for p in raised.value.problems]
    problem = matching[0]
    assert problem.line == line, str(problem)
    assert problem.rule_id == rule_id
    assert f"line {line}, " in str(raised.value)


def test_every_problem_is_reported_in_line_order() -> None:
    text = (
        HEAD
        + "  - id: first\n"  # 4
        + "    when: {channel: {matches: '[a-'}}\n"  # 5 bad regex
        + "    route_to: billing\n"  # 6
        + "  - id: second\n"  # 7
        + "    when: {priority: {le: P9}}\n"  # 8 bad priority
        + "    route_to: nowhere\n"  # 9 unknown queue
        + "triage: {queue: triage, min_confidence: 1.5}\n"  # 10 out of range
    )
    problems = problems_of(text, known_queues=DEMO_QUEUES)
    assert [line for line, _ in problems] == [5, 8, 9, 10]
    assert "rules[0].when.channel.matches (rule 'first'): bad regular expression" in problems[0][1]
    assert "rules[1].when.priority.le (rule 'second'): 'P9' is not a priority" in problems[1][1]
    assert "rules[1].route_to (rule 'second'): unknown queue 'nowhere'" in problems[2][1]
    assert "triage.min_confidence: min_confidence must be a number from 0 to 1" in problems[3][1]


def test_rules_are_data_never_code() -> None:
    text = HEAD + "  - id: a\n    when: {subject: __import__('os').system('true')}\n"
    text += "    route_to: billing\n"
    rule_set = RuleSet.parse(text, "yaml")
    # The "code" is only a string to compare with.
    assert rule_set.decide({"subject": "x"}, {}).rule_id is None
    assert rule_set.decide({"subject": "__import__('os').system('true')"}, {}).rule_id == "a"
    problems = problems_of("default_queue: !!python/object/apply:os.getcwd []\n")
    assert "remove the tag" in problems[0][1]


def test_unknown_format_is_an_invalid_argument() -> None:
    with pytest.raises(InvalidArgument, match="use 'yaml' or 'toml'"):
        RuleSet.parse("default_queue: triage\n", "json")


# --- decisions ----------------------------------------------------------------------------------

RULES = """\
default_queue: triage
default_priority: P3
category_queues: {billing: billing, technical: technical, account: account}
triage: {queue: triage, min_confidence: 0.4}
rules:
  - id: tag-german
    when: {language: de}
    continue: true
    require_skills: {german: 2}
    tags: [german]
  - id: vip-faster
    when: {customer_tier: [premium, enterprise]}
    continue: true
    raise_priority: 1
    require_skills: {german: 3}
    tags: [vip, german]
  - id: outage
    when:
      any:
        - subject: {matches: '\\b(outage|down)\\b'}
        - body: {contains: "nothing works"}
    route_to: escalations
    set_priority: P1
  - id: enterprise-billing
    when:
      all:
        - customer_tier: enterprise
        - category: billing
        - category_confidence: {ge: 0.6}
    route_to: billing
    raise_priority: P2
  - id: risky
    when: {sla_risk: {gt: 0.8}, priority: {le: P2}}
    route_to: escalations
  - id: not-a-customer
    when:
      not: {customer_id: {exists: true}}
      attributes.source: pricing-page
    route_to: sales
  - id: plan-attribute
    when:
      attributes: {plan: {in: [gold, platinum]}}
      channel: {ne: phone}
    route_to: account
"""


@pytest.fixture(scope="module")
def rule_set() -> RuleSet:
    return RuleSet.parse(RULES, "yaml")


def test_first_deciding_rule_wins(rule_set: RuleSet) -> None:
    ticket = {"subject": "Site DOWN", "customer_tier": "enterprise"}
    decision = rule_set.decide(ticket, {"category": "billing", "category_confidence": 0.9})
    assert (decision.queue, decision.rule_id, decision.reason) == ("escalations", "outage", "rule")
    assert decision.priority is Priority.P1
    # enterprise-billing would also match, but outage came first and stopped evaluation.
    assert [check.rule_id for check in decision.trace] == ["tag-german", "vip-faster", "outage"]


def test_continue_rules_adjust_and_evaluation_goes_on(rule_set: RuleSet) -> None:
    ticket = {"language": "de", "customer_tier": "enterprise", "subject": "Invoice"}
    scores = {"category": "billing", "category_confidence": 0.7, "priority": "P4"}
    decision = rule_set.decide(ticket, scores)
    assert decision.rule_id == "enterprise-billing"
    assert decision.queue == "billing"
    # P4 raised one level by vip-faster (P3), then at least P2 by enterprise-billing.
    assert decision.priority is Priority.P2
    assert decision.required_skills == {"german": 3}
    assert decision.tags == ("german", "vip")
    assert [(c.rule_id, c.matched) for c in decision.trace] == [
        ("tag-german", True),
        ("vip-faster", True),
        ("outage", False),
        ("enterprise-billing", True),
    ]


def test_trace_names_the_first_failed_condition(rule_set: RuleSet) -> None:
    ticket = {"customer_tier": "enterprise", "subject": "Invoice"}
    scores = {"category": "billing", "category_confidence": 0.5}
    decision = rule_set.decide(ticket, scores)
    checks = {check.rule_id: check for check in decision.trace}
    failed = checks["enterprise-billing"].failed
    assert failed is not None
    assert failed.text == "category_confidence >= 0.6"
    assert failed.line == 29
    assert failed.path == "rules[3].when.all[2].category_confidence.ge"
    assert failed.value(ticket, scores) == 0.5
    outage = checks["outage"].failed
    assert outage is not None
    assert (outage.text, outage.line) == ("any of 2 conditions", 19)
    assert checks["tag-german"].failed is not None
    assert checks["tag-german"].failed.value(ticket, scores) is None


def test_no_rule_uses_category_map_then_default(rule_set: RuleSet) -> None:
    decision = rule_set.decide({"subject": "crash"}, {"category": "technical", "priority": 2})
    assert (decision.queue, decision.reason, decision.rule_id) == (
        "technical",
        "category_map",
        None,
    )
    assert decision.priority is Priority.P2
    decision = rule_set.decide({"subject": "hi"}, {"category": "gardening"})
    assert (decision.queue, decision.reason) == ("triage", "default")
    assert decision.priority is Priority.P3  # default_priority without a priority score


def test_low_confidence_goes_to_triage(rule_set: RuleSet) -> None:
    low = rule_set.decide({"subject": "?"}, {"category": "billing", "category_confidence": 0.39})
    assert (low.queue, low.reason) == ("triage", "triage")
    sure = rule_set.decide({"subject": "?"}, {"category": "billing", "category_confidence": 0.4})
    assert (sure.queue, sure.reason) == ("billing", "category_map")
    # A rule still decides before triage.
    rule = rule_set.decide({"subject": "outage"}, {"category_confidence": 0.1})
    assert (rule.queue, rule.reason) == ("escalations", "rule")


def test_regex_and_contains_ignore_case_and_respect_word_boundaries(rule_set: RuleSet) -> None:
    def queue(ticket: dict[str, str]) -> str:
        return rule_set.decide(ticket, {"category": "account"}).queue

    assert queue({"subject": "Total OUTAGE in EU"}) == "escalations"
    assert queue({"subject": "breakdown of costs"}) == "account"  # \bdown\b does not match
    assert queue({"body": "Since Monday NOTHING WORKS here"}) == "escalations"


def test_scores_and_priority_comparisons(rule_set: RuleSet) -> None:
    def rule(scores: dict[str, object]) -> str | None:
        return rule_set.decide({"subject": "x"}, scores).rule_id

    assert rule({"sla_risk": 0.81, "priority": "P2"}) == "risky"
    assert rule({"sla_risk": 0.81, "priority": Priority.P1}) == "risky"
    assert rule({"sla_risk": 0.81, "priority": "P3"}) is None
    assert rule({"sla_risk": 0.8, "priority": "P1"}) is None
    assert rule({"sla_risk": 0.9}) is None  # missing priority fails `le`
    assert rule({"sla_risk": "0.9", "priority": "P1"}) is None  # wrong type fails, no crash


def test_not_exists_and_attributes(rule_set: RuleSet) -> None:
    lead = {"subject": "x", "attributes": {"source": "pricing-page"}}
    assert rule_set.decide(lead, {}).queue == "sales"
    customer = {**lead, "customer_id": "c-1"}
    assert rule_set.decide(customer, {}).queue != "sales"
    empty_id = {**lead, "customer_id": ""}
    assert rule_set.decide(empty_id, {}).queue == "sales"  # empty counts as missing

    gold = {"subject": "x", "customer_id": "c", "attributes": {"plan": "gold"}, "channel": "chat"}
    assert rule_set.decide(gold, {}).rule_id == "plan-attribute"
    # ne holds for a missing channel, fails for phone.
    assert rule_set.decide({**gold, "channel": None}, {}).rule_id == "plan-attribute"
    assert rule_set.decide({**gold, "channel": "phone"}, {}).rule_id is None
    assert rule_set.decide({"subject": "x", "customer_id": "c"}, {}).rule_id is None


def test_rule_without_when_matches_everything() -> None:
    rule_set = RuleSet.parse(
        "default_queue: triage\nrules:\n  - id: all\n    tags: [seen]\n    continue: true\n"
        "  - id: catch-all\n    route_to: triage\n    set_priority: P4\n",
        "yaml",
    )
    decision = rule_set.decide({}, {"priority": "P1"})
    assert (decision.rule_id, decision.priority, decision.tags) == (
        "catch-all",
        Priority.P4,
        ("seen",),
    )


def test_unquoted_numbers_compare_as_text() -> None:
    rule_set = RuleSet.parse(
        "default_queue: triage\nrules:\n  - id: a\n    when: {customer_id: 12345}\n"
        "    route_to: billing\n",
        "yaml",
    )
    assert rule_set.decide({"customer_id": "12345"}, {}).queue == "billing"


TOML_RULES = """\
default_queue = "triage"
category_queues = { billing = "billing", technical = "technical", account = "account" }

[triage]
queue = "triage"
min_confidence = 0.4

[[rules]]
id = "enterprise-billing"
route_to = "billing"
raise_priority = "P2"

[rules.when]
customer_tier = "enterprise"
category = "billing"
category_confidence = { ge = 0.6 }

[[rules]]
id = "not-a-customer"
route_to = "sales"
when = { not = { customer_id = { exists = true } }, attributes = { source = "pricing-page" } }
"""


def test_toml_rule_set_decides_like_yaml() -> None:
    rule_set = RuleSet.parse(TOML_RULES, "toml")
    decision = rule_set.decide(
        {"customer_tier": "enterprise"}, {"category": "billing", "category_confidence": 0.6}
    )
    assert (decision.rule_id, decision.priority) == ("enterprise-billing", Priority.P2)
    decision = rule_set.decide({"attributes": {"source": "pricing-page"}}, {})
    assert decision.queue == "sales"
    failed = rule_set.decide({"customer_tier": "basic"}, {}).trace[0].failed
    assert failed is not None
    assert (failed.text, failed.line) == ("customer_tier == 'enterprise'", 14)


def test_sections_for_other_parsers_are_kept_raw_and_located() -> None:
    text = "default_queue: triage\nsla_policy:\n  targets:\n    P1: {first_response: 1h}\n"
    rule_set = RuleSet.parse(text, "yaml")
    section = rule_set.section("sla_policy")
    assert section is not None
    assert section.data == {"targets": {"P1": {"first_response": "1h"}}}
    assert section.line_of(("targets", "P1", "first_response")) == 4
    assert rule_set.section("escalation") is None
    with pytest.raises(KeyError):
        rule_set.section("rules")


def test_example_rule_set(tmp_path: Path) -> None:
    rule_set = RuleSet.parse(EXAMPLE.read_text(), "yaml", known_queues=DEMO_QUEUES)
    assert rule_set.queue_names() == DEMO_QUEUES
    hacked = rule_set.decide(
        {"subject": "My account was hacked", "language": "de", "customer_tier": "premium"},
        {"category": "account", "category_confidence": 0.9, "priority": "P3"},
    )
    assert (hacked.queue, hacked.rule_id, hacked.priority) == (
        "escalations",
        "security-incident",
        Priority.P1,
    )
    assert hacked.required_skills == {"german": 2, "security": 3}
    assert hacked.tags == ("vip", "security")
    tracking = rule_set.decide(
        {"subject": "Where is my order?", "channel": "email", "customer_id": "c9"},
        {"category": "billing", "category_confidence": 0.3},
    )
    assert (tracking.queue, tracking.rule_id) == ("shipping", "order-tracking")
    unsure = rule_set.decide({"subject": "hello", "channel": "chat"}, {"category_confidence": 0.2})
    assert (unsure.queue, unsure.reason) == ("triage", "triage")


def test_example_refused_when_a_queue_is_neither_known_nor_declared() -> None:
    text = EXAMPLE.read_text()
    assert "\nqueues: [escalations]\n" in text
    undeclared = text.replace("\nqueues: [escalations]\n", "\n")
    problems = problems_of(undeclared, known_queues=DEMO_QUEUES - {"escalations"})
    assert len(problems) == 2
    assert all("unknown queue 'escalations'" in text for _, text in problems)
    assert all("listed under `queues:`" in text for _, text in problems)
    declared = RuleSet.parse(text, "yaml", known_queues=DEMO_QUEUES - {"escalations"})
    assert declared.new_queues == {"escalations"} and "escalations" in declared.queue_names()


def test_a_declared_queue_is_known_and_a_typo_is_not() -> None:
    text = ("queues: [chat-desk]\ndefault_queue: triage\nrules:\n"
            "  - id: chat\n    when: {channel: chat}\n    route_to: chat-desk\n"
            "  - id: bill\n    when: {category: billing}\n    route_to: biling\n")
    problems = problems_of(text, known_queues={"triage", "billing"})
    assert problems == [(9, problems[0][1])]  # the route_to line
    assert "unknown queue 'biling' (did you mean 'billing'?)" in problems[0][1]
    # without a store to check against (known_queues None) any queue is taken
    assert "biling" in RuleSet.parse(text, "yaml").queue_names()


@pytest.mark.parametrize(
    "value", ["chat-desk", "[1]", "['']", "[' padded ']", "{a: b}", "['bad name!']"]
)
def test_queues_must_be_a_list_of_names(value: str) -> None:
    problems = problems_of(f"queues: {value}\ndefault_queue: triage\n")
    assert problems and all("queue" in text for _, text in problems)


@pytest.mark.timeout(30)
def test_regex_cannot_stall_routing() -> None:
    # Python's re needs minutes for this pattern on 2,000 characters; RE2 is linear, so this
    # returns at once (the timeout only turns a regression into a failure instead of a hang).
    rule_set = RuleSet.parse(
        "default_queue: triage\nrules:\n  - id: a\n    when: {body: {matches: '.*a.*b.*c'}}\n"
        "    route_to: billing\n",
        "yaml",
    )
    assert rule_set.decide({"body": "a" * 100_000}, {}).rule_id is None
    assert rule_set.decide({"body": "x a y b z c"}, {}).rule_id == "a"
