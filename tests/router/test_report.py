"""`ticket-router report` on a real history (SQLite and PostgreSQL) filled by the writer."""

from __future__ import annotations

import base64
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from queues.events import Event
from router.cli import app
from router.errors import InvalidArgument, NotFound
from router.history import HistoryWriter, TicketCreate, open_database, record_ticket
from router.report import (
    ALL,
    REPORT_FILE,
    build_report,
    daily_compliance,
    load_policy,
    parse_moment,
    percentile,
    write_html,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=3)
MIN = 60.0
HOUR = 3600.0


class NoEvents:
    def read(self, after: str, count: int, block_ms: int | None) -> list[Event]:
        return []


class Stream:
    """Builds queue events with unique, time-ordered stream ids."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def add(
        self, kind: str, ticket: str, queue: str, at: datetime, agent: str | None = None, **data
    ) -> None:
        ms = int(at.timestamp() * 1000)
        event_id = f"{ms}-{len(self.events)}"
        self.events.append(Event(event_id, kind, ticket, queue, agent, at.timestamp(), data))

    def life(
        self,
        ticket: str,
        *,
        queue: str,
        priority: int,
        submitted: datetime,
        first_response_s: float | None,
        resolve_s: float | None,
    ) -> None:
        """Submitted, offered, accepted, answered after `first_response_s`, resolved after
        `resolve_s` (None: not yet)."""
        self.add("enqueued", ticket, queue, submitted, priority=priority, channel="email")
        self.add(
            "offered", ticket, queue, submitted + timedelta(seconds=1), "a1", priority=priority
        )
        self.add("accepted", ticket, queue, submitted + timedelta(seconds=2), "a1")
        if first_response_s is not None:
            self.add(
                "first_response", ticket, queue, submitted + timedelta(seconds=first_response_s)
            )
        if resolve_s is not None:
            self.add("completed", ticket, queue, submitted + timedelta(seconds=resolve_s), "a1")

    def write(self, engine: Engine) -> None:
        ordered = sorted(self.events, key=lambda e: (e.ts, int(e.event_id.split("-")[1])))
        HistoryWriter(engine, NoEvents()).write_batch(ordered)


def fill(engine: Engine) -> None:
    """10 billing P2 tickets on day 1 (3 breach), 2 tech P1 tickets on day 2 (1 breaches).

    Billing P2 targets are 4h / 24h. Tickets b0..b6 answer after 10..70 min and resolve after
    1..7 h; b7 answers after 5 h (first-response breach), resolves after 8 h; b8 answers after
    80 min, resolves after 30 h (resolution breach); b9 is never answered (both missed by NOW).
    b8 and b9 are escalated; reassignments: b1 rejected, b2 expired, b3 transferred, b4 both.
    Tech P1 targets are 1h / 8h: u0 answers in 30 min, resolves in 2 h; u1 answers in 2 h.
    """
    stream = Stream()
    first = [10 * MIN * (i + 1) for i in range(7)] + [5 * HOUR, 80 * MIN, None]
    resolve = [HOUR * (i + 1) for i in range(8)] + [30 * HOUR, None]
    for i in range(10):
        stream.life(
            f"b{i}",
            queue="billing",
            priority=2,
            submitted=T0 + timedelta(minutes=i),
            first_response_s=first[i],
            resolve_s=resolve[i],
        )
    at = T0 + timedelta(hours=1)
    stream.add("rejected", "b1", "billing", at, "a2")
    stream.add("offer_expired", "b2", "billing", at, "a2")
    stream.add("transferred", "b3", "billing", at, from_queue="billing")
    stream.add("rejected", "b4", "billing", at, "a2")
    stream.add("offer_expired", "b4", "billing", at + timedelta(seconds=1), "a3")
    stream.add("escalated", "b8", "billing", T0 + timedelta(hours=20), level="raise")
    stream.add("escalated", "b9", "billing", T0 + timedelta(hours=3), level="warn")
    day2 = T0 + timedelta(days=1)
    stream.life(
        "u0",
        queue="tech",
        priority=1,
        submitted=day2,
        first_response_s=30 * MIN,
        resolve_s=2 * HOUR,
    )
    stream.life(
        "u1",
        queue="tech",
        priority=1,
        submitted=day2 + timedelta(minutes=5),
        first_response_s=2 * HOUR,
        resolve_s=3 * HOUR,
    )
    stream.write(engine)


def test_figures_per_queue_and_priority_match_the_hand_computed_ones(history: Engine) -> None:
    fill(history)
    report = build_report(history, now=NOW)

    billing = report.row("billing", "P2")
    assert billing.tickets == 10
    assert billing.breaches == 3
    assert billing.within_target == 7
    assert billing.compliance == pytest.approx(0.7)
    assert (billing.first_response_breaches, billing.resolution_breaches) == (2, 2)
    # First responses 10..80 min and 300 min: p50 50 min; p90 at rank 7.2: 80 + 0.2 * 220.
    assert billing.first_response_p50_s == pytest.approx(50 * MIN)
    assert billing.first_response_p90_s == pytest.approx(124 * MIN)
    # Resolutions 1..8 h and 30 h: p50 5 h; p90 8 + 0.2 * 22 = 12.4 h.
    assert billing.resolution_p50_s == pytest.approx(5 * HOUR)
    assert billing.resolution_p90_s == pytest.approx(12.4 * HOUR)
    assert billing.escalations == 2
    assert billing.reassignments == 5

    tech = report.row("tech", "P1")
    assert (tech.tickets, tech.breaches, tech.compliance) == (2, 1, 0.5)
    assert tech.first_response_p50_s == pytest.approx(75 * MIN)

    total = report.row(ALL, ALL)
    assert (total.tickets, total.breaches, total.within_target) == (12, 4, 8)
    assert [(r.queue, r.priority) for r in report.rows] == [
        ("billing", "P2"),
        ("tech", "P1"),
        (ALL, ALL),
    ]
    daily = daily_compliance(report.outcomes)
    assert daily[ALL] == {date(2026, 3, 2): pytest.approx(0.7), date(2026, 3, 3): 0.5}
    assert daily["tech"] == {date(2026, 3, 3): 0.5}


def test_open_targets_are_undecided_until_their_deadline(history: Engine) -> None:
    stream = Stream()
    # Waiting, nothing answered yet.
    stream.life(
        "w", queue="billing", priority=2, submitted=T0, first_response_s=None, resolve_s=None
    )
    stream.write(history)
    before = build_report(history, now=T0 + timedelta(hours=3)).row("billing", "P2")
    assert (before.breaches, before.within_target, before.compliance) == (0, 0, None)
    after = build_report(history, now=T0 + timedelta(hours=5)).row("billing", "P2")
    assert (after.breaches, after.first_response_breaches, after.resolution_breaches) == (1, 1, 0)
    assert after.compliance == 0.0


def test_since_and_until_select_tickets_by_submission(history: Engine) -> None:
    fill(history)
    day2 = T0 + timedelta(days=1)
    only_day1 = build_report(history, until=day2, now=NOW)
    assert [(r.queue, r.tickets) for r in only_day1.rows] == [("billing", 10), (ALL, 10)]
    only_day2 = build_report(history, since=day2, now=NOW)
    assert only_day2.row(ALL, ALL).tickets == 2
    with pytest.raises(InvalidArgument, match="before"):
        build_report(history, since=day2, until=T0)
    with pytest.raises(InvalidArgument, match="timezone"):
        build_report(history, since=datetime(2026, 3, 2))  # naive on purpose


def test_a_rules_files_tier_override_decides_breaches(history: Engine, tmp_path: Path) -> None:
    fill(history)
    # b1 answered after 20 min: within 4 h, but a VIP's 15 min target makes it a breach.
    record_ticket(history, TicketCreate(id="b1", customer_tier="vip", queue="billing"))
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "sla_policy:\n"
        "  overrides:\n"
        "    - {queue: billing, tier: vip, targets: {P2: {first_response: 15m}}}\n"
    )
    report = build_report(history, load_policy(rules), now=NOW)
    assert report.row("billing", "P2").breaches == 4
    assert build_report(history, now=NOW).row("billing", "P2").breaches == 3
    with pytest.raises(NotFound, match="does not exist"):
        load_policy(tmp_path / "missing.yaml")


def test_html_report_embeds_the_three_plots(history: Engine, tmp_path: Path) -> None:
    fill(history)
    path = write_html(build_report(history, now=NOW), tmp_path / "out")
    assert path == tmp_path / "out" / REPORT_FILE
    page = path.read_text()
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 3
    assert all(base64.b64decode(image).startswith(b"\x89PNG\r\n\x1a\n") for image in images)
    for caption in ("Time to first response", "Daily SLA compliance", "Breaches and escalations"):
        assert caption in page
    assert "<td>70.0 %</td>" in page


def test_cli_prints_the_table_and_writes_the_report(history_url: str, tmp_path: Path) -> None:
    engine = open_database(history_url)
    fill(engine)
    engine.dispose()
    out = tmp_path / "reports"
    result = CliRunner().invoke(
        app,
        ["report", "--database-url", history_url, "--out", str(out), "--until", "2026-03-03"],
    )
    assert result.exit_code == 0, result.output
    billing = next(line for line in result.output.splitlines() if "billing" in line)
    assert "70.0 %" in billing
    assert "3 (2 / 2)" in billing  # breaches (first response / resolution)
    assert "tech" not in result.output  # submitted on 2026-03-03, excluded by --until
    assert (out / REPORT_FILE).is_file()


def test_cli_reports_a_bad_flag_or_file_and_exits_2(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'h.sqlite3'}"
    runner = CliRunner()
    bad_time = runner.invoke(app, ["report", "--database-url", url, "--since", "yesterday"])
    assert bad_time.exit_code == 2
    assert "since" in bad_time.output
    missing = runner.invoke(
        app, ["report", "--database-url", url, "--rules", str(tmp_path / "nope.yaml")]
    )
    assert missing.exit_code == 2
    assert "does not exist" in missing.output


def test_percentile_and_moments() -> None:
    assert percentile([None, 3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([None], 90) is None
    assert parse_moment("2026-03-01", "since") == datetime(2026, 3, 1, tzinfo=UTC)
    assert parse_moment("2026-03-01T10:00+01:00", "since") == datetime(2026, 3, 1, 9, tzinfo=UTC)
    assert parse_moment(None, "since") is None
