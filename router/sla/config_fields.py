"""Typed reads from one configuration section that collect every problem with its line."""

from __future__ import annotations

import difflib
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from router.config_document import ConfigDocument, ConfigProblem, InvalidConfig
from router.config_document import Path as ConfigPath
from router.errors import InvalidArgument
from router.sla.durations import parse_duration

_MISSING = object()


@dataclass
class SectionReader:
    """Reads values out of a section view, turning each mistake into a line-numbered problem.

    Args:
        doc: the section, as `ConfigDocument.sub(("sla_policy",))` gives it.
        what: what the section is, for the refusal's first line.
    """

    doc: ConfigDocument
    what: str
    problems: list[ConfigProblem] = field(default_factory=list)
    item: tuple[str, str] | None = None
    """(id, kind) of the named item being read, added to each problem's message."""

    def problem(self, path: ConfigPath, message: str) -> None:
        """Record a problem at `path` (relative to the section)."""
        item_id, item_kind = self.item if self.item else (None, "rule")
        self.problems.append(self.doc.problem(path, message, item_id=item_id, item_kind=item_kind))

    def raise_if_any(self) -> None:
        """Raise every recorded problem at once.

        Raises:
            InvalidConfig: at least one problem was recorded.
        """
        if self.problems:
            raise InvalidConfig(self.problems, what=self.what)

    def get(self, path: ConfigPath, default: Any = _MISSING) -> Any:
        """The raw value at `path`, or `default` (recording a problem if none was given)."""
        try:
            return self.doc.get(path)
        except (KeyError, IndexError, TypeError):
            if default is _MISSING:
                self.problem(path[:-1], f"{path[-1]!r} is required")
                return None
            return default

    def mapping(self, path: ConfigPath, allowed: Collection[str]) -> dict[str, Any] | None:
        """The mapping at `path`, with a problem for each key not in `allowed`."""
        value = self.get(path)
        if value is None:
            return None
        if not isinstance(value, dict):
            self.problem(path, f"expected a mapping with keys {', '.join(sorted(allowed))}")
            return None
        for key in value:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), list(allowed), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                self.problem(
                    (*path, key),
                    f"unknown key {key!r}{hint} (allowed: {', '.join(sorted(allowed))})",
                )
        return value

    def duration(self, path: ConfigPath, *, positive: bool = True) -> timedelta | None:
        """The duration at `path` (e.g. `4h`), or None after recording a problem."""
        try:
            value = parse_duration(self.get(path))
        except InvalidArgument as error:
            self.problem(path, str(error))
            return None
        if positive and value <= timedelta():
            self.problem(path, "must be longer than zero")
            return None
        return value

    def number(self, path: ConfigPath, *, low: float, high: float) -> float | None:
        """The number at `path`, within [low, high]."""
        value = self.get(path)
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problem(path, f"expected a number between {low} and {high}, got {value!r}")
            return None
        if not low <= value <= high:
            self.problem(path, f"{value} is outside {low}..{high}")
            return None
        return float(value)

    def text(self, path: ConfigPath) -> str | None:
        """The non-empty string at `path`."""
        value = self.get(path)
        if not isinstance(value, str) or not value.strip():
            self.problem(path, f"expected a non-empty name, got {value!r}")
            return None
        return value.strip()

    def texts(self, path: ConfigPath) -> tuple[str, ...] | None:
        """The list of non-empty strings at `path`."""
        value = self.get(path)
        if not isinstance(value, list):
            self.problem(path, f'expected a list of names such as ["a", "b"], got {value!r}')
            return None
        names = [self.text((*path, index)) for index in range(len(value))]
        if any(name is None for name in names):
            return None
        return tuple(name for name in names if name is not None)
