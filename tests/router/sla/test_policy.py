"""Tests of router.sla.policy: targets per priority/queue/tier, business time, parsing errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from router.config_document import ConfigDocument, InvalidConfig
from router.errors import InvalidArgument
from router.sla.durations import format_duration, parse_duration
from router.sla.policy import (
    DEFAULT_POLICY,
    DEFAULT_TARGETS,
    PRIORITIES,
    load_sla_policy,
    parse_priority,
    parse_sla_policy,
)

BERLIN = ZoneInfo("Europe/Berlin")
H = timedelta(hours=1)

POLICY_YAML = """\
version: 1
sla_policy:
  calendars:
    office:
      timezone: Europe/Berlin
      hours: ["09:00-12:00", "13:00-17:00"]
      holidays: [2024-12-25, 2024-12-26]
  targets:
    P1: {first_response: 30m, resolution: 4h}
    P3:
      first_response: {within: 8h, business_hours: office}
      resolution: 40h
      business_hours: office
  overrides:
    - queue: billing
      targets:
        P1: {first_response: 20m}
    - tier: vip
      targets:
        P1: {first_response: 10m, resolution: 2h}
    - queue: billing
      tier: vip
      targets:
        P1: {first_response: 5m}
"""

POLICY_TOML = """\
version = 1

[sla_policy.calendars.office]
timezone = "Europe/Berlin"
hours = ["09:00-12:00", "13:00-17:00"]
holidays = [2024-12-25, 2024-12-26]

[sla_policy.targets]
P1 = { first_response = "30m", resolution = "4h" }
P3 = { first_response = { within = "8h", business_hours = "office" }, resolution = "40h", \
business_hours = "office" }

[[sla_policy.overrides]]
queue = "billing"
targets = { P1 = { first_response = "20m" } }

[[sla_policy.overrides]]
tier = "vip"
targets = { P1 = { first_response = "10m", resolution = "2h" } }

[[sla_policy.overrides]]
queue = "billing"
tier = "vip"
targets = { P1 = { first_response = "5m" } }
"""


@pytest.fixture(params=[("yaml", POLICY_YAML), ("toml", POLICY_TOML)], ids=["yaml", "toml"])
def policy(request: pytest.FixtureRequest):
    fmt, text = request.param
    return load_sla_policy(ConfigDocument.parse(text, fmt))


def test_most_specific_override_wins_per_target(policy) -> None:
    submitted = datetime(2024, 3, 11, 10, tzinfo=UTC)
    cases = {
        (None, None): (30, 4 * 60, "default", "default"),
        ("billing", None): (20, 4 * 60, "queue=billing", "default"),
        ("support", "vip"): (10, 2 * 60, "tier=vip", "tier=vip"),
        # queue+tier beats both; resolution is not set there, and tier=vip sets it (queue
        # billing alone does not), so it comes from the tier.
        ("billing", "vip"): (5, 2 * 60, "queue=billing,tier=vip", "tier=vip"),
    }
    for (queue, tier), (first, resolve, first_source, resolve_source) in cases.items():
        deadlines = policy.deadlines("P1", queue, tier, submitted)
        assert deadlines.first_response_at == submitted + timedelta(minutes=first)
        assert deadlines.resolve_at == submitted + timedelta(minutes=resolve)
        assert (deadlines.first_response_source, deadlines.resolution_source) == (
            first_source,
            resolve_source,
        )


def test_unconfigured_priorities_keep_the_defaults(policy) -> None:
    submitted = datetime(2024, 3, 11, 10, tzinfo=UTC)
    deadlines = policy.deadlines("P2", "billing", "vip", submitted)
    assert deadlines.first_response_at == submitted + DEFAULT_TARGETS["P2"][0]
    assert deadlines.resolve_at == submitted + DEFAULT_TARGETS["P2"][1]
    assert deadlines.first_response.clock == "calendar"


def test_business_time_targets_count_working_hours_and_holidays(policy) -> None:
    # Monday 23 Dec 16:00 Berlin; Christmas 25/26 are holidays, 24 is a working day.
    submitted = datetime(2024, 12, 23, 16, tzinfo=BERLIN)
    deadlines = policy.deadlines("P3", "support", None, submitted)
    assert deadlines.first_response.clock == "business:office"
    # 8 working hours: 1h Monday, 7h Tuesday (09-12, 13-17) -> Tuesday 17:00.
    assert deadlines.first_response_at == datetime(2024, 12, 24, 17, tzinfo=BERLIN)
    # 40h: Mon 1 + Tue 7 + Fri 27 7 + Mon 30 7 + Tue 31 7 + Wed 1 Jan 7 = 36, +4h Thu 2 Jan.
    assert deadlines.resolve_at == datetime(2025, 1, 2, 14, tzinfo=BERLIN)
    # Time left is counted on the target's clock: at Friday 27 Dec 12:00 the first response
    # (due Tuesday 17:00) is 3 working hours late (the holidays do not count); resolution is
    # 40 - 8 - 3 = 29 working hours away.
    friday = datetime(2024, 12, 27, 12, tzinfo=BERLIN)
    assert deadlines.time_left(friday, responded=False) == -3 * H
    assert deadlines.time_left(friday, responded=True) == 29 * H
    assert deadlines.is_breached("first_response", friday)
    assert not deadlines.is_breached("resolution", friday)


def test_recomputing_after_a_priority_change_keeps_the_submission_time(policy) -> None:
    submitted = datetime(2024, 3, 11, 10, tzinfo=UTC)
    before = policy.deadlines("P2", None, None, submitted)
    after = policy.deadlines(1, None, None, submitted)  # raised to P1 later
    assert after.priority == "P1"
    assert after.submitted_at == before.submitted_at
    assert after.first_response_at == submitted + 30 * timedelta(minutes=1)
    assert after.first_response_at < before.first_response_at


def test_default_policy_is_documented_calendar_time() -> None:
    submitted = datetime(2024, 3, 30, 12, tzinfo=BERLIN)  # the night before a DST change
    expected_first = {"P1": 1, "P2": 4, "P3": 8, "P4": 24}
    expected_resolve = {"P1": 8, "P2": 24, "P3": 72, "P4": 120}
    for priority in PRIORITIES:
        deadlines = DEFAULT_POLICY.deadlines(priority, None, None, submitted)
        elapsed = deadlines.first_response_at.astimezone(UTC) - submitted.astimezone(UTC)
        assert elapsed == expected_first[priority] * H
        resolve = deadlines.resolve_at.astimezone(UTC) - submitted.astimezone(UTC)
        assert resolve == expected_resolve[priority] * H
    # Real elapsed hours across the DST change: the P2 resolution is at 13:00 wall time.
    assert DEFAULT_POLICY.deadlines("P2", None, None, submitted).resolve_at == datetime(
        2024, 3, 31, 13, tzinfo=BERLIN
    )


def test_document_without_section_gives_the_default() -> None:
    assert load_sla_policy(ConfigDocument.parse("version: 1\nrules: []\n", "yaml")) is (
        DEFAULT_POLICY
    )
    assert load_sla_policy(ConfigDocument.parse("", "yaml")) is DEFAULT_POLICY


def test_section_level_business_hours_applies_to_every_target() -> None:
    text = """\
sla_policy:
  business_hours: office
  calendars:
    office: {timezone: America/New_York}
  targets:
    P1: {first_response: 1h, business_hours: false}
"""
    policy = load_sla_policy(ConfigDocument.parse(text, "yaml"))
    friday = datetime(2024, 3, 8, 16, tzinfo=ZoneInfo("America/New_York"))
    p1 = policy.deadlines("P1", None, None, friday)
    assert p1.first_response.clock == "calendar"
    assert p1.resolution.clock == "business:office"
    # P4's default 24h first response becomes 24 working hours: Fri 1h + Mon 8h + Tue 8h + 7h
    p4 = policy.deadlines("P4", None, None, friday)
    assert p4.first_response_at == datetime(2024, 3, 13, 16, tzinfo=ZoneInfo("America/New_York"))


BAD_YAML = """\
sla_policy:
  calendars:
    office: {timezone: Europe/Berlin}
    broken:
      timezone: Europe/Berlinn
      hours: ["09:00-17:00", "16:00-18:00"]
      holidays: ["2024-02-30"]
    shop:
      working_days: [mon]
  targets:
    P1: {first_response: 4, resolution: 8h}
    P5: {first_response: 1h}
    P2: {first_respons: 1h}
    P3: {first_response: 2d, business_hours: office}
    P4: {resolution: 1h, business_hours: nowhere}
  overrides:
    - targets: {P1: {first_response: 1h}}
    - queue: billing
      targets: {P1: {first_response: 0m}}
    - queue: billing
      targets: {P2: {first_response: 1h}}
    - tier: vip
      targets: {P2: {resolution: 8h, business_hours: broken}}
"""


def test_every_mistake_is_listed_with_its_line() -> None:
    with pytest.raises(InvalidConfig) as caught:
        load_sla_policy(ConfigDocument.parse(BAD_YAML, "yaml"))
    problems = {(problem.line, problem.path): problem.message for problem in caught.value.problems}
    expected = {
        (5, "sla_policy.calendars.broken.timezone"): "unknown time zone 'Europe/Berlinn'",
        (6, "sla_policy.calendars.broken.hours"): "overlap",
        (7, "sla_policy.calendars.broken.holidays[0]"): "is not a date",
        (8, "sla_policy.calendars.shop"): "timezone is required",
        (11, "sla_policy.targets.P1.first_response"): "has no unit",
        (12, "sla_policy.targets.P5"): "unknown priority",
        (13, "sla_policy.targets.P2.first_respons"): "did you mean 'first_response'",
        (13, "sla_policy.targets.P2"): "give first_response and/or resolution",
        (14, "sla_policy.targets.P3.first_response"): "ambiguous",
        (15, "sla_policy.targets.P4.business_hours"): "'nowhere' is not a calendar",
        (17, "sla_policy.overrides[0]"): "give a queue and/or a tier",
        (19, "sla_policy.overrides[1].targets.P1.first_response"): "longer than zero",
        (20, "sla_policy.overrides[2]"): "the same queue/tier as overrides[1]",
    }
    for where, fragment in expected.items():
        assert where in problems, (where, sorted(problems))
        assert fragment in problems[where], (where, problems[where])
    # A calendar that is itself wrong is reported once, not again where it is used (line 23).
    assert len(caught.value.problems) == len(expected)
    assert "SLA policy refused, 13 problems" in str(caught.value)
    assert isinstance(caught.value, InvalidArgument)


def test_toml_mistakes_have_lines_too() -> None:
    text = """\
[sla_policy.targets]
P1 = { first_response = "1h" }
P2 = { first_response = "soon" }
"""
    with pytest.raises(InvalidConfig) as caught:
        parse_sla_policy(ConfigDocument.parse(text, "toml").sub(("sla_policy",)))
    (problem,) = caught.value.problems
    assert problem.line == 3
    assert problem.path == "sla_policy.targets.P2.first_response"
    assert "not a duration" in problem.message


@pytest.mark.parametrize(
    ("value", "expected"), [("P1", "P1"), ("p2", "P2"), (3, "P3"), ("4", "P4")]
)
def test_parse_priority(value: object, expected: str) -> None:
    assert parse_priority(value) == expected


@pytest.mark.parametrize("value", ["P0", "P5", 0, "", True, "high"])
def test_parse_priority_refuses(value: object) -> None:
    with pytest.raises(InvalidArgument, match="unknown priority"):
        parse_priority(value)


def test_deadlines_refuse_naive_submission_times() -> None:
    with pytest.raises(InvalidArgument, match="timezone-aware"):
        DEFAULT_POLICY.deadlines("P1", None, None, datetime(2024, 3, 11, 10))


@pytest.mark.parametrize(
    ("text", "expected"),
    [("90s", 90), ("30m", 1800), ("4h", 14400), ("1h30m", 5400), ("2d", 172800), ("1w", 604800)],
)
def test_parse_duration(text: str, expected: int) -> None:
    assert parse_duration(text) == timedelta(seconds=expected)
    assert parse_duration(format_duration(timedelta(seconds=expected))) == timedelta(
        seconds=expected
    )


@pytest.mark.parametrize("text", ["4", 4, "4 hours", "h", "", None, True, "1h-30m"])
def test_parse_duration_refuses(text: object) -> None:
    with pytest.raises(InvalidArgument):
        parse_duration(text)


def test_a_target_longer_than_ten_years_is_refused_with_its_line() -> None:
    assert parse_duration("3650d") == timedelta(days=3650)
    text = "sla_policy:\n  targets:\n    P1: {first_response: 100000w, resolution: 8h}\n"
    with pytest.raises(InvalidConfig) as caught:
        load_sla_policy(ConfigDocument.parse(text, "yaml"))
    (problem,) = caught.value.problems
    assert problem.line == 3 and "longer than 3650d" in problem.message
