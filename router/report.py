"""`ticket-router report`: SLA figures per queue and priority from history, as a table and HTML.

From the history database (`ticket_durations`) and an SLA policy, per queue and priority:
first-response and resolution p50/p90 (numpy's linear interpolation), SLA compliance, breaches,
escalations (`escalated` events) and reassignments (`rejected` + `offer_expired` +
`transferred` events). A target is *met* when its milestone came by the deadline, *missed* when
it came later or has not come by the time of the report; until then it is *open*. A ticket
*breaches* when it missed either target; it is *within target* when it met both. Compliance is
within / (within + breached): tickets still open on a target are left out until decided.
Cancelled tickets count only for the targets they reached. Deadlines use the ticket's queue and
priority as history has them now (a priority change recomputes them from the submission time,
as the service does) and its customer tier when the ticket was recorded.

The HTML report embeds its plots (PNG, base64): time to first response per queue, daily
compliance, breaches and escalations per queue.
"""

from __future__ import annotations

import base64
import html
import io
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from router.config_document import ConfigDocument
from router.errors import InvalidArgument, NotFound
from router.history import Ticket, TicketDurations, sql_errors, ticket_durations
from router.history.database import chunks
from router.sla.durations import format_duration
from router.sla.policy import DEFAULT_POLICY, PRIORITIES, SlaPolicy, load_sla_policy

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from rich.table import Table

ALL = "all"
"""Queue and priority of the summary row over every ticket."""

REPORT_FILE = "sla-report.html"
"""Name of the HTML report in the output directory."""

MAX_PLOTTED_QUEUES = 12
"""Queues drawn one by one in the plots; the busiest are kept so a plot stays readable."""

_IN_LIST_SIZE = 500  # keeps IN (...) lists under SQLite's bound-parameter limit


def load_rules_document(path: Path) -> ConfigDocument:
    """Read a rules file (YAML, or TOML by its `.toml` suffix) for its policy sections.

    Raises:
        NotFound: the file does not exist.
        InvalidConfig: the text is not valid YAML/TOML (with its line).
    """
    if not path.is_file():
        raise NotFound(f"rules file {path} does not exist", field="rules")
    fmt = "toml" if path.suffix.lower() == ".toml" else "yaml"
    return ConfigDocument.parse(path.read_text(encoding="utf-8"), fmt)


def load_policy(rules_file: Path | None) -> SlaPolicy:
    """The SLA policy of a rules file's `sla_policy` section; `DEFAULT_POLICY` without a file.

    Raises:
        NotFound: the file does not exist.
        InvalidConfig: the file or its section has mistakes (all listed, with lines).
    """
    return (
        DEFAULT_POLICY if rules_file is None else load_sla_policy(load_rules_document(rules_file))
    )


# --- per ticket -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TicketOutcome:
    """One ticket's waits and SLA outcome. `None` breached flags mean "not decided yet"."""

    ticket_id: str
    queue: str
    priority: str
    submitted_at: datetime
    first_response_s: float | None
    resolution_s: float | None
    first_response_breached: bool | None
    resolution_breached: bool | None
    escalations: int
    reassignments: int

    @property
    def breached(self) -> bool:
        """Whether either target was missed."""
        return bool(self.first_response_breached or self.resolution_breached)

    @property
    def within_target(self) -> bool:
        """Whether both targets were met."""
        return self.first_response_breached is False and self.resolution_breached is False


def ticket_outcomes(
    durations: Iterable[TicketDurations],
    policy: SlaPolicy,
    *,
    now: datetime,
    tiers: dict[str, str] | None = None,
) -> list[TicketOutcome]:
    """Judge each ticket against its SLA deadlines.

    Args:
        durations: from `ticket_durations`.
        policy: the SLA policy that sets the deadlines.
        now: the report's instant: a target without its milestone is missed once its deadline
            is before `now`.
        tiers: customer tier per ticket id, where known.

    Returns:
        One outcome per ticket; a ticket without a priority P1..P4 has no deadlines (its
        targets stay undecided).
    """
    tiers = tiers or {}
    outcomes = []
    for row in durations:
        if row.submitted_at is None:
            continue
        first_breached = resolution_breached = None
        if row.priority in PRIORITIES:
            deadlines = policy.deadlines(
                row.priority, row.queue or None, tiers.get(row.ticket_id) or None, row.submitted_at
            )
            closed = row.state == "cancelled"
            first_breached = _missed(
                deadlines.due("first_response"), row, row.time_to_first_response_s, now, closed
            )
            resolution_breached = _missed(
                deadlines.due("resolution"), row, row.time_to_resolve_s, now, closed
            )
        outcomes.append(
            TicketOutcome(
                ticket_id=row.ticket_id,
                queue=row.queue,
                priority=row.priority,
                submitted_at=row.submitted_at,
                first_response_s=row.time_to_first_response_s,
                resolution_s=row.time_to_resolve_s,
                first_response_breached=first_breached,
                resolution_breached=resolution_breached,
                escalations=row.escalations,
                reassignments=row.rejections + row.expirations + row.transfers,
            )
        )
    return outcomes


def _missed(
    due: datetime, row: TicketDurations, waited_s: float | None, now: datetime, closed: bool
) -> bool | None:
    assert row.submitted_at is not None
    if waited_s is not None:
        return row.submitted_at + timedelta(seconds=waited_s) > due
    if closed:
        return None  # cancelled without reaching it: the target no longer applies
    return True if now > due else None


# --- per queue and priority -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QueueFigures:
    """The figures of one queue and priority (or `ALL`); waits in seconds."""

    queue: str
    priority: str
    tickets: int
    first_response_p50_s: float | None
    first_response_p90_s: float | None
    resolution_p50_s: float | None
    resolution_p90_s: float | None
    within_target: int
    breaches: int
    """Tickets that missed at least one target."""
    first_response_breaches: int
    resolution_breaches: int
    escalations: int
    reassignments: int

    @property
    def compliance(self) -> float | None:
        """Share of decided tickets within target (0..1); None when none is decided."""
        decided = self.within_target + self.breaches
        return self.within_target / decided if decided else None


def percentile(values: Sequence[float | None], q: float) -> float | None:
    """The q-th percentile (0..100, linear interpolation) of the values that are not None."""
    present = [v for v in values if v is not None]
    return float(np.percentile(present, q)) if present else None


def summarise(outcomes: Sequence[TicketOutcome], queue: str, priority: str) -> QueueFigures:
    """The figures of a group of tickets, labelled `queue` and `priority`."""
    first = [o.first_response_s for o in outcomes]
    resolution = [o.resolution_s for o in outcomes]
    return QueueFigures(
        queue=queue,
        priority=priority,
        tickets=len(outcomes),
        first_response_p50_s=percentile(first, 50),
        first_response_p90_s=percentile(first, 90),
        resolution_p50_s=percentile(resolution, 50),
        resolution_p90_s=percentile(resolution, 90),
        within_target=sum(o.within_target for o in outcomes),
        breaches=sum(o.breached for o in outcomes),
        first_response_breaches=sum(bool(o.first_response_breached) for o in outcomes),
        resolution_breaches=sum(bool(o.resolution_breached) for o in outcomes),
        escalations=sum(o.escalations for o in outcomes),
        reassignments=sum(o.reassignments for o in outcomes),
    )


def by_queue_and_priority(outcomes: Sequence[TicketOutcome]) -> list[QueueFigures]:
    """One row per (queue, priority), sorted, then the `ALL` row."""
    groups: dict[tuple[str, str], list[TicketOutcome]] = defaultdict(list)
    for outcome in outcomes:
        groups[(outcome.queue, outcome.priority)].append(outcome)
    rows = [summarise(groups[key], *key) for key in sorted(groups)]
    return [*rows, summarise(outcomes, ALL, ALL)]


def daily_compliance(outcomes: Sequence[TicketOutcome]) -> dict[str, dict[date, float]]:
    """Compliance per UTC day of submission, per queue and for `ALL` (days with a decision)."""
    counts: dict[str, dict[date, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for o in outcomes:
        if not (o.within_target or o.breached):
            continue
        day = o.submitted_at.astimezone(UTC).date()
        for queue in (o.queue, ALL):
            counts[queue][day][0] += o.within_target
            counts[queue][day][1] += 1
    return {
        queue: {day: within / decided for day, (within, decided) in sorted(days.items())}
        for queue, days in counts.items()
    }


# --- the report -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SlaReport:
    """Everything the table and the HTML report show."""

    generated_at: datetime
    since: datetime | None
    until: datetime | None
    outcomes: list[TicketOutcome]
    rows: list[QueueFigures] = field(default_factory=list)

    def row(self, queue: str, priority: str) -> QueueFigures:
        """The row of a queue and priority (`ALL` for the summary).

        Raises:
            NotFound: no ticket had this queue and priority.
        """
        for row in self.rows:
            if (row.queue, row.priority) == (queue, priority):
                return row
        raise NotFound(f"no tickets in queue {queue!r} with priority {priority!r}")


def build_report(
    engine: Engine,
    policy: SlaPolicy = DEFAULT_POLICY,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    now: datetime | None = None,
) -> SlaReport:
    """Compute the report over tickets submitted in [since, until).

    Args:
        engine: the history database (`router.history.open_database`).
        policy: the SLA policy whose deadlines decide breaches.
        since: first submission instant included (aware), or None.
        until: first submission instant excluded (aware), or None.
        now: the report's instant (default: now); open targets past their deadline are missed.

    Raises:
        InvalidArgument: a bound is naive or `since` is not before `until`.
        Unavailable: the database is unreachable.
    """
    for name, bound in (("since", since), ("until", until)):
        if bound is not None and bound.utcoffset() is None:
            raise InvalidArgument(f"{name} must be timezone-aware", field=name)
    if since is not None and until is not None and since >= until:
        raise InvalidArgument(f"since ({since}) must be before until ({until})", field="since")
    now = now or datetime.now(UTC)
    durations = ticket_durations(engine, since=since, until=until)
    tiers = _customer_tiers(engine, [d.ticket_id for d in durations])
    outcomes = ticket_outcomes(durations, policy, now=now, tiers=tiers)
    return SlaReport(now, since, until, outcomes, by_queue_and_priority(outcomes))


def _customer_tiers(engine: Engine, ticket_ids: list[str]) -> dict[str, str]:
    """Customer tier of each recorded ticket that has one (tier overrides of the policy)."""
    tiers: dict[str, str] = {}
    with sql_errors(), Session(engine) as session:
        for batch in chunks(ticket_ids, _IN_LIST_SIZE):
            query = select(Ticket.id, Ticket.customer_tier).where(
                col(Ticket.id).in_(batch), col(Ticket.customer_tier) != ""
            )
            tiers.update(dict(session.exec(query).all()))
    return tiers


# --- output ---------------------------------------------------------------------------------


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 10:
        return f"{seconds:.1f}s"  # sub-second waits (automated replies, demos) stay visible
    return format_duration(timedelta(seconds=seconds))


def _share(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


COLUMNS = (
    "queue",
    "priority",
    "tickets",
    "1st response p50",
    "1st response p90",
    "resolve p50",
    "resolve p90",
    "SLA met",
    "breaches (1st response / resolve)",
    "escalations",
    "reassignments",
)


def _cells(row: QueueFigures) -> list[str]:
    return [
        row.queue or "-",
        row.priority or "-",
        str(row.tickets),
        _duration(row.first_response_p50_s),
        _duration(row.first_response_p90_s),
        _duration(row.resolution_p50_s),
        _duration(row.resolution_p90_s),
        _share(row.compliance),
        f"{row.breaches} ({row.first_response_breaches} / {row.resolution_breaches})",
        str(row.escalations),
        str(row.reassignments),
    ]


def _period(report: SlaReport) -> str:
    since = report.since.isoformat() if report.since else "the beginning"
    until = report.until.isoformat() if report.until else report.generated_at.isoformat()
    return f"tickets submitted from {since} to {until}"


def report_table(report: SlaReport) -> Table:
    """The figures as a rich table (the `ALL` row last, in bold)."""
    from rich.table import Table

    table = Table(title=f"SLA per queue and priority: {_period(report)}")
    for name in COLUMNS:
        table.add_column(name, justify="left" if name in ("queue", "priority") else "right")
    for row in report.rows:
        table.add_row(*_cells(row), style="bold" if row.queue == ALL else None)
    return table


def write_html(report: SlaReport, out_dir: Path) -> Path:
    """Write the HTML report, with its plots embedded, into `out_dir` (created if needed).

    Returns:
        The path of the report file.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    head = "".join(f"<th>{html.escape(name)}</th>" for name in COLUMNS)
    body = "".join(
        "<tr{}>{}</tr>".format(
            ' class="all"' if row.queue == ALL else "",
            "".join(f"<td>{html.escape(cell)}</td>" for cell in _cells(row)),
        )
        for row in report.rows
    )
    plots = "".join(
        f'<figure><img alt="{html.escape(title)}" src="data:image/png;base64,{png}">'
        f"<figcaption>{html.escape(title)}</figcaption></figure>"
        for title, png in _plots(report)
    )
    page = _PAGE.format(period=html.escape(_period(report)), head=head, body=body, plots=plots)
    path = out_dir / REPORT_FILE
    path.write_text(page, encoding="utf-8")
    return path


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ticket-router SLA report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; }}
th, td {{ border: 1px solid #ccc; padding: 4px 8px; text-align: right; }}
th:nth-child(-n+2), td:nth-child(-n+2) {{ text-align: left; }}
tr.all {{ font-weight: bold; background: #f3f3f3; }}
figure {{ display: inline-block; margin: 1em; }}
</style></head><body>
<h1>SLA report</h1>
<p>{period}. A ticket breaches when it missed its first-response or resolution target;
compliance is the share of decided tickets that met both.</p>
<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>
{plots}
</body></html>
"""


def _plots(report: SlaReport) -> list[tuple[str, str]]:
    """(title, base64 PNG) of each plot."""
    queues = _busiest_queues(report.outcomes)
    return [
        ("Time to first response per queue", png_base64(_first_response_plot(report, queues))),
        ("Daily SLA compliance", png_base64(_compliance_plot(report, queues))),
        ("Breaches and escalations per queue", png_base64(_breaches_plot(report, queues))),
    ]


def _busiest_queues(outcomes: Sequence[TicketOutcome]) -> list[str]:
    counts: dict[str, int] = defaultdict(int)
    for o in outcomes:
        counts[o.queue] += 1
    return sorted(counts, key=lambda q: (-counts[q], q))[:MAX_PLOTTED_QUEUES]


def new_figure() -> Figure:
    """An 8 x 4.5 inch figure, without pyplot: no global state, no GUI backend, safe in any
    thread."""
    from matplotlib.figure import Figure

    return Figure(figsize=(8, 4.5), layout="constrained")


def png_base64(figure: Figure) -> str:
    """The figure as a base64 PNG, to embed in a page."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _first_response_plot(report: SlaReport, queues: list[str]) -> Figure:
    figure = new_figure()
    axes = figure.add_subplot()
    waits = [o.first_response_s for o in report.outcomes if o.first_response_s is not None]
    unit, scale = _time_unit(float(np.median(waits)) if waits else 0.0)
    data = [
        [
            o.first_response_s / scale
            for o in report.outcomes
            if o.queue == q and o.first_response_s is not None
        ]
        for q in queues
    ]
    shown = [(q or "-", d) for q, d in zip(queues, data, strict=True) if d]
    if shown:
        axes.boxplot([d for _, d in shown], tick_labels=[q for q, _ in shown], showfliers=True)
    else:
        axes.text(0.5, 0.5, "no first responses yet", ha="center", transform=axes.transAxes)
    axes.set_ylabel(f"{unit} from submission")
    axes.set_title("Time to first response")
    return figure


def _time_unit(typical_s: float) -> tuple[str, float]:
    """The unit (name, seconds) that writes `typical_s` as a readable number."""
    for unit, seconds in (("days", 86_400.0), ("hours", 3_600.0), ("minutes", 60.0)):
        if typical_s >= 2 * seconds:
            return unit, seconds
    return "seconds", 1.0


def _compliance_plot(report: SlaReport, queues: list[str]) -> Figure:
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    figure = new_figure()
    axes = figure.add_subplot()
    daily = daily_compliance(report.outcomes)
    for queue in [ALL, *queues]:
        shares = daily.get(queue, {})
        if shares:
            # The overall line goes underneath, so queues with the same value stay visible.
            style = (
                {"linewidth": 4, "color": "0.75", "zorder": 1} if queue == ALL else {"zorder": 2}
            )
            axes.plot(
                np.array(list(shares), dtype="datetime64[D]"),
                [100 * v for v in shares.values()],
                marker="o",
                label=queue or "-",
                **style,
            )
    if daily:
        axes.legend(loc="lower left", fontsize="small")
        locator = AutoDateLocator()
        axes.xaxis.set_major_locator(locator)
        axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))
        days = np.array(sorted(daily[ALL]), dtype="datetime64[D]")
        axes.set_xlim(days[0] - np.timedelta64(1, "D"), days[-1] + np.timedelta64(1, "D"))
    axes.set_ylim(0, 105)
    axes.set_ylabel("% of decided tickets within target")
    axes.set_title("SLA compliance per day of submission")
    return figure


def _breaches_plot(report: SlaReport, queues: list[str]) -> Figure:
    from matplotlib.ticker import MaxNLocator

    figure = new_figure()
    axes = figure.add_subplot()
    per_queue = {q: summarise([o for o in report.outcomes if o.queue == q], q, ALL) for q in queues}
    x = np.arange(len(queues))
    axes.bar(x - 0.2, [per_queue[q].breaches for q in queues], 0.4, label="breaches")
    axes.bar(x + 0.2, [per_queue[q].escalations for q in queues], 0.4, label="escalations")
    axes.set_xticks(x, [q or "-" for q in queues])
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylabel("tickets / escalations")
    axes.legend()
    axes.set_title("Breaches and escalations per queue")
    return figure


# --- the command ----------------------------------------------------------------------------


def parse_moment(text: str | None, name: str) -> datetime | None:
    """A command-line instant in ISO 8601 (`2026-03-01`, `2026-03-01T09:00+01:00`); without a
    zone it is UTC.

    Raises:
        InvalidArgument: not an ISO 8601 date or time.
    """
    if text is None or not text.strip():
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as error:
        raise InvalidArgument(
            f"{text!r} is not a date or time; write e.g. 2026-03-01 or 2026-03-01T09:00",
            field=name,
        ) from error
    return moment if moment.utcoffset() is not None else moment.replace(tzinfo=UTC)


def report_command(
    *,
    config: Path | None = None,
    database_url: str | None = None,
    since: str | None = None,
    until: str | None = None,
    rules: Path | None = None,
    out: Path = Path("reports"),
    incident_log: bool = False,
    incident_log_path: Path | None = None,
    risk_thresholds: Sequence[float] = (),
    rescore_every: str = "1h",
) -> None:
    """What `ticket-router report` does: print the SLA table from history and write the HTML
    report; with `incident_log`, replay the incident log instead and print the comparison.

    Exits with status 2 and the error's message on a domain error (bad flag, missing file,
    unreachable database, invalid rules).
    """
    import typer
    from rich.console import Console

    from router.errors import RouterError

    console = Console()
    if not console.is_terminal:
        console.width = 160  # pipes and files get the whole table, not 80 wrapped columns
    try:
        if incident_log:
            console.print(_replay(rules, incident_log_path, risk_thresholds, rescore_every))
            return
        from router.history import open_database
        from router.settings import load_settings

        first, end = parse_moment(since, "since"), parse_moment(until, "until")
        policy = load_policy(rules)
        settings = load_settings(config, database_url=database_url)
        engine = open_database(settings.history_url)
        try:
            report = build_report(engine, policy, since=first, until=end)
        finally:
            engine.dispose()
        console.print(report_table(report))
        console.print(f"HTML report: {write_html(report, out)}")
    except RouterError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from error


def _replay(
    rules: Path | None,
    path: Path | None,
    thresholds: Sequence[float],
    rescore_every: str,
) -> Table:
    from router.sla.durations import parse_duration
    from router.sla.escalation import DEFAULT_ESCALATION_POLICY, load_escalation_policy
    from router.sla.replay import (
        DEFAULT_INCIDENT_LOG,
        escalation_thresholds,
        replay_incident_log,
        replay_table,
    )

    document = None if rules is None else load_rules_document(rules)
    policy = DEFAULT_POLICY if document is None else load_sla_policy(document)
    escalation = DEFAULT_ESCALATION_POLICY if document is None else load_escalation_policy(document)
    every = parse_duration(rescore_every) if rescore_every not in ("", "0", "none") else None
    result = replay_incident_log(
        path or DEFAULT_INCIDENT_LOG,
        policy,
        thresholds=tuple(thresholds) or escalation_thresholds(escalation),
        rescore_every=every,
    )
    return replay_table(result)
