"""SLA policy: first-response and resolution targets per priority, queue and customer tier.

The `sla_policy` section of the rule-set document (YAML shown; TOML has the same shape):

    sla_policy:
      business_hours: office          # optional: clock of every target that names none
      calendars:
        office:
          timezone: Europe/Berlin
          working_days: [mon, tue, wed, thu, fri]     # default Monday to Friday
          hours: ["09:00-12:30", "13:30-18:00"]       # or per day: {mon: [...], sat: [...]}
          holidays: [2025-12-25, 2025-12-26]
      targets:                        # per priority; unset ones keep DEFAULT_TARGETS
        P1: {first_response: 1h, resolution: 8h, business_hours: false}
        P2: {first_response: 4h, resolution: 24h}
        P3: {first_response: {within: 8h, business_hours: office}, resolution: 40h}
      overrides:                      # most specific wins: queue+tier, then queue, then tier
        - queue: billing-tier2
          tier: vip
          targets:
            P1: {first_response: 15m}

A target counts calendar (elapsed) time unless it, its priority entry or the section names a
business-hours calendar (`business_hours: NAME`; `false` forces calendar time). In business
time a duration is working time, so write such targets in hours: `24h` is three 8-hour days.
Each of first response and resolution is resolved on its own, from the most specific level
that sets it down to the defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any, Literal

from router.config_document import ConfigDocument
from router.config_document import Path as ConfigPath
from router.errors import InvalidArgument
from router.sla.business_hours import WEEKDAYS, BusinessCalendar, Reporter, assemble_calendar
from router.sla.config_fields import SectionReader
from router.sla.durations import format_duration

PRIORITIES = ("P1", "P2", "P3", "P4")
"""Priorities, most urgent first (the proto's PRIORITY_P1 .. PRIORITY_P4)."""

TargetKind = Literal["first_response", "resolution"]
TARGET_KINDS: tuple[TargetKind, ...] = ("first_response", "resolution")

SECTION = "sla_policy"
"""Key of the SLA policy section in the rule-set document."""

DEFAULT_TARGETS: Mapping[str, tuple[timedelta, timedelta]] = MappingProxyType(
    {
        "P1": (timedelta(hours=1), timedelta(hours=8)),
        "P2": (timedelta(hours=4), timedelta(hours=24)),
        "P3": (timedelta(hours=8), timedelta(hours=72)),
        "P4": (timedelta(hours=24), timedelta(hours=120)),
    }
)
"""(first response, resolution) per priority when nothing is configured: calendar time, so
they hold without a business-hours calendar; P1 1h/8h, P2 4h/24h, P3 8h/3d, P4 24h/5d."""


def parse_priority(value: object) -> str:
    """Normalise a priority: `"P2"`, `"p2"`, `2` or `"2"` all give `"P2"`.

    Raises:
        InvalidArgument: not one of P1..P4.
    """
    text = str(value).strip().upper()
    if isinstance(value, bool) or not text:
        text = "?"
    name = text if text.startswith("P") else f"P{text}"
    if name not in PRIORITIES:
        raise InvalidArgument(
            f"unknown priority {value!r}; use one of {', '.join(PRIORITIES)}", field="priority"
        )
    return name


@dataclass(frozen=True, slots=True)
class Target:
    """One SLA target: a duration counted in calendar time or in a calendar's business hours."""

    within: timedelta
    calendar: BusinessCalendar | None = None
    """None: calendar (elapsed, 24x7) time."""

    @property
    def clock(self) -> str:
        """`calendar` or `business:<calendar name>`, for explanations and events."""
        return "calendar" if self.calendar is None else f"business:{self.calendar.name}"

    def due(self, start: datetime) -> datetime:
        """When the target is missed for something that started at `start` (aware)."""
        if self.calendar is None:
            return _elapsed(start, self.within)
        return self.calendar.add_working_time(start, self.within)

    def time_left(self, now: datetime, due: datetime) -> timedelta:
        """Time from `now` to `due` on this target's clock; negative once it has passed."""
        if self.calendar is None:
            return due.astimezone(UTC) - now.astimezone(UTC)
        return self.calendar.working_time_between(now, due)

    def __str__(self) -> str:
        return f"{format_duration(self.within)} ({self.clock})"


def _elapsed(start: datetime, duration: timedelta) -> datetime:
    if start.tzinfo is None or start.utcoffset() is None:
        raise InvalidArgument("submitted_at must be timezone-aware", field="submitted_at")
    # In UTC: aware + timedelta in a DST zone would move the wall clock instead.
    return (start.astimezone(UTC) + duration).astimezone(start.tzinfo)


@dataclass(frozen=True, slots=True)
class TargetPair:
    """First-response and resolution targets of one priority at one level; None = not set."""

    first_response: Target | None = None
    resolution: Target | None = None

    def get(self, kind: TargetKind) -> Target | None:
        """The target of `kind`, if set at this level."""
        return self.first_response if kind == "first_response" else self.resolution


@dataclass(frozen=True, slots=True)
class SlaOverride:
    """Targets for one queue and/or customer tier, overriding the defaults where set."""

    queue: str | None
    tier: str | None
    targets: Mapping[str, TargetPair]
    line: int | None = None

    @property
    def specificity(self) -> int:
        """2 for queue+tier, 1 for queue only, 0 for tier only: queue beats tier."""
        return 2 if self.queue and self.tier else 1 if self.queue else 0

    def applies(self, queue: str | None, tier: str | None) -> bool:
        """Whether this override covers a ticket in `queue` with customer `tier`."""
        return (self.queue is None or self.queue == queue) and (
            self.tier is None or self.tier == tier
        )

    def __str__(self) -> str:
        parts = [f"queue={self.queue}"] if self.queue else []
        parts += [f"tier={self.tier}"] if self.tier else []
        return ",".join(parts)


@dataclass(frozen=True, slots=True)
class Deadlines:
    """A ticket's SLA deadlines and the targets they come from.

    Recompute them with `SlaPolicy.deadlines` and the *original* submission time when the
    priority, queue or tier changes.
    """

    priority: str
    submitted_at: datetime
    first_response_at: datetime
    resolve_at: datetime
    first_response: Target
    resolution: Target
    first_response_source: str
    """Where the first-response target came from: `default` or e.g. `queue=billing,tier=vip`."""
    resolution_source: str

    def due(self, kind: TargetKind) -> datetime:
        """The deadline of `kind`."""
        return self.first_response_at if kind == "first_response" else self.resolve_at

    def target(self, kind: TargetKind) -> Target:
        """The target of `kind`."""
        return self.first_response if kind == "first_response" else self.resolution

    def time_left(self, now: datetime, *, responded: bool) -> timedelta:
        """Time to the nearest deadline still open, on that target's clock.

        Args:
            now: the current instant (aware).
            responded: whether the first response was given (then only resolution is open).
        """
        kinds: tuple[TargetKind, ...] = ("resolution",) if responded else TARGET_KINDS
        return min(self.target(kind).time_left(now, self.due(kind)) for kind in kinds)

    def is_breached(self, kind: TargetKind, at: datetime) -> bool:
        """Whether meeting the `kind` target at instant `at` (or not by then) breaches it."""
        return at > self.due(kind)


@dataclass(frozen=True)
class SlaPolicy:
    """Targets per priority, overridable per queue and customer tier. Build with
    `parse_sla_policy` or use `DEFAULT_POLICY`."""

    defaults: Mapping[str, TargetPair]
    """Complete targets for every priority."""
    overrides: tuple[SlaOverride, ...] = ()
    calendars: Mapping[str, BusinessCalendar] = field(default_factory=dict)

    def target(
        self, kind: TargetKind, priority: object, queue: str | None, tier: str | None
    ) -> tuple[Target, str]:
        """The target of `kind` for a ticket and where it came from (most specific wins).

        Raises:
            InvalidArgument: unknown priority.
        """
        name = parse_priority(priority)
        best: tuple[int, Target, str] | None = None
        for override in self.overrides:
            pair = override.targets.get(name)
            found = pair.get(kind) if pair else None
            better = best is None or override.specificity > best[0]
            if found and better and override.applies(queue, tier):
                best = (override.specificity, found, str(override))
        if best is not None:
            return best[1], best[2]
        default = self.defaults[name].get(kind)
        assert default is not None  # defaults are complete by construction
        return default, "default"

    def deadlines(
        self, priority: object, queue: str | None, tier: str | None, submitted_at: datetime
    ) -> Deadlines:
        """Deadlines of a ticket submitted at `submitted_at`.

        Args:
            priority: P1..P4 (or 1..4).
            queue: the ticket's queue, or None.
            tier: the customer's tier, or None.
            submitted_at: the original submission instant (aware); keep using it when the
                priority changes.

        Raises:
            InvalidArgument: unknown priority or a naive `submitted_at`.
        """
        if submitted_at.tzinfo is None or submitted_at.utcoffset() is None:
            raise InvalidArgument("submitted_at must be timezone-aware", field="submitted_at")
        first, first_source = self.target("first_response", priority, queue, tier)
        resolution, resolution_source = self.target("resolution", priority, queue, tier)
        return Deadlines(
            priority=parse_priority(priority),
            submitted_at=submitted_at,
            first_response_at=first.due(submitted_at),
            resolve_at=resolution.due(submitted_at),
            first_response=first,
            resolution=resolution,
            first_response_source=first_source,
            resolution_source=resolution_source,
        )


def _default_targets(calendar: BusinessCalendar | None = None) -> dict[str, TargetPair]:
    return {
        priority: TargetPair(Target(first, calendar), Target(resolution, calendar))
        for priority, (first, resolution) in DEFAULT_TARGETS.items()
    }


DEFAULT_POLICY = SlaPolicy(defaults=MappingProxyType(_default_targets()))
"""The policy when the rule set has no `sla_policy` section: `DEFAULT_TARGETS`."""


# --- parsing --------------------------------------------------------------------------------

_SECTION_KEYS = ("business_hours", "calendars", "targets", "overrides")
_CALENDAR_KEYS = ("timezone", "working_days", "hours", "holidays")
_ENTRY_KEYS = ("first_response", "resolution", "business_hours")
_TARGET_KEYS = ("within", "business_hours")
_OVERRIDE_KEYS = ("queue", "tier", "targets")
_UNSET: Any = object()


def load_sla_policy(document: ConfigDocument) -> SlaPolicy:
    """The SLA policy of a rule-set document: its `sla_policy` section, else the default.

    Raises:
        InvalidConfig: the section has mistakes (all listed, with lines).
    """
    data = document.data
    if not isinstance(data, dict) or data.get(SECTION) is None:
        return DEFAULT_POLICY
    return parse_sla_policy(document.sub((SECTION,)))


def parse_sla_policy(section: ConfigDocument) -> SlaPolicy:
    """Parse an `sla_policy` section (as `ConfigDocument.sub(("sla_policy",))` gives it).

    Returns:
        A frozen policy; targets not configured keep `DEFAULT_TARGETS`.

    Raises:
        InvalidConfig: listing every mistake with its line, path and how to fix it.
    """
    reader = SectionReader(section, "SLA policy")
    top = reader.mapping((), _SECTION_KEYS) or {}
    calendars = _read_calendars(reader, top.get("calendars"))
    section_clock = _read_clock(reader, ("business_hours",), top, calendars, inherited=None)
    defaults = _default_targets(section_clock)
    configured = _read_targets(reader, ("targets",), top, calendars, section_clock)
    for priority, pair in configured.items():
        base = defaults[priority]
        defaults[priority] = TargetPair(
            pair.first_response or base.first_response, pair.resolution or base.resolution
        )
    overrides = _read_overrides(reader, top, calendars, section_clock)
    reader.raise_if_any()
    return SlaPolicy(
        defaults=MappingProxyType(defaults),
        overrides=tuple(overrides),
        calendars=MappingProxyType(
            {name: calendar for name, calendar in calendars.items() if calendar is not None}
        ),
    )


def _read_calendars(reader: SectionReader, value: object) -> dict[str, BusinessCalendar | None]:
    """Calendars by name; None for one that is wrong (its problems are reported once)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        reader.problem(("calendars",), "expected a mapping from calendar name to its settings")
        return {}
    calendars: dict[str, BusinessCalendar | None] = {}
    for name in value:
        path: ConfigPath = ("calendars", name)
        calendars[str(name)] = None
        settings = reader.mapping(path, _CALENDAR_KEYS)
        if settings is None:
            continue
        if "timezone" not in settings:
            reader.problem(path, "timezone is required, e.g. timezone: Europe/Berlin")
            continue
        calendar = assemble_calendar(
            timezone=settings["timezone"],
            working_days=_as_list(settings.get("working_days", list(WEEKDAYS[:5]))),
            hours=settings.get("hours", ["09:00-17:00"]),
            holidays=_as_list(settings.get("holidays", [])),
            name=str(name),
            report=_prefixed(reader, path),
        )
        calendars[str(name)] = calendar
    return calendars


def _prefixed(reader: SectionReader, prefix: ConfigPath) -> Reporter:
    def report(where: tuple[str | int, ...], message: str) -> None:
        reader.problem((*prefix, *where), message)

    return report


def _as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _read_clock(
    reader: SectionReader,
    path: ConfigPath,
    holder: dict[str, Any],
    calendars: Mapping[str, BusinessCalendar | None],
    inherited: BusinessCalendar | None,
) -> BusinessCalendar | None:
    """The clock named by `holder["business_hours"]`, else `inherited`."""
    value = holder.get("business_hours", _UNSET)
    if value is _UNSET or value is None:
        return inherited
    if value is False:
        return None
    if isinstance(value, str) and value in calendars:
        return calendars[value] or inherited  # None: wrong calendar, reported where defined
    known = ", ".join(sorted(calendars)) or "none defined"
    reader.problem(
        path,
        f"business_hours {value!r} is not a calendar under sla_policy.calendars ({known}); "
        "name one, or write false for calendar time",
    )
    return inherited


def _read_targets(
    reader: SectionReader,
    path: ConfigPath,
    holder: dict[str, Any],
    calendars: Mapping[str, BusinessCalendar | None],
    clock: BusinessCalendar | None,
) -> dict[str, TargetPair]:
    value = holder.get(str(path[-1]))
    if value is None:
        return {}
    if not isinstance(value, dict):
        reader.problem(path, f"expected a mapping from priority ({', '.join(PRIORITIES)})")
        return {}
    pairs: dict[str, TargetPair] = {}
    for key in value:
        entry_path: ConfigPath = (*path, key)
        try:
            priority = parse_priority(key)
        except InvalidArgument as error:
            reader.problem(entry_path, error.message)
            continue
        if priority in pairs:
            reader.problem(entry_path, f"{priority} is given twice; keep one")
            continue
        entry = reader.mapping(entry_path, _ENTRY_KEYS)
        if entry is None:
            continue
        entry_clock = _read_clock(reader, (*entry_path, "business_hours"), entry, calendars, clock)
        found = {
            kind: _read_target(reader, (*entry_path, kind), entry[kind], calendars, entry_clock)
            for kind in TARGET_KINDS
            if kind in entry
        }
        if not entry.keys() & set(TARGET_KINDS):
            reader.problem(entry_path, "give first_response and/or resolution, e.g. 4h")
        pairs[priority] = TargetPair(found.get("first_response"), found.get("resolution"))
    return pairs


def _read_target(
    reader: SectionReader,
    path: ConfigPath,
    value: object,
    calendars: Mapping[str, BusinessCalendar | None],
    clock: BusinessCalendar | None,
) -> Target | None:
    duration_path = path
    if isinstance(value, dict):
        reader.mapping(path, _TARGET_KEYS)
        clock = _read_clock(reader, (*path, "business_hours"), value, calendars, clock)
        if "within" not in value:
            reader.problem(path, "within is required, e.g. {within: 4h, business_hours: office}")
            return None
        duration_path = (*path, "within")
    within = reader.duration(duration_path)
    if within is None:
        return None
    if clock is not None and any(unit in str(reader.get(duration_path, "")) for unit in "dw"):
        # "1d" of working time would be 24 working hours, i.e. three 8-hour days: refuse it.
        reader.problem(
            duration_path,
            "days or weeks of business time are ambiguous; write hours of working time "
            "(e.g. 24h for three 8-hour days), or set business_hours: false",
        )
        return None
    return Target(within, clock)


def _read_overrides(
    reader: SectionReader,
    top: dict[str, Any],
    calendars: Mapping[str, BusinessCalendar | None],
    clock: BusinessCalendar | None,
) -> list[SlaOverride]:
    value = top.get("overrides")
    if value is None:
        return []
    if not isinstance(value, list):
        reader.problem(("overrides",), "expected a list of {queue, tier, targets} entries")
        return []
    overrides: list[SlaOverride] = []
    seen: dict[tuple[str | None, str | None], int] = {}
    for index in range(len(value)):
        path: ConfigPath = ("overrides", index)
        entry = reader.mapping(path, _OVERRIDE_KEYS)
        if entry is None:
            continue
        queue = reader.text((*path, "queue")) if "queue" in entry else None
        tier = reader.text((*path, "tier")) if "tier" in entry else None
        if "queue" not in entry and "tier" not in entry:
            reader.problem(path, "give a queue and/or a tier (defaults go under targets)")
            continue
        if "targets" not in entry:
            reader.problem(path, "targets is required")
            continue
        key = (queue, tier)
        if key in seen:
            reader.problem(path, f"the same queue/tier as overrides[{seen[key]}]; merge them")
            continue
        seen[key] = index
        targets = _read_targets(reader, (*path, "targets"), entry, calendars, clock)
        overrides.append(
            SlaOverride(queue, tier, MappingProxyType(targets), reader.doc.line_of(path))
        )
    return overrides
