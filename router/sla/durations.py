"""Durations as people write them in SLA and escalation settings: `30m`, `4h`, `1h30m`, `2d`."""

from __future__ import annotations

import re
from datetime import timedelta

from router.errors import InvalidArgument

_UNIT_SECONDS = {"w": 604_800, "d": 86_400, "h": 3_600, "m": 60, "s": 1}
_PART = re.compile(r"(\d+(?:\.\d+)?)([wdhms])")
_WHOLE = re.compile(r"(?:\d+(?:\.\d+)?[wdhms])+")
MAX_DURATION = timedelta(days=3650)
"""Longest duration taken (about 10 years): deadlines must stay times the queues can store."""


def parse_duration(text: object) -> timedelta:
    """Parse a duration such as `90s`, `30m`, `4h`, `1h30m`, `2d` or `1w`.

    A bare number is refused: `4` could mean seconds, minutes or hours.

    Raises:
        InvalidArgument: the text is not a duration with units, or is over `MAX_DURATION`.
    """
    if isinstance(text, bool) or not isinstance(text, str | int | float):
        raise InvalidArgument(f"{text!r} is not a duration; write e.g. 30m, 4h or 1h30m")
    compact = str(text).replace(" ", "").lower()
    if isinstance(text, int | float) or compact.replace(".", "", 1).isdigit():
        raise InvalidArgument(f"duration {text!r} has no unit; write e.g. {text}h or {text}m")
    if not _WHOLE.fullmatch(compact):
        raise InvalidArgument(
            f"{text!r} is not a duration; write a number and a unit (w, d, h, m, s), "
            "e.g. 30m, 4h or 1h30m"
        )
    seconds = sum(float(number) * _UNIT_SECONDS[unit] for number, unit in _PART.findall(compact))
    if seconds > MAX_DURATION.total_seconds():
        raise InvalidArgument(f"duration {text!r} is longer than 3650d (about 10 years); "
                              "write a shorter one")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """Write a duration the way `parse_duration` reads it, e.g. `1h30m`."""
    total = round(value.total_seconds())
    if total == 0:
        return "0s"
    sign, total = ("-", -total) if total < 0 else ("", total)
    parts = []
    for unit in ("d", "h", "m", "s"):
        count, total = divmod(total, _UNIT_SECONDS[unit])
        if count:
            parts.append(f"{count}{unit}")
    return sign + "".join(parts)
