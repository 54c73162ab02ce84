"""Business-hours calendars: working time between instants and deadlines that count only it.

Working time is *real elapsed time* during which the calendar's local wall clock shows a
working interval on a working day that is not a holiday. So across daylight-saving changes
an interval keeps its wall-clock meaning: on the spring-forward Sunday in Europe/Berlin a
00:00-24:00 interval holds 23 hours, on the fall-back Sunday 25; 09:00-17:00 always holds
8 hours. Wall-clock times that do not exist (the spring gap) are never worked; repeated
ones (the fall-back hour) are worked twice.

Assumes, as every zone in the tz database does today, at most one UTC-offset change per
working interval and per calendar day.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from router.errors import InvalidArgument

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Day names as written in configuration, in `date.weekday()` order."""

DAY_SECONDS = 86_400
WEEK = timedelta(days=7)
_ONE_DAY = timedelta(days=1)
_SECOND = timedelta(seconds=1)
_CACHED_DAYS = 4_096
"""Days of working spans kept per calendar; a deadline rarely looks further ahead."""

_CLOCK_RE = re.compile(r"^(\d{1,2}):(\d{2})$")

Span = tuple[datetime, datetime]
"""A half-open range of instants [start, end), both aware UTC datetimes."""


@dataclass(frozen=True, slots=True, order=True)
class WorkingInterval:
    """A wall-clock range [start, end) within one day, in seconds after local midnight.

    `end` may be 86400 (written `24:00`): the interval then runs to the next midnight.
    """

    start: int
    end: int

    @classmethod
    def parse(cls, text: str) -> WorkingInterval:
        """Parse `"HH:MM-HH:MM"` (end may be `24:00`).

        Raises:
            InvalidArgument: malformed, out of range, empty, or crossing midnight.
        """
        parts = [part.strip() for part in str(text).split("-")]
        if len(parts) != 2:
            raise InvalidArgument(
                f"working hours {text!r}: write them as HH:MM-HH:MM, e.g. 09:00-17:00"
            )
        start, end = (_parse_clock(part, text) for part in parts)
        if end <= start:
            raise InvalidArgument(
                f"working hours {text!r}: the end must be after the start; split a shift that "
                "crosses midnight into 22:00-24:00 and 00:00-06:00 on the next day"
            )
        return cls(start, end)

    @property
    def length(self) -> timedelta:
        """Nominal length, ignoring daylight-saving changes."""
        return timedelta(seconds=self.end - self.start)

    def __str__(self) -> str:
        return f"{_format_clock(self.start)}-{_format_clock(self.end)}"


def _parse_clock(part: str, whole: str) -> int:
    match = _CLOCK_RE.match(part)
    if not match:
        raise InvalidArgument(f"working hours {whole!r}: {part!r} is not a time of day HH:MM")
    hours, minutes = int(match[1]), int(match[2])
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        raise InvalidArgument(f"working hours {whole!r}: {part!r} is not between 00:00 and 24:00")
    return hours * 3600 + minutes * 60


def _format_clock(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise InvalidArgument(
            f"unknown time zone {name!r}: use an IANA name such as Europe/Berlin or UTC"
        ) from error


def _require_aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidArgument(f"{name} must be timezone-aware (e.g. datetime.now(UTC))")
    return value.astimezone(UTC)


@dataclass(frozen=True, repr=False)
class BusinessCalendar:
    """When work happens: a time zone, working intervals per weekday, and holidays.

    Build one with `BusinessCalendar.build(...)` or `BusinessCalendar.always()`.
    """

    timezone: ZoneInfo
    week: tuple[tuple[WorkingInterval, ...], ...]
    """Seven entries, Monday first; each a sorted tuple of non-overlapping intervals."""
    holidays: frozenset[date] = frozenset()
    name: str = ""
    _sorted_holidays: tuple[date, ...] = field(init=False, repr=False, compare=False)
    _spans: dict[date, tuple[Span, ...]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        if len(self.week) != 7:
            raise InvalidArgument("a calendar needs working intervals for each of 7 weekdays")
        if not any(self.week):
            raise InvalidArgument(
                f"calendar {self.name or self.timezone.key!r} has no working time: "
                "give at least one working day with hours"
            )
        object.__setattr__(self, "_sorted_holidays", tuple(sorted(self.holidays)))

    def __repr__(self) -> str:
        days = ", ".join(
            f"{day} {' '.join(str(i) for i in intervals)}"
            for day, intervals in zip(WEEKDAYS, self.week, strict=True)
            if intervals
        )
        return (
            f"BusinessCalendar({self.name!r}, {self.timezone.key}, {days}, "
            f"{len(self.holidays)} holidays)"
        )

    @classmethod
    def build(
        cls,
        timezone: str = "UTC",
        *,
        working_days: Iterable[str] = WEEKDAYS[:5],
        hours: Sequence[str] | Mapping[str, Sequence[str]] = ("09:00-17:00",),
        holidays: Iterable[date | str] = (),
        name: str = "",
    ) -> BusinessCalendar:
        """Build a calendar from configuration values.

        Args:
            timezone: IANA zone name whose wall clock the hours are written in.
            working_days: day names (`mon` .. `sun`) that have working hours.
            hours: `"HH:MM-HH:MM"` intervals for every working day, or a mapping from day
                name to that day's intervals (then `working_days` is ignored).
            holidays: dates (or ISO `YYYY-MM-DD` strings) without working time.
            name: how messages refer to the calendar.

        Raises:
            InvalidArgument: listing every problem found.
        """
        problems: list[str] = []
        calendar = assemble_calendar(
            timezone=timezone,
            working_days=working_days,
            hours=hours,
            holidays=holidays,
            name=name,
            report=lambda _path, message: problems.append(message),
        )
        if calendar is None:
            raise InvalidArgument("; ".join(problems))
        return calendar

    @classmethod
    def always(cls, timezone: str = "UTC") -> BusinessCalendar:
        """The 24x7 calendar: every instant is working time."""
        full_day = (WorkingInterval(0, DAY_SECONDS),)
        return cls(_zone(timezone), (full_day,) * 7, frozenset(), "24x7")

    @property
    def is_24x7(self) -> bool:
        """True when every instant is working time (so arithmetic is plain elapsed time)."""
        full_day = (WorkingInterval(0, DAY_SECONDS),)
        return not self.holidays and all(day == full_day for day in self.week)

    @property
    def nominal_week(self) -> timedelta:
        """Working time of a week without holidays or daylight-saving changes."""
        return sum((interval.length for day in self.week for interval in day), timedelta())

    def add_working_time(self, start: datetime, duration: timedelta) -> datetime:
        """The earliest instant by which `duration` of working time has passed since `start`.

        Args:
            start: a timezone-aware instant; it need not fall in working time.
            duration: working time to add, zero or more.

        Returns:
            An aware datetime in `start`'s time zone (`start` itself for a zero duration).

        Raises:
            InvalidArgument: `start` is naive or `duration` is negative.
        """
        now = _require_aware(start, "start")
        if duration < timedelta():
            raise InvalidArgument(f"duration must not be negative, got {duration}")
        if not duration:
            return start
        if self.is_24x7:
            return (now + duration).astimezone(start.tzinfo)
        remaining = duration
        day = now.astimezone(self.timezone).date()
        found, remaining = self._consume(day, now, remaining)
        day += _ONE_DAY
        nominal_week = self.nominal_week
        while found is None:
            if remaining > nominal_week:
                week = self._week_working_time(day)
                if week < remaining:
                    remaining -= week
                    day += WEEK
                    continue
            found, remaining = self._consume(day, None, remaining)
            day += _ONE_DAY
        return found.astimezone(start.tzinfo)

    def working_time_between(self, start: datetime, end: datetime) -> timedelta:
        """Working time in [start, end); negative when `end` is before `start`.

        Raises:
            InvalidArgument: either datetime is naive.
        """
        low, high = _require_aware(start, "start"), _require_aware(end, "end")
        if high < low:
            return -self.working_time_between(end, start)
        if self.is_24x7:
            return high - low
        first = low.astimezone(self.timezone).date()
        last = high.astimezone(self.timezone).date()
        if first == last:
            return _overlap(self.day_spans(first), low, high)
        total = _overlap(self.day_spans(first), low, high)
        day = first + _ONE_DAY
        while day + WEEK <= last:
            total += self._week_working_time(day)
            day += WEEK
        while day < last:
            total += sum((b - a for a, b in self.day_spans(day)), timedelta())
            day += _ONE_DAY
        return total + _overlap(self.day_spans(last), low, high)

    def is_working(self, at: datetime) -> bool:
        """Whether the instant `at` is working time."""
        instant = _require_aware(at, "at")
        day = instant.astimezone(self.timezone).date()
        return any(a <= instant < b for a, b in self.day_spans(day))

    def day_spans(self, day: date) -> tuple[Span, ...]:
        """The working instants whose local date is `day`, as sorted UTC spans."""
        spans = self._spans.get(day)
        if spans is None:
            spans = self._compute_day_spans(day)
            if len(self._spans) >= _CACHED_DAYS:
                self._spans.clear()
            self._spans[day] = spans
        return spans

    def _consume(
        self, day: date, not_before: datetime | None, remaining: timedelta
    ) -> tuple[datetime | None, timedelta]:
        """Spend `remaining` on `day`'s spans; return the instant it runs out, if it does."""
        for span_start, b in self.day_spans(day):
            a = span_start if not_before is None else max(span_start, not_before)
            if a >= b:
                continue
            if b - a >= remaining:
                return a + remaining, timedelta()
            remaining -= b - a
        return None, remaining

    def _week_working_time(self, first_day: date) -> timedelta:
        """Working time of the seven local days from `first_day`."""
        last_day = first_day + timedelta(days=6)
        # Fast path: no holiday and no UTC-offset change in the week, so it holds the nominal
        # amount; checking each midnight catches every change (at most one a day).
        index = bisect.bisect_left(self._sorted_holidays, first_day)
        holiday_in_week = (
            index < len(self._sorted_holidays) and self._sorted_holidays[index] <= last_day
        )
        if not holiday_in_week:
            offsets = {
                self._offset_at_local(datetime.combine(first_day + timedelta(days=i), time()))
                for i in range(8)
            }
            if len(offsets) == 1:
                return self.nominal_week
        return sum(
            (b - a for i in range(7) for a, b in self.day_spans(first_day + timedelta(days=i))),
            timedelta(),
        )

    def _offset_at_local(self, wall: datetime, fold: int = 0) -> timedelta:
        offset = wall.replace(tzinfo=self.timezone, fold=fold).utcoffset()
        assert offset is not None  # a ZoneInfo always has an offset
        return offset

    def _offset_at(self, instant: datetime) -> timedelta:
        offset = instant.astimezone(self.timezone).utcoffset()
        assert offset is not None
        return offset

    def _compute_day_spans(self, day: date) -> tuple[Span, ...]:
        if day in self.holidays:
            return ()
        midnight = datetime.combine(day, time())
        spans: list[Span] = []
        for interval in self.week[day.weekday()]:
            wall_start = midnight + timedelta(seconds=interval.start)
            wall_end = midnight + timedelta(seconds=interval.end)
            for span in self._instants_with_wall_clock_in(wall_start, wall_end):
                if spans and spans[-1][1] >= span[0]:
                    spans[-1] = (spans[-1][0], max(spans[-1][1], span[1]))
                else:
                    spans.append(span)
        return tuple(spans)

    def _instants_with_wall_clock_in(self, wall_start: datetime, wall_end: datetime) -> list[Span]:
        """Instants whose local wall-clock time lies in [wall_start, wall_end) (naive)."""
        offsets = [
            self._offset_at_local(wall, fold) for wall in (wall_start, wall_end) for fold in (0, 1)
        ]
        low = (wall_start - max(offsets)).replace(tzinfo=UTC)
        high = (wall_end - min(offsets)).replace(tzinfo=UTC)
        before, after = self._offset_at(low), self._offset_at(high)
        if before == after:
            pieces = [(low, high, before)]
        else:
            change = self._offset_change(low, high, before)
            pieces = [(low, change, before), (change, high, after)]
        spans: list[Span] = []
        for piece_start, piece_end, offset in pieces:
            # With a constant offset, wall = instant + offset, so the wanted instants are
            # [wall_start - offset, wall_end - offset), clipped to the piece.
            a = max(piece_start, (wall_start - offset).replace(tzinfo=UTC))
            b = min(piece_end, (wall_end - offset).replace(tzinfo=UTC))
            if a < b:
                if spans and spans[-1][1] == a:
                    spans[-1] = (spans[-1][0], b)
                else:
                    spans.append((a, b))
        return spans

    def _offset_change(self, low: datetime, high: datetime, before: timedelta) -> datetime:
        """The first instant in (low, high] whose offset differs from `before` (bisection)."""
        while high - low > _SECOND:
            middle = low + (high - low) / 2
            middle = middle.replace(microsecond=0)
            if middle <= low:
                middle = low + _SECOND
            if self._offset_at(middle) == before:
                low = middle
            else:
                high = middle
        return high


Reporter = Callable[[tuple[str | int, ...], str], None]
"""Receives each problem with the path (inside the calendar's settings) it concerns."""

_DAY_NAMES = {
    **{day: index for index, day in enumerate(WEEKDAYS)},
    **{
        day: index
        for index, day in enumerate(
            ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
        )
    },
}


def assemble_calendar(
    *,
    timezone: object,
    working_days: Iterable[object],
    hours: Sequence[str] | Mapping[str, Sequence[str] | str],
    holidays: Iterable[object],
    name: str,
    report: Reporter,
) -> BusinessCalendar | None:
    """Validate calendar settings, reporting every problem instead of raising.

    Args:
        timezone, working_days, hours, holidays, name: as for `BusinessCalendar.build`.
        report: called with (path inside the settings, message) for each problem, e.g.
            (("hours", "mon", 1), "working hours '9-5': ...").

    Returns:
        The calendar, or None when a problem was reported.
    """
    count = 0

    def problem(path: tuple[str | int, ...], message: str) -> None:
        nonlocal count
        count += 1
        report(path, message)

    zone = None
    try:
        zone = _zone(str(timezone))
    except InvalidArgument as error:
        problem(("timezone",), str(error))
    week = _assemble_week(working_days, hours, problem)
    parsed_holidays = _assemble_holidays(holidays, problem)
    if not count and not any(week):
        problem((), "the calendar has no working time: give at least one working day with hours")
    if count or zone is None:
        return None
    return BusinessCalendar(zone, week, parsed_holidays, name)


def _assemble_week(
    working_days: Iterable[object],
    hours: Sequence[str] | Mapping[str, Sequence[str] | str],
    problem: Reporter,
) -> tuple[tuple[WorkingInterval, ...], ...]:
    week: list[tuple[WorkingInterval, ...]] = [() for _ in WEEKDAYS]
    per_day: list[tuple[tuple[str | int, ...], object, tuple[WorkingInterval, ...]]]
    if isinstance(hours, Mapping):
        per_day = [
            (("hours", str(day)), day, _parse_intervals(texts, ("hours", str(day)), problem))
            for day, texts in hours.items()
        ]
    else:
        shared = _parse_intervals(hours, ("hours",), problem)
        per_day = [(("working_days", i), day, shared) for i, day in enumerate(working_days)]
    for day_path, day, intervals in per_day:
        index = _DAY_NAMES.get(str(day).strip().lower())
        if index is None:
            problem(day_path, f"unknown working day {day!r}: use one of {', '.join(WEEKDAYS)}")
        elif week[index]:
            problem(day_path, f"{day} is given twice; list each working day once")
        else:
            week[index] = intervals
    return tuple(week)


def _parse_intervals(
    texts: object, path: tuple[str | int, ...], problem: Reporter
) -> tuple[WorkingInterval, ...]:
    items = [texts] if isinstance(texts, str) else texts
    if not isinstance(items, Sequence):
        problem(path, 'working hours must be a list such as ["09:00-17:00"]')
        return ()
    intervals = []
    for position, text in enumerate(items):
        try:
            intervals.append(WorkingInterval.parse(str(text)))
        except InvalidArgument as error:
            problem(path if isinstance(texts, str) else (*path, position), str(error))
    intervals.sort()
    for before, after in itertools.pairwise(intervals):
        if after.start < before.end:
            problem(path, f"working hours {before} and {after} overlap")
    return tuple(intervals)


def _assemble_holidays(holidays: Iterable[object], problem: Reporter) -> frozenset[date]:
    parsed: set[date] = set()
    for position, holiday in enumerate(holidays):
        if isinstance(holiday, datetime):
            problem(("holidays", position), f"holiday {holiday} must be a date without a time")
        elif isinstance(holiday, date):
            parsed.add(holiday)
        else:
            try:
                parsed.add(date.fromisoformat(str(holiday)))
            except ValueError:
                problem(("holidays", position), f"holiday {holiday!r} is not a date YYYY-MM-DD")
    return frozenset(parsed)


def _overlap(spans: Iterable[Span], low: datetime, high: datetime) -> timedelta:
    total = timedelta()
    for span_start, span_end in spans:
        a, b = max(span_start, low), min(span_end, high)
        if a < b:
            total += b - a
    return total
