"""Escalation policy: levels that fire once per ticket when SLA risk rises or a deadline nears.

The `escalation` section of the rule-set document (YAML shown; TOML has the same shape):

    escalation:
      at_risk: {sla_risk_at_least: 0.6, clear_below: 0.5}   # the "at risk" flag, with hysteresis
      levels:                          # in order; each fires at most once per ticket
        - name: warn
          when: {sla_risk_at_least: 0.6}
          actions: {}                  # an escalation event only
        - name: raise
          when: {sla_risk_at_least: 0.8, time_left_at_most: 30m}   # either (match: any)
          actions: {raise_priority: 1}
        - name: urgent
          when: {time_left_at_most: 10m}
          actions:
            raise_priority: P1         # steps (1, 2, 3) or a priority to raise to
            move_to_queue: escalations
            relax_skills: [german]     # optional skills no longer required
            emit_event: true

`decide` is pure: given what a ticket looks like now (priority, the levels already fired,
SLA risk, time left to its nearest open deadline) it returns the levels to fire now and their
combined effect. Escalation only ever goes up: a fired level never fires again, even after the
risk drops and rises back, and priority is never lowered by it. The only "back to normal"
notion, the at-risk flag, clears only once risk falls below `clear_below`, so it does not flap.

Exactly once across router processes: each level must be claimed atomically before its
actions apply, e.g. `HSETNX` of the level's name on the ticket's escalation hash inside the
Lua script that also applies the level's actions and appends its event.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from router.config_document import ConfigDocument
from router.config_document import Path as ConfigPath
from router.errors import InvalidArgument, NotFound
from router.sla.config_fields import SectionReader
from router.sla.policy import PRIORITIES, parse_priority

SECTION = "escalation"
"""Key of the escalation section in the rule-set document."""

DEFAULT_HYSTERESIS = 0.1
"""How far below the at-risk threshold risk must fall before the flag clears."""

_LEVEL_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
Match = Literal["any", "all"]


@dataclass(frozen=True, slots=True)
class EscalationTrigger:
    """When a level fires: SLA risk at or above a threshold and/or little time left."""

    sla_risk_at_least: float | None = None
    time_left_at_most: timedelta | None = None
    match: Match = "any"
    """`any`: either condition fires the level; `all`: both must hold."""

    def holds(self, sla_risk: float | None, time_left: timedelta | None) -> bool:
        """Whether the trigger holds; an unknown risk or time left satisfies nothing."""
        results = []
        if self.sla_risk_at_least is not None:
            results.append(sla_risk is not None and sla_risk >= self.sla_risk_at_least)
        if self.time_left_at_most is not None:
            results.append(time_left is not None and time_left <= self.time_left_at_most)
        return bool(results) and (all(results) if self.match == "all" else any(results))


@dataclass(frozen=True, slots=True)
class EscalationActions:
    """What firing a level does besides emitting its event."""

    raise_priority_by: int = 0
    raise_priority_to: str | None = None
    move_to_queue: str | None = None
    relax_skills: tuple[str, ...] = ()
    emit_event: bool = True

    def priority_after(self, current: object) -> str:
        """The priority after this level: raised by steps or to a level, never lowered.

        Raises:
            InvalidArgument: `current` is not a priority.
        """
        index = PRIORITIES.index(parse_priority(current))
        index = max(0, index - self.raise_priority_by)
        if self.raise_priority_to is not None:
            index = min(index, PRIORITIES.index(self.raise_priority_to))
        return PRIORITIES[index]


@dataclass(frozen=True, slots=True)
class EscalationLevel:
    """One level of the policy."""

    name: str
    """Unique in the policy; the key under which the level is claimed for a ticket."""
    index: int
    trigger: EscalationTrigger
    actions: EscalationActions = EscalationActions()
    line: int | None = None


@dataclass(frozen=True, slots=True)
class TicketEscalationState:
    """What a ticket looks like to the escalation decision.

    Attributes:
        priority: current priority (P1..P4).
        fired: names of the levels already fired for this ticket.
        sla_risk: current SLA-risk score in [0, 1], None if not scored.
        time_left: time to the nearest open deadline on its clock (negative once passed),
            e.g. `Deadlines.time_left(now, responded=...)`; None if there is none.
    """

    priority: str
    fired: frozenset[str] = frozenset()
    sla_risk: float | None = None
    time_left: timedelta | None = None


@dataclass(frozen=True, slots=True)
class EscalationStep:
    """One level firing, with the priority before and after it."""

    level: EscalationLevel
    priority_before: str
    priority_after: str

    def event_data(self, state: TicketEscalationState) -> dict[str, Any]:
        """The escalation event's data (JSON-serialisable) for the ticket's history."""
        actions = self.level.actions
        return {
            "level": self.level.name,
            "level_index": self.level.index,
            "sla_risk": state.sla_risk,
            "time_left_s": None if state.time_left is None else state.time_left.total_seconds(),
            "priority_from": self.priority_before,
            "priority_to": self.priority_after,
            "move_to_queue": actions.move_to_queue,
            "relax_skills": list(actions.relax_skills),
        }


@dataclass(frozen=True, slots=True)
class EscalationDecision:
    """The levels to fire now, in order, and what they do together."""

    steps: tuple[EscalationStep, ...]
    priority: str
    """Priority once every step applied (unchanged if none raises it)."""
    queue: str | None
    """Queue to move to (the last step's that moves), None to stay."""
    relax_skills: frozenset[str]

    @property
    def levels(self) -> tuple[EscalationLevel, ...]:
        """The levels to fire now, in policy order."""
        return tuple(step.level for step in self.steps)

    def __bool__(self) -> bool:
        return bool(self.steps)


@dataclass(frozen=True, slots=True)
class AtRiskBand:
    """The at-risk flag with hysteresis: set at `enter`, cleared only below `leave`."""

    enter: float
    leave: float

    def at_risk(self, sla_risk: float | None, was_at_risk: bool) -> bool:
        """Whether the ticket is at risk now, given whether it was at the last check."""
        if sla_risk is None:
            return was_at_risk
        return sla_risk >= self.leave if was_at_risk else sla_risk >= self.enter


@dataclass(frozen=True)
class EscalationPolicy:
    """Ordered escalation levels and the at-risk band. Build with `parse_escalation_policy`
    or use `DEFAULT_ESCALATION_POLICY`."""

    levels: tuple[EscalationLevel, ...]
    at_risk: AtRiskBand

    def level(self, name: str) -> EscalationLevel:
        """The level called `name`.

        Raises:
            NotFound: no such level.
        """
        for level in self.levels:
            if level.name == name:
                return level
        raise NotFound(f"no escalation level {name!r}; levels: {self.level_names}")

    @property
    def level_names(self) -> tuple[str, ...]:
        """Level names in order."""
        return tuple(level.name for level in self.levels)

    def decide(self, state: TicketEscalationState) -> EscalationDecision:
        """The levels to fire now: every level not fired yet whose trigger holds.

        Args:
            state: the ticket now (see `TicketEscalationState`).

        Returns:
            The steps in policy order, each applied to the priority the previous left.

        Raises:
            InvalidArgument: the state's priority is not P1..P4.
        """
        priority = parse_priority(state.priority)
        steps: list[EscalationStep] = []
        queue: str | None = None
        skills: set[str] = set()
        for level in self.levels:
            if level.name in state.fired or not level.trigger.holds(
                state.sla_risk, state.time_left
            ):
                continue
            after = level.actions.priority_after(priority)
            steps.append(EscalationStep(level, priority, after))
            priority = after
            queue = level.actions.move_to_queue or queue
            skills.update(level.actions.relax_skills)
        return EscalationDecision(tuple(steps), priority, queue, frozenset(skills))


DEFAULT_ESCALATION_POLICY = EscalationPolicy(
    levels=(
        EscalationLevel("warn", 0, EscalationTrigger(sla_risk_at_least=0.6)),
        EscalationLevel(
            "raise",
            1,
            EscalationTrigger(sla_risk_at_least=0.8, time_left_at_most=timedelta(minutes=30)),
            EscalationActions(raise_priority_by=1),
        ),
        EscalationLevel(
            "urgent",
            2,
            EscalationTrigger(time_left_at_most=timedelta(minutes=10)),
            EscalationActions(raise_priority_by=1),
        ),
    ),
    at_risk=AtRiskBand(enter=0.6, leave=0.5),
)
"""Without an `escalation` section: `warn` (an event) at risk 0.6; `raise` (one priority step)
at risk 0.8 or 30 minutes left; `urgent` (one more step) at 10 minutes left. At risk from 0.6,
cleared below 0.5."""


# --- parsing --------------------------------------------------------------------------------

_SECTION_KEYS = ("at_risk", "levels")
_AT_RISK_KEYS = ("sla_risk_at_least", "clear_below")
_LEVEL_KEYS = ("name", "when", "actions")
_WHEN_KEYS = ("sla_risk_at_least", "time_left_at_most", "match")
_ACTION_KEYS = ("raise_priority", "move_to_queue", "relax_skills", "emit_event")


def load_escalation_policy(document: ConfigDocument) -> EscalationPolicy:
    """The escalation policy of a rule-set document: its `escalation` section, else the default.

    Raises:
        InvalidConfig: the section has mistakes (all listed, with lines).
    """
    data = document.data
    if not isinstance(data, dict) or data.get(SECTION) is None:
        return DEFAULT_ESCALATION_POLICY
    return parse_escalation_policy(document.sub((SECTION,)))


def parse_escalation_policy(section: ConfigDocument) -> EscalationPolicy:
    """Parse an `escalation` section (as `ConfigDocument.sub(("escalation",))` gives it).

    Raises:
        InvalidConfig: listing every mistake with its line, path and how to fix it.
    """
    reader = SectionReader(section, "escalation policy")
    top = reader.mapping((), _SECTION_KEYS) or {}
    levels: list[EscalationLevel] = []
    raw_levels = top.get("levels")
    if not isinstance(raw_levels, list) or not raw_levels:
        reader.problem(("levels",) if "levels" in top else (), "give a list of levels")
        raw_levels = []
    seen: dict[str, int] = {}
    for index in range(len(raw_levels)):
        level = _read_level(reader, index, seen)
        if level is not None:
            levels.append(level)
    band = _read_at_risk(reader, top, levels)
    reader.raise_if_any()
    assert band is not None  # no problem recorded, so it was read
    return EscalationPolicy(tuple(levels), band)


def _read_level(reader: SectionReader, index: int, seen: dict[str, int]) -> EscalationLevel | None:
    path: ConfigPath = ("levels", index)
    entry = reader.mapping(path, _LEVEL_KEYS)
    if entry is None:
        return None
    name = f"level_{index + 1}"
    if "name" in entry:
        given = entry["name"]
        if not isinstance(given, str) or not _LEVEL_NAME.fullmatch(given):
            reader.problem((*path, "name"), f"{given!r}: use up to 64 letters, digits, '_' or '-'")
            return None
        name = given
    if name in seen:
        reader.problem((*path, "name"), f"{name!r} is already the name of levels[{seen[name]}]")
        return None
    seen[name] = index
    reader.item = (name, "level")
    try:
        trigger = _read_trigger(reader, (*path, "when"), entry)
        actions = _read_actions(reader, (*path, "actions"), entry)
    finally:
        reader.item = None
    if trigger is None or actions is None:
        return None
    return EscalationLevel(name, index, trigger, actions, reader.doc.line_of(path))


def _read_trigger(
    reader: SectionReader, path: ConfigPath, entry: Mapping[str, Any]
) -> EscalationTrigger | None:
    if "when" not in entry:
        reader.problem(path[:-1], "when is required, e.g. when: {sla_risk_at_least: 0.8}")
        return None
    when = reader.mapping(path, _WHEN_KEYS)
    if when is None:
        return None
    if not when.keys() & {"sla_risk_at_least", "time_left_at_most"}:
        reader.problem(path, "give sla_risk_at_least and/or time_left_at_most")
        return None
    risk = time_left = None
    ok = True
    if "sla_risk_at_least" in when:
        risk = reader.number((*path, "sla_risk_at_least"), low=0.0, high=1.0)
        ok = ok and risk is not None
    if "time_left_at_most" in when:
        time_left = reader.duration((*path, "time_left_at_most"), positive=False)
        ok = ok and time_left is not None
    match = when.get("match", "any")
    if match not in ("any", "all"):
        reader.problem((*path, "match"), f"{match!r}: use any (either condition) or all (both)")
        ok = False
    if not ok:
        return None
    return EscalationTrigger(risk, time_left, match)


def _read_actions(
    reader: SectionReader, path: ConfigPath, entry: Mapping[str, Any]
) -> EscalationActions | None:
    if entry.get("actions") is None:
        return EscalationActions()
    actions = reader.mapping(path, _ACTION_KEYS)
    if actions is None:
        return None
    before = len(reader.problems)
    steps, to = 0, None
    if "raise_priority" in actions:
        raw = actions["raise_priority"]
        if isinstance(raw, int) and not isinstance(raw, bool) and 1 <= raw < len(PRIORITIES):
            steps = raw
        else:
            try:
                to = parse_priority(raw) if isinstance(raw, str) else None
            except InvalidArgument:
                to = None
            if to is None:
                reader.problem(
                    (*path, "raise_priority"),
                    f"{raw!r}: give steps (1 to {len(PRIORITIES) - 1}) or a priority "
                    f"({', '.join(PRIORITIES)})",
                )
    queue = reader.text((*path, "move_to_queue")) if "move_to_queue" in actions else None
    skills = reader.texts((*path, "relax_skills")) if "relax_skills" in actions else ()
    emit = actions.get("emit_event", True)
    if not isinstance(emit, bool):
        reader.problem((*path, "emit_event"), f"{emit!r}: write true or false")
    if len(reader.problems) > before:
        return None
    return EscalationActions(steps, to, queue, tuple(skills or ()), bool(emit))


def _read_at_risk(
    reader: SectionReader, top: Mapping[str, Any], levels: list[EscalationLevel]
) -> AtRiskBand | None:
    thresholds = [
        level.trigger.sla_risk_at_least
        for level in levels
        if level.trigger.sla_risk_at_least is not None
    ]
    enter = min(thresholds) if thresholds else DEFAULT_ESCALATION_POLICY.at_risk.enter
    if top.get("at_risk") is None:
        return AtRiskBand(enter, max(0.0, enter - DEFAULT_HYSTERESIS))
    path: ConfigPath = ("at_risk",)
    settings = reader.mapping(path, _AT_RISK_KEYS)
    if settings is None:
        return None
    if "sla_risk_at_least" in settings:
        given = reader.number((*path, "sla_risk_at_least"), low=0.0, high=1.0)
        if given is None:
            return None
        enter = given
    leave = max(0.0, enter - DEFAULT_HYSTERESIS)
    if "clear_below" in settings:
        given = reader.number((*path, "clear_below"), low=0.0, high=1.0)
        if given is None:
            return None
        if given > enter:
            reader.problem(
                (*path, "clear_below"),
                f"{given} is above the at-risk threshold {enter}; it must be at most that "
                "(a margin below it keeps the flag from flapping)",
            )
            return None
        leave = given
    return AtRiskBand(enter, leave)
