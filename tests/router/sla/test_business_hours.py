"""Tests of router.sla.business_hours: hand-checked deadlines, DST changes, holidays, properties."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from router.errors import InvalidArgument
from router.sla.business_hours import WEEKDAYS, BusinessCalendar, WorkingInterval

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
H = timedelta(hours=1)

OFFICE = BusinessCalendar.build("Europe/Berlin")  # Mon-Fri 09:00-17:00
SPLIT = BusinessCalendar.build(
    "Europe/Berlin",
    hours=["09:00-12:00", "13:00-17:00"],
    holidays=[date(2024, 12, 24), "2024-12-25", date(2024, 12, 26)],
)
NY_OFFICE = BusinessCalendar.build("America/New_York")
# Every hour of every day, but not the 24x7 shortcut (a holiday far away): exercises the
# general wall-clock algorithm where the answer is plain elapsed time, DST included.
ALL_HOURS = BusinessCalendar.build(
    "Europe/Berlin", working_days=WEEKDAYS, hours=["00:00-24:00"], holidays=["2099-01-01"]
)
NIGHT_SUNDAY = BusinessCalendar.build("Europe/Berlin", hours={"sun": ["01:00-04:00"]})


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)  # type: ignore[misc]


def new_york(*args: int) -> datetime:
    return datetime(*args, tzinfo=NEW_YORK)  # type: ignore[misc]


# --- hand-checked deadlines -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("calendar", "start", "hours", "expected"),
    [
        # Friday 16:00 + 2h: one hour on Friday, one on Monday morning.
        (OFFICE, berlin(2024, 3, 8, 16), 2, berlin(2024, 3, 11, 10)),
        # Saturday: nothing counts until Monday 09:00.
        (OFFICE, berlin(2024, 3, 9, 10), 1, berlin(2024, 3, 11, 10)),
        # Before opening: the clock starts at 09:00.
        (OFFICE, berlin(2024, 3, 11, 7, 30), 1, berlin(2024, 3, 11, 10)),
        # Exactly a day's worth ends at closing time, not at the next opening.
        (OFFICE, berlin(2024, 3, 11, 9), 8, berlin(2024, 3, 11, 17)),
        # Lunch break is not working time.
        (SPLIT, berlin(2024, 3, 11, 11), 2, berlin(2024, 3, 11, 14)),
        # Christmas holidays Tue-Thu: Monday 16:00 + 4h ends Friday 12:00 (1h Mon, 3h Fri).
        (SPLIT, berlin(2024, 12, 23, 16), 4, berlin(2024, 12, 27, 12)),
        # A long duration: 1000 h = 125 working days = 25 whole weeks, across the March DST
        # change: ends on a Friday at closing time, in summer time.
        (OFFICE, berlin(2024, 1, 1, 9), 1000, berlin(2024, 6, 21, 17)),
        # New York, weekend of the March DST change: Friday 16:00 + 4h = Monday 12:00 EDT.
        (NY_OFFICE, new_york(2024, 3, 8, 16), 4, new_york(2024, 3, 11, 12)),
        # New York, November change.
        (NY_OFFICE, new_york(2024, 11, 1, 15), 3, new_york(2024, 11, 4, 10)),
    ],
)
def test_add_working_time_hand_checked(
    calendar: BusinessCalendar, start: datetime, hours: int, expected: datetime
) -> None:
    deadline = calendar.add_working_time(start, hours * H)
    assert deadline == expected
    assert deadline.tzinfo is start.tzinfo
    assert calendar.working_time_between(start, deadline) == hours * H


def test_new_york_weekend_across_dst_is_one_hour_shorter_in_real_time() -> None:
    start = new_york(2024, 3, 8, 16)
    deadline = NY_OFFICE.add_working_time(start, 4 * H)
    # Wall clocks show 68 h (Fri 16:00 -> Mon 12:00) but the clocks sprang forward: 67 h real.
    assert deadline.astimezone(UTC) - start.astimezone(UTC) == 67 * H


def test_24x7_across_spring_forward_is_elapsed_time() -> None:
    start = berlin(2024, 3, 30, 12)  # Saturday; Sunday has 23 hours in Berlin
    for calendar in (ALL_HOURS, BusinessCalendar.always("Europe/Berlin")):
        deadline = calendar.add_working_time(start, 24 * H)
        assert deadline == berlin(2024, 3, 31, 13)
        assert calendar.working_time_between(berlin(2024, 3, 31), berlin(2024, 4, 1)) == 23 * H
        assert calendar.working_time_between(berlin(2024, 10, 27), berlin(2024, 10, 28)) == 25 * H


def test_python_wall_clock_addition_would_be_wrong_across_dst() -> None:
    # The trap this module avoids: aware datetime + timedelta moves the wall clock.
    start = berlin(2024, 3, 30, 12)
    assert start + 24 * H == berlin(2024, 3, 31, 12)  # only 23 real hours later
    always = BusinessCalendar.always("Europe/Berlin")
    assert always.add_working_time(start, 24 * H) != start + 24 * H


def test_interval_through_the_spring_gap_holds_only_existing_wall_time() -> None:
    # Sunday 01:00-04:00; on 2024-03-31 the clock jumps 02:00 -> 03:00.
    assert NIGHT_SUNDAY.working_time_between(berlin(2024, 3, 31), berlin(2024, 4, 1)) == 2 * H
    assert NIGHT_SUNDAY.working_time_between(berlin(2024, 3, 24), berlin(2024, 3, 25)) == 3 * H
    assert NIGHT_SUNDAY.add_working_time(berlin(2024, 3, 31, 1), 90 * timedelta(minutes=1)) == (
        berlin(2024, 3, 31, 3, 30)
    )


def test_interval_through_the_fall_back_hour_counts_it_twice() -> None:
    # Sunday 01:00-04:00; on 2024-10-27 the clock shows 02:00-03:00 twice.
    assert NIGHT_SUNDAY.working_time_between(berlin(2024, 10, 27), berlin(2024, 10, 28)) == 4 * H
    start = berlin(2024, 10, 27, 1)
    deadline = NIGHT_SUNDAY.add_working_time(start, 2 * H + 30 * timedelta(minutes=1))
    # 01:00 CEST + 2.5 h of real time = 02:30 CET (the second pass).
    assert deadline.astimezone(UTC) == datetime(2024, 10, 27, 1, 30, tzinfo=UTC)
    assert deadline.fold == 1


def test_working_time_between_hand_checked() -> None:
    assert OFFICE.working_time_between(berlin(2024, 3, 8, 16), berlin(2024, 3, 11, 10)) == 2 * H
    assert OFFICE.working_time_between(berlin(2024, 3, 9), berlin(2024, 3, 10, 23)) == timedelta()
    assert OFFICE.working_time_between(berlin(2024, 3, 11, 10), berlin(2024, 3, 8, 16)) == -2 * H
    # A whole year of 2024 Mon-Fri 8h days: 262 weekdays.
    assert OFFICE.working_time_between(berlin(2024, 1, 1), berlin(2025, 1, 1)) == 262 * 8 * H
    assert SPLIT.working_time_between(berlin(2024, 12, 23), berlin(2024, 12, 28)) == 2 * 7 * H


def test_start_in_another_time_zone_returns_that_zone() -> None:
    start = datetime(2024, 3, 8, 15, tzinfo=UTC)  # 16:00 in Berlin
    deadline = OFFICE.add_working_time(start, 2 * H)
    assert deadline == datetime(2024, 3, 11, 9, tzinfo=UTC)
    assert deadline.tzinfo is UTC


def test_zero_duration_returns_start_even_outside_hours() -> None:
    saturday = berlin(2024, 3, 9, 10)
    assert OFFICE.add_working_time(saturday, timedelta()) is saturday


def test_is_working() -> None:
    assert OFFICE.is_working(berlin(2024, 3, 8, 9))
    assert not OFFICE.is_working(berlin(2024, 3, 8, 17))
    assert not SPLIT.is_working(berlin(2024, 12, 24, 10))


def test_24x7_is_detected() -> None:
    assert BusinessCalendar.always().is_24x7
    assert not ALL_HOURS.is_24x7  # it has a holiday
    assert not OFFICE.is_24x7


def test_refuses_naive_datetimes_and_negative_durations() -> None:
    with pytest.raises(InvalidArgument, match="timezone-aware"):
        OFFICE.add_working_time(datetime(2024, 3, 8, 16), H)
    with pytest.raises(InvalidArgument, match="timezone-aware"):
        OFFICE.working_time_between(berlin(2024, 3, 8), datetime(2024, 3, 9))
    with pytest.raises(InvalidArgument, match="negative"):
        OFFICE.add_working_time(berlin(2024, 3, 8), -H)


def test_build_lists_every_problem() -> None:
    with pytest.raises(InvalidArgument) as caught:
        BusinessCalendar.build(
            "Mars/Olympus",
            hours={"mon": ["09:00-12:00", "11:00-13:00"], "funday": ["09:00-10:00"]},
            holidays=["2024-13-01"],
        )
    message = str(caught.value)
    assert "unknown time zone 'Mars/Olympus'" in message
    assert "overlap" in message
    assert "unknown working day 'funday'" in message
    assert "'2024-13-01' is not a date" in message


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("9-17", "not a time of day"),
        ("22:00-06:00", "crosses midnight"),
        ("09:00", "HH:MM-HH:MM"),
        ("09:00-25:00", "between 00:00 and 24:00"),
        ("09:61-10:00", "between 00:00 and 24:00"),
    ],
)
def test_working_interval_refusals(text: str, fragment: str) -> None:
    with pytest.raises(InvalidArgument, match=fragment):
        WorkingInterval.parse(text)


def test_working_interval_allows_24_00() -> None:
    interval = WorkingInterval.parse("18:00-24:00")
    assert interval.length == 6 * H
    assert str(interval) == "18:00-24:00"


def test_calendar_without_working_time_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="no working time"):
        BusinessCalendar.build("UTC", working_days=[])


# --- properties -----------------------------------------------------------------------------

CALENDARS = {
    "office": OFFICE,
    "split": SPLIT,
    "new_york": NY_OFFICE,
    "night_sunday": NIGHT_SUNDAY,
    "all_hours": ALL_HOURS,
    "weekend_shift": BusinessCalendar.build(
        "America/New_York",
        hours={
            "sat": ["00:00-06:00", "20:00-24:00"],
            "sun": ["00:00-24:00"],
            "wed": ["01:30-02:30"],
        },
        holidays=["2024-11-02"],
    ),
}
# Around both 2024 DST changes on each side of the Atlantic, and the Christmas holidays.
instants = st.datetimes(
    min_value=datetime(2024, 3, 1), max_value=datetime(2024, 12, 31), timezones=st.just(UTC)
)
durations = st.timedeltas(min_value=timedelta(), max_value=timedelta(days=120))


@settings(max_examples=150, deadline=None)
@given(name=st.sampled_from(sorted(CALENDARS)), start=instants, duration=durations)
def test_add_then_measure_returns_the_duration(
    name: str, start: datetime, duration: timedelta
) -> None:
    calendar = CALENDARS[name]
    deadline = calendar.add_working_time(start, duration)
    assert calendar.working_time_between(start, deadline) == duration
    if duration:
        # ... and it is the earliest such instant.
        tick = timedelta(microseconds=1)
        assert calendar.working_time_between(start, deadline - tick) == duration - tick


@settings(max_examples=100, deadline=None)
@given(name=st.sampled_from(sorted(CALENDARS)), start=instants, first=durations, second=durations)
def test_deadlines_are_monotonic_and_additive(
    name: str, start: datetime, first: timedelta, second: timedelta
) -> None:
    calendar = CALENDARS[name]
    shorter, longer = sorted((first, second))
    assert calendar.add_working_time(start, shorter) <= calendar.add_working_time(start, longer)
    assert calendar.add_working_time(
        calendar.add_working_time(start, first), second
    ) == calendar.add_working_time(start, first + second)


def _minutes_by_brute_force(calendar: BusinessCalendar, start: datetime, end: datetime) -> int:
    """Working minutes in [start, end) by looking at the wall clock of every UTC minute."""
    count = 0
    moment = start
    while moment < end:
        local = moment.astimezone(calendar.timezone)
        seconds = local.hour * 3600 + local.minute * 60
        if local.date() not in calendar.holidays and any(
            interval.start <= seconds < interval.end for interval in calendar.week[local.weekday()]
        ):
            count += 1
        moment += timedelta(minutes=1)
    return count


@settings(max_examples=40, deadline=None)
@given(
    name=st.sampled_from(sorted(CALENDARS)),
    start=st.sampled_from(
        [
            datetime(2024, 3, 29, 20, tzinfo=UTC),  # Berlin spring-forward weekend
            datetime(2024, 10, 25, 20, tzinfo=UTC),  # Berlin fall-back weekend
            datetime(2024, 3, 8, 20, tzinfo=UTC),  # New York spring-forward weekend
            datetime(2024, 11, 1, 20, tzinfo=UTC),  # New York fall-back weekend
            datetime(2024, 12, 22, 20, tzinfo=UTC),  # Christmas holidays
        ]
    ),
    offset_minutes=st.integers(min_value=0, max_value=24 * 60),
    length_minutes=st.integers(min_value=0, max_value=4 * 24 * 60),
)
def test_agrees_with_minute_by_minute_wall_clock(
    name: str, start: datetime, offset_minutes: int, length_minutes: int
) -> None:
    calendar = CALENDARS[name]
    low = start + timedelta(minutes=offset_minutes)
    high = low + timedelta(minutes=length_minutes)
    expected = _minutes_by_brute_force(calendar, low, high)
    assert calendar.working_time_between(low, high) == timedelta(minutes=expected)
