"""Routing rules: a validated, precompiled rule set that picks a ticket's queue and priority.

A rule set is data (YAML or TOML), never code. `RuleSet.parse` checks the whole document, reports
every mistake with its line, path, rule id and a fix (`router.config_document.InvalidConfig`,
an `InvalidArgument`), and compiles the conditions into closures so that `RuleSet.decide` costs
a few microseconds per rule. `examples/rules.yaml` documents the format; in short:

    default_queue: triage               # when nothing else decides
    default_priority: P3                # when the scores carry no priority
    category_queues: {billing: billing} # the model's category -> queue
    triage: {queue: triage, min_confidence: 0.4}
    rules:
      - id: vip-billing
        when: {customer_tier: [premium, enterprise], category: billing}
        route_to: billing
        set_priority: P1

Decision order: rules top to bottom; the first matching rule without `continue: true` decides
the queue (it must have `route_to`). Matching rules with `continue: true` only adjust priority,
skills and tags, and evaluation goes on. When no rule decides: a category confidence below
`triage.min_confidence` sends the ticket to the triage queue; else `category_queues` maps the
model's category; else `default_queue`.

Conditions: a mapping whose entries must all hold. An entry is `all: [...]`, `any: [...]`,
`not: {...}`, or a field with either a value (equals), a list (one of) or a mapping of operators
(`eq ne lt le gt ge in not_in matches contains exists`). Regular expressions run on RE2, whose
matching time is linear in the text, so no pattern can stall the router.
"""

from __future__ import annotations

import dataclasses
import difflib
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from functools import partial
from typing import Any, Literal, NamedTuple, TypeGuard

import re2
from re2 import _re2  # the compiled binding, see _compile_search

from queues.keys import check_name
from router.config_document import (
    ConfigDocument,
    ConfigProblem,
    InvalidConfig,
    Path,
    format_path,
)
from router.errors import InvalidArgument

MAX_RULES = 1_000
"""Most rules in one rule set; more is a sign of a generated file that belongs elsewhere."""

MAX_CONDITION_DEPTH = 16
"""Deepest nesting of all/any/not; keeps evaluation and error reports readable."""

MAX_PATTERN_CHARS = 500
"""Longest regular expression in a `matches` condition."""

MAX_MATCH_CHARS = 100_000
"""Text beyond this many characters is not searched by `matches` or `contains`."""

MAX_SKILL_LEVEL = 10
"""Highest skill level a rule may require."""

SECTIONS_OWNED_ELSEWHERE = ("sla_policy", "escalation")
"""Top-level sections kept raw for their own parsers (SLA policies, escalation policies)."""

Reason = Literal["rule", "category_map", "triage", "default"]


class Priority(IntEnum):
    """Ticket priority, P1 most urgent; compares as its number (P1 < P4)."""

    P1 = 1
    P2 = 2
    P3 = 3
    P4 = 4

    def __str__(self) -> str:
        return self.name

    @classmethod
    def coerce(cls, value: Any) -> Priority | None:
        """`Priority` from `P1`..`P4` (any case), 1..4 or a Priority; None if it is none."""
        try:
            return _PRIORITY_BY_VALUE.get(value)
        except TypeError:  # unhashable
            return None


_PRIORITY_BY_VALUE: dict[Any, Priority] = {}
for _priority in Priority:
    _PRIORITY_BY_VALUE.update(
        {_priority.value: _priority, _priority.name: _priority, _priority.name.lower(): _priority}
    )

TicketValues = Mapping[str, Any]
Getter = Callable[[TicketValues, TicketValues], Any]
Check = Callable[[TicketValues, TicketValues], "Condition | None"]
"""A compiled condition: None when it holds, else the first condition that failed."""


@dataclass(frozen=True, slots=True, eq=False)
class Condition:
    """One condition as written in the file, for traces and explanations.

    Attributes:
        text: readable form, e.g. `customer_tier in ['premium', 'enterprise']`.
        line: source line.
        path: where in the document, e.g. `rules[2].when.all[0].customer_tier`.
        field: the ticket field or score it tests; None for all/any/not.
    """

    text: str
    line: int | None
    path: str
    field: str | None = None
    _getter: Getter | None = dataclasses.field(default=None, repr=False)

    def value(self, ticket: TicketValues, scores: TicketValues) -> Any:
        """The value this condition looked at for this ticket (None for all/any/not)."""
        return self._getter(ticket, scores) if self._getter is not None else None


class RuleCheck(NamedTuple):
    """How one rule fared for one ticket (a tuple: one is built per rule per decision).

    Attributes:
        rule_id: the rule.
        matched: whether its `when` held.
        failed: the first condition that did not hold (None when matched).
    """

    rule_id: str
    matched: bool
    failed: Condition | None


@dataclass(frozen=True, slots=True)
class Decision:
    """Where a ticket goes and why.

    Attributes:
        queue: the queue to put the ticket in.
        priority: final priority after the rules' actions.
        required_skills: skill -> minimum level, from the matching rules.
        tags: tags added by the matching rules, in rule order, without repeats.
        rule_id: the rule that decided the queue; None when no rule did.
        reason: `rule`, `category_map`, `triage` or `default`.
        rule_set_version: version of the rule set that decided (None if not from the store).
        trace: every rule checked, in order, with the first failed condition.
    """

    queue: str
    priority: Priority
    required_skills: Mapping[str, int]
    tags: tuple[str, ...]
    rule_id: str | None
    reason: Reason
    rule_set_version: int | None
    trace: tuple[RuleCheck, ...]


@dataclass(frozen=True, slots=True)
class Rule:
    """One compiled rule. Build rule sets with `RuleSet.parse`, not rules by hand."""

    id: str
    description: str | None
    line: int | None
    route_to: str | None
    set_priority: Priority | None
    raise_priority: Priority | int | None
    """A Priority raises to at least that; an int raises by that many levels."""
    require_skills: Mapping[str, int]
    tags: tuple[str, ...]
    continues: bool
    check: Check | None = dataclasses.field(repr=False)
    """None when the rule has no `when` (it matches every ticket)."""

    def adjust_priority(self, priority: Priority) -> Priority:
        """The priority after this rule's set/raise actions."""
        if self.set_priority is not None:
            priority = self.set_priority
        if isinstance(self.raise_priority, Priority):
            priority = min(priority, self.raise_priority)
        elif self.raise_priority is not None:
            priority = Priority(max(Priority.P1, priority - self.raise_priority))
        return priority


@dataclass(frozen=True, slots=True)
class TriagePolicy:
    """Send tickets whose category confidence is below `min_confidence` to `queue`."""

    queue: str
    min_confidence: float


# --- fields and operators ---------------------------------------------------------------------

_TEXT, _NUMBER, _PRIORITY = "text", "number", "priority"

TICKET_FIELDS = (
    "subject",
    "body",
    "channel",
    "customer_id",
    "customer_tier",
    "product",
    "language",
)
"""Ticket fields a condition may test (plus `attributes.<name>`)."""

SCORE_FIELDS = ("category", "category_confidence", "priority", "sla_risk")
"""Scores a condition may test."""

_FIELD_KINDS: dict[str, str] = {
    **dict.fromkeys(TICKET_FIELDS, _TEXT),
    "category": _TEXT,
    "category_confidence": _NUMBER,
    "priority": _PRIORITY,
    "sla_risk": _NUMBER,
}

_OPERATORS: dict[str, tuple[str, ...]] = {
    _TEXT: ("eq", "ne", "in", "not_in", "matches", "contains", "exists"),
    _NUMBER: ("eq", "ne", "lt", "le", "gt", "ge", "exists"),
    _PRIORITY: ("eq", "ne", "lt", "le", "gt", "ge", "in", "not_in", "exists"),
}

_SYMBOLS = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
# `value OP x` written as a one-argument predicate on the value: partial(reflected, x)(value).
_REFLECTED = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.gt,
    "le": operator.ge,
    "gt": operator.lt,
    "ge": operator.le,
}
_OPERATOR_ALIASES = {
    # spellings from other languages -> ours, for "did you mean"
    "==": "eq",
    "!=": "ne",
    "<": "lt",
    "<=": "le",
    ">": "gt",
    ">=": "ge",
    "lte": "le",
    "gte": "ge",
    "equals": "eq",
    "regex": "matches",
    "notin": "not_in",
    "not in": "not_in",
}
_COMBINATORS = ("all", "any", "not")
_TOP_LEVEL_KEYS = (
    "description",
    "queues",
    "default_queue",
    "default_priority",
    "category_queues",
    "triage",
    "rules",
    *SECTIONS_OWNED_ELSEWHERE,
)
_RULE_KEYS = (
    "id",
    "description",
    "when",
    "route_to",
    "set_priority",
    "raise_priority",
    "require_skills",
    "tags",
    "continue",
)
_PRIORITY_HELP = "write a priority as P1 (most urgent), P2, P3 or P4"


def _ticket_getter(name: str) -> Getter:
    def get(ticket: TicketValues, scores: TicketValues) -> Any:
        return ticket.get(name)

    return get


def _attribute_getter(name: str) -> Getter:
    def get(ticket: TicketValues, scores: TicketValues) -> Any:
        attributes = ticket.get("attributes")
        return attributes.get(name) if attributes else None

    return get


def _score_getter(name: str) -> Getter:
    def get(ticket: TicketValues, scores: TicketValues) -> Any:
        return scores.get(name)

    return get


def _priority_getter(ticket: TicketValues, scores: TicketValues) -> Any:
    return Priority.coerce(scores.get("priority"))


def _leaf(getter: Getter, predicate: Callable[[Any], Any], condition: Condition) -> Check:
    def check(ticket: TicketValues, scores: TicketValues) -> Condition | None:
        try:
            if predicate(getter(ticket, scores)):
                return None
        except TypeError:  # a missing (None) or wrongly typed value fails the comparison
            pass
        return condition

    return check


def _all_of(checks: Sequence[Check]) -> Check:
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:  # the common case, without a loop
        first, second = checks

        def check_two(ticket: TicketValues, scores: TicketValues) -> Condition | None:
            return first(ticket, scores) or second(ticket, scores)

        return check_two
    frozen = tuple(checks)

    def check_all(ticket: TicketValues, scores: TicketValues) -> Condition | None:
        for each in frozen:
            failed = each(ticket, scores)
            if failed is not None:
                return failed
        return None

    return check_all


def _any_of(checks: Sequence[Check], condition: Condition) -> Check:
    frozen = tuple(checks)

    def check_any(ticket: TicketValues, scores: TicketValues) -> Condition | None:
        for each in frozen:
            if each(ticket, scores) is None:
                return None
        return condition

    return check_any


def _not(inner: Check, condition: Condition) -> Check:
    def check_not(ticket: TicketValues, scores: TicketValues) -> Condition | None:
        return condition if inner(ticket, scores) is None else None

    return check_not


def _exists(value: Any) -> bool:
    return value is not None and value != ""


def _regex_options() -> re2.Options:
    options = re2.Options()
    options.case_sensitive = False
    options.never_capture = True  # only "found or not" is needed
    options.log_errors = False  # errors are reported to the rule author, not to stderr
    return options


_RE2_OPTIONS = _regex_options()
_UNANCHORED = _re2.RE2.Anchor.UNANCHORED
_NO_MATCH = (-1, -1)


def _compile_search(pattern: str) -> Callable[[Any], bool]:
    """A predicate: does `pattern` occur in the text (its first `MAX_MATCH_CHARS`)?

    Calls the RE2 binding's compiled object directly: `re2.compile(...).search` adds a
    generator, offset bookkeeping and a match object per call, about half the cost of a search
    on a ticket-sized text, and only found/not found is needed here.

    Raises:
        re2.error: the pattern is not valid RE2 syntax.
    """
    regexp = _re2.RE2(pattern.encode(), _RE2_OPTIONS)
    if not regexp.ok():
        raise re2.error(regexp.error())
    match = regexp.Match

    def found(value: Any) -> bool:
        data = value[:MAX_MATCH_CHARS].encode()  # None or a non-text value: TypeError
        return bool(match(_UNANCHORED, data, 0, len(data))[0] != _NO_MATCH)

    return found


# --- the rule set -----------------------------------------------------------------------------


class RuleSet:
    """A validated, compiled rule set. Build with `RuleSet.parse`."""

    def __init__(
        self,
        *,
        rules: Sequence[Rule],
        default_queue: str,
        default_priority: Priority,
        category_queues: Mapping[str, str],
        triage: TriagePolicy | None,
        document: ConfigDocument,
        version: int | None = None,
        new_queues: Iterable[str] = (),
    ) -> None:
        self.rules: tuple[Rule, ...] = tuple(rules)
        self.new_queues = frozenset(new_queues)
        """Queues the file declares under `queues:` (created when it is published)."""
        self.default_queue = default_queue
        self.default_priority = default_priority
        self.category_queues: Mapping[str, str] = dict(category_queues)
        self.triage = triage
        self.document = document
        self.version = version

    @classmethod
    def parse(
        cls,
        text: str,
        fmt: str,
        *,
        known_queues: Iterable[str] | None = None,
        version: int | None = None,
    ) -> RuleSet:
        """Validate and compile a rule set.

        Args:
            text: the YAML or TOML document.
            fmt: `yaml` or `toml`.
            known_queues: when given, every queue the rules name must be one of these.
            version: the stored version this text is, recorded in each `Decision`.

        Returns:
            The compiled rule set.

        Raises:
            InvalidConfig: (an `InvalidArgument`) with every problem found, each with its line,
                path, rule id and a fix; nothing of the file is used.
            InvalidArgument: `fmt` is not yaml or toml.
        """
        document = ConfigDocument.parse(text, fmt)
        return cls.from_document(document, known_queues=known_queues, version=version)

    @classmethod
    def from_document(
        cls,
        document: ConfigDocument,
        *,
        known_queues: Iterable[str] | None = None,
        version: int | None = None,
    ) -> RuleSet:
        """Validate and compile an already parsed document (see `parse`).

        Raises:
            InvalidConfig: with every problem found.
        """
        parser = _RuleSetParser(document, None if known_queues is None else set(known_queues))
        rule_set = parser.parse(version)
        if parser.problems:
            parser.problems.sort(key=lambda problem: problem.line or 0)
            raise InvalidConfig(parser.problems, what="rule set")
        assert rule_set is not None  # no problems means every part parsed
        return rule_set

    def section(self, name: str) -> ConfigDocument | None:
        """The raw, located `sla_policy` or `escalation` section, or None when absent.

        Raises:
            KeyError: `name` is not a section kept for another parser.
        """
        if name not in SECTIONS_OWNED_ELSEWHERE:
            raise KeyError(f"{name!r} is not one of {SECTIONS_OWNED_ELSEWHERE}")
        if not isinstance(self.document.data, dict) or name not in self.document.data:
            return None
        return self.document.sub((name,))

    def queue_names(self) -> frozenset[str]:
        """Every queue this rule set can send a ticket to."""
        named = {rule.route_to for rule in self.rules if rule.route_to is not None}
        named.update(self.category_queues.values())
        named.add(self.default_queue)
        if self.triage is not None:
            named.add(self.triage.queue)
        return frozenset(named | self.new_queues)

    def decide(self, ticket: TicketValues, scores: TicketValues) -> Decision:
        """Route one ticket.

        Args:
            ticket: ticket fields (`subject`, `body`, `channel`, `customer_id`, `customer_tier`,
                `product`, `language` as strings; `attributes` a str->str mapping). Missing
                fields are None: every condition on them fails except `ne` and `not_in`.
            scores: `category` (str), `category_confidence` (0..1), `priority` (P1..P4 or
                1..4), `sla_risk` (0..1); any may be missing.

        Returns:
            The decision with a trace of every rule checked.
        """
        priority = Priority.coerce(scores.get("priority")) or self.default_priority
        skills: dict[str, int] | None = None
        tags: list[str] | None = None
        trace: list[RuleCheck] = []
        decided: Rule | None = None
        for rule in self.rules:
            failed = rule.check(ticket, scores) if rule.check is not None else None
            trace.append(RuleCheck(rule.id, failed is None, failed))
            if failed is not None:
                continue
            if rule.set_priority is not None or rule.raise_priority is not None:
                priority = rule.adjust_priority(priority)
            if rule.require_skills:
                skills = {} if skills is None else skills
                for skill, level in rule.require_skills.items():
                    skills[skill] = max(level, skills.get(skill, 0))
            if rule.tags:
                tags = [] if tags is None else tags
                tags.extend(tag for tag in rule.tags if tag not in tags)
            if not rule.continues:
                decided = rule
                break

        queue: str
        reason: Reason
        if decided is not None:
            assert decided.route_to is not None  # parse requires it of deciding rules
            queue, reason = decided.route_to, "rule"
        else:
            confidence = scores.get("category_confidence")
            category = scores.get("category")
            if (
                self.triage is not None
                and isinstance(confidence, int | float)
                and confidence < self.triage.min_confidence
            ):
                queue, reason = self.triage.queue, "triage"
            elif isinstance(category, str) and category in self.category_queues:
                queue, reason = self.category_queues[category], "category_map"
            else:
                queue, reason = self.default_queue, "default"
        return Decision(
            queue=queue,
            priority=priority,
            required_skills=skills or {},
            tags=tuple(tags) if tags else (),
            rule_id=decided.id if decided is not None else None,
            reason=reason,
            rule_set_version=self.version,
            trace=tuple(trace),
        )


# --- parsing ----------------------------------------------------------------------------------


def _did_you_mean(word: Any, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(str(word), list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _type_name(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true/false"
    return {dict: "a mapping", list: "a list", str: "text", int: "a number", float: "a number"}.get(
        type(value), type(value).__name__
    )


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


class _RuleSetParser:
    """Walks a ConfigDocument, collecting every problem, compiling what is valid."""

    def __init__(self, document: ConfigDocument, known_queues: set[str] | None) -> None:
        self.document = document
        self.known_queues = known_queues
        self.problems: list[ConfigProblem] = []
        self.rule_id: str | None = None  # the rule being parsed, for problem reports

    def problem(self, path: Path, message: str) -> None:
        self.problems.append(self.document.problem(path, message, item_id=self.rule_id))

    def parse(self, version: int | None) -> RuleSet | None:
        data = self.document.data
        if data is None:
            data = {}
        if not isinstance(data, dict):
            self.problem((), f"a rule set is a mapping with keys {list(_TOP_LEVEL_KEYS)}")
            return None
        for key in data:
            if key not in _TOP_LEVEL_KEYS:
                self.problem(
                    (key,),
                    f"unknown top-level key {key!r}{_did_you_mean(key, _TOP_LEVEL_KEYS)}; "
                    f"allowed: {', '.join(_TOP_LEVEL_KEYS)}",
                )
        if "description" in data and not isinstance(data["description"], str):
            self.problem(("description",), "description must be text")
        new_queues = self.new_queues(data.get("queues", []))
        if self.known_queues is not None:
            self.known_queues = self.known_queues | set(new_queues)
        default_queue = None
        if "default_queue" not in data:
            self.problem((), "default_queue is missing; add e.g. `default_queue: triage`")
        else:
            default_queue = self.queue(("default_queue",), data["default_queue"])
        default_priority: Priority | None = Priority.P3
        if "default_priority" in data:
            default_priority = self.priority(("default_priority",), data["default_priority"])
        category_queues = self.category_queues(data.get("category_queues", {}))
        triage = self.triage(data["triage"]) if "triage" in data else None
        rules = self.rules(data.get("rules", []))
        if self.problems or default_queue is None or default_priority is None:
            return None
        return RuleSet(
            rules=rules,
            default_queue=default_queue,
            default_priority=default_priority,
            category_queues=category_queues,
            triage=triage,
            document=self.document,
            version=version,
            new_queues=new_queues,
        )

    # -- values

    def new_queues(self, value: Any) -> list[str]:
        if not isinstance(value, list):
            self.problem(("queues",), "queues lists the new queues this file sends tickets "
                                      "to: [chat-desk, vip-billing]")
            return []
        names = []
        for index, name in enumerate(value):
            try:
                names.append(check_name(name, "queues"))
            except InvalidArgument as error:
                self.problem(("queues", index), error.message)
        return names

    def queue(self, path: Path, value: Any) -> str | None:
        if not isinstance(value, str) or not value:
            self.problem(path, f"a queue name must be non-empty text, not {_type_name(value)}")
            return None
        if self.known_queues is not None and value not in self.known_queues:
            known = sorted(self.known_queues)
            self.problem(
                path,
                f"unknown queue {value!r}{_did_you_mean(value, known)}; "
                f"known queues: {', '.join(known) or 'none'}; a new queue must be listed "
                f"under `queues:` first",
            )
            return None
        return value

    def priority(self, path: Path, value: Any) -> Priority | None:
        priority = Priority.coerce(value) if isinstance(value, str) else None
        if priority is None:
            self.problem(path, f"{value!r} is not a priority; {_PRIORITY_HELP}")
        return priority

    def category_queues(self, value: Any) -> dict[str, str]:
        path: Path = ("category_queues",)
        if not isinstance(value, dict):
            self.problem(path, "category_queues maps a category to a queue: {billing: billing}")
            return {}
        result: dict[str, str] = {}
        for category, queue_name in value.items():
            queue = self.queue((*path, category), queue_name)
            if queue is not None:
                result[str(category)] = queue
        return result

    def triage(self, value: Any) -> TriagePolicy | None:
        path: Path = ("triage",)
        if not isinstance(value, dict):
            self.problem(path, "triage is a mapping: {queue: triage, min_confidence: 0.4}")
            return None
        for key in value:
            if key not in ("queue", "min_confidence"):
                self.problem((*path, key), f"unknown key {key!r}; triage has queue, min_confidence")
        queue = self.queue((*path, "queue"), value.get("queue"))
        confidence = value.get("min_confidence")
        if not _is_number(confidence) or not 0 <= confidence <= 1:
            self.problem(
                (*path, "min_confidence"),
                f"min_confidence must be a number from 0 to 1, not {confidence!r}",
            )
            return None
        return TriagePolicy(queue, float(confidence)) if queue is not None else None

    # -- rules

    def rules(self, value: Any) -> list[Rule]:
        if not isinstance(value, list):
            self.problem(("rules",), f"rules must be a list of rules, not {_type_name(value)}")
            return []
        if len(value) > MAX_RULES:
            self.problem(("rules",), f"{len(value)} rules, more than {MAX_RULES}; merge some")
            return []
        seen: dict[str, int | None] = {}
        rules = []
        for index, item in enumerate(value):
            rule = self.rule(("rules", index), item, seen)
            if rule is not None:
                rules.append(rule)
        self.rule_id = None
        return rules

    def rule(self, path: Path, item: Any, seen: dict[str, int | None]) -> Rule | None:
        self.rule_id = None
        if not isinstance(item, dict):
            self.problem(path, f"a rule is a mapping with id, when and actions, not {item!r}")
            return None
        problems_before = len(self.problems)
        rule_id = item.get("id")
        if isinstance(rule_id, str) and rule_id:
            self.rule_id = rule_id
            if rule_id in seen:
                self.problem(
                    (*path, "id"),
                    f"duplicate rule id {rule_id!r} (first used on line {seen[rule_id]}); "
                    "give each rule its own id",
                )
            else:
                seen[rule_id] = self.document.line_of((*path, "id"))
        elif "id" not in item:
            self.problem(path, "the rule has no id; add `id: <a unique name>`")
        else:
            self.problem((*path, "id"), f"a rule id must be non-empty text, not {rule_id!r}")
        for key in item:
            if key not in _RULE_KEYS:
                self.problem(
                    (*path, key),
                    f"unknown rule key {key!r}{_did_you_mean(key, _RULE_KEYS)}; "
                    f"allowed: {', '.join(_RULE_KEYS)}",
                )
        description = item.get("description")
        if description is not None and not isinstance(description, str):
            self.problem((*path, "description"), "description must be text")

        check = None
        if "when" in item:
            check = self.condition((*path, "when"), item["when"], depth=0)

        continues = item.get("continue", False)
        if not isinstance(continues, bool):
            self.problem((*path, "continue"), "continue must be true or false")
            continues = False
        route_to = None
        if "route_to" in item:
            route_to = self.queue((*path, "route_to"), item["route_to"])
            if continues:
                self.problem(
                    (*path, "continue"),
                    "a rule with continue: true does not decide the queue; "
                    "remove route_to or continue",
                )
        elif not continues:
            self.problem(
                path,
                "the rule neither routes nor continues; add `route_to: <queue>`, or "
                "`continue: true` if it only sets priority, skills or tags",
            )

        set_priority = None
        if "set_priority" in item:
            set_priority = self.priority((*path, "set_priority"), item["set_priority"])
        raise_priority = None
        if "raise_priority" in item:
            raise_priority = self.raise_priority((*path, "raise_priority"), item["raise_priority"])
        skills = self.skills((*path, "require_skills"), item.get("require_skills", {}))
        tags = self.tags((*path, "tags"), item.get("tags", []))
        if len(self.problems) > problems_before or not isinstance(rule_id, str):
            return None
        return Rule(
            id=rule_id,
            description=description,
            line=self.document.line_of(path),
            route_to=route_to,
            set_priority=set_priority,
            raise_priority=raise_priority,
            require_skills=skills,
            tags=tags,
            continues=continues,
            check=check,
        )

    def raise_priority(self, path: Path, value: Any) -> Priority | int | None:
        if isinstance(value, str):
            return self.priority(path, value)
        if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 3:
            return value
        self.problem(
            path,
            f"raise_priority is a priority (P1..P4: at least that urgent) or a number of levels "
            f"1..3 to raise by, not {value!r}",
        )
        return None

    def skills(self, path: Path, value: Any) -> dict[str, int]:
        if not isinstance(value, dict):
            self.problem(path, "require_skills maps a skill to a minimum level, e.g. {german: 2}")
            return {}
        skills = {}
        for skill, level in value.items():
            if not isinstance(level, int) or isinstance(level, bool):
                self.problem((*path, skill), f"a skill level is a whole number, not {level!r}")
            elif not 1 <= level <= MAX_SKILL_LEVEL:
                self.problem(
                    (*path, skill), f"skill level {level} is out of range 1..{MAX_SKILL_LEVEL}"
                )
            else:
                skills[str(skill)] = level
        return skills

    def tags(self, path: Path, value: Any) -> tuple[str, ...]:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(t, str) and t for t in value):
            self.problem(path, "tags is a list of non-empty texts, e.g. [vip, refund]")
            return ()
        return tuple(dict.fromkeys(value))

    # -- conditions

    def condition(self, path: Path, value: Any, *, depth: int) -> Check | None:
        if depth > MAX_CONDITION_DEPTH:
            self.problem(path, f"conditions nest deeper than {MAX_CONDITION_DEPTH}; simplify")
            return None
        if not isinstance(value, dict) or not value:
            self.problem(
                path,
                "a condition is a non-empty mapping, e.g. {category: billing} or "
                f"{{any: [...]}}, not {_type_name(value)}",
            )
            return None
        checks: list[Check | None] = []
        for key, argument in value.items():
            key_path = (*path, key)
            if key in ("all", "any"):
                checks.append(self.combination(key_path, key, argument, depth))
            elif key == "not":
                inner = self.condition(key_path, argument, depth=depth + 1)
                condition = self.described(key_path, "not (...)")
                checks.append(_not(inner, condition) if inner is not None else None)
            elif key == "attributes" and isinstance(argument, dict):
                for name, test in argument.items():
                    checks.append(self.field_test((*key_path, name), f"attributes.{name}", test))
            else:
                checks.append(self.field_test(key_path, str(key), argument))
        if any(check is None for check in checks):
            return None
        return _all_of([check for check in checks if check is not None])

    def combination(self, path: Path, kind: str, argument: Any, depth: int) -> Check | None:
        if not isinstance(argument, list) or not argument:
            self.problem(path, f"{kind} takes a non-empty list of conditions")
            return None
        inner = [
            self.condition((*path, index), each, depth=depth + 1)
            for index, each in enumerate(argument)
        ]
        if any(check is None for check in inner):
            return None
        checks = [check for check in inner if check is not None]
        if kind == "all":
            return _all_of(checks)
        return _any_of(checks, self.described(path, f"any of {len(checks)} conditions"))

    def described(
        self, path: Path, text: str, name: str | None = None, getter: Getter | None = None
    ) -> Condition:
        return Condition(
            text=text,
            line=self.document.line_of(path),
            path=format_path(self.document.root + path),
            field=name,
            _getter=getter,
        )

    def field_test(self, path: Path, name: str, test: Any) -> Check | None:
        getter: Getter
        if name.startswith("attributes."):
            attribute = name.removeprefix("attributes.")
            if not attribute:
                self.problem(path, "name the attribute: attributes.<name>")
                return None
            kind, getter = _TEXT, _attribute_getter(attribute)
        elif name in _FIELD_KINDS:
            kind = _FIELD_KINDS[name]
            if name == "priority":
                getter = _priority_getter
            elif name in SCORE_FIELDS:
                getter = _score_getter(name)
            else:
                getter = _ticket_getter(name)
        else:
            known = [*_FIELD_KINDS, "attributes.<name>"]
            self.problem(
                path,
                f"unknown field {name!r}{_did_you_mean(name, [*_FIELD_KINDS, *_COMBINATORS])}; "
                f"conditions test {', '.join(known)}, or combine with all/any/not",
            )
            return None
        if isinstance(test, dict):
            if not test:
                self.problem(path, f"no operator given; use one of {', '.join(_OPERATORS[kind])}")
                return None
            operations = list(test.items())
            operation_paths = [(*path, op) for op, _ in operations]
        elif isinstance(test, list):
            operations, operation_paths = [("in", test)], [path]
        else:
            operations, operation_paths = [("eq", test)], [path]
        checks = [
            self.operation(op_path, name, kind, getter, op=str(op), argument=argument)
            for (op, argument), op_path in zip(operations, operation_paths, strict=True)
        ]
        if any(check is None for check in checks):
            return None
        return _all_of([check for check in checks if check is not None])

    def operation(
        self, path: Path, name: str, kind: str, getter: Getter, *, op: str, argument: Any
    ) -> Check | None:
        allowed = _OPERATORS[kind]
        if op not in allowed:
            every = {o for ops in _OPERATORS.values() for o in ops}
            hint = (
                f"{op!r} does not apply to {name}"
                if op in every
                else f"unknown operator {op!r}{self.operator_hint(op, allowed)}"
            )
            self.problem(path, f"{hint}; {name} takes {', '.join(allowed)}")
            return None
        predicate: Callable[[Any], bool]
        if op == "exists":
            if not isinstance(argument, bool):
                self.problem(path, f"exists takes true or false, not {argument!r}")
                return None
            predicate = _exists if argument else (lambda value: not _exists(value))
            text = f"{name} {'exists' if argument else 'is missing'}"
            return _leaf(getter, predicate, self.described(path, text, name, getter))
        if op in ("in", "not_in"):
            if not isinstance(argument, list) or not argument:
                self.problem(path, f"{op} takes a non-empty list, e.g. [a, b]")
                return None
            values = [self.operand(path, name, kind, each) for each in argument]
            if any(value is None for value in values):
                return None
            members = frozenset(values)
            predicate = members.__contains__ if op == "in" else (lambda v: v not in members)
            listed = sorted(values, key=str)
            text = f"{name} {'in' if op == 'in' else 'not in'} {[str(v) for v in listed]}"
            return _leaf(getter, predicate, self.described(path, text, name, getter))
        if op in ("matches", "contains"):
            if not isinstance(argument, str) or not argument:
                self.problem(path, f"{op} takes non-empty text, not {_type_name(argument)}")
                return None
            pattern_text = argument if op == "matches" else re2.escape(argument)
            if len(pattern_text) > MAX_PATTERN_CHARS:
                self.problem(path, f"the pattern is longer than {MAX_PATTERN_CHARS} characters")
                return None
            try:
                found = _compile_search(pattern_text)
            except re2.error as error:
                reason = error.args[0] if error.args else error
                if isinstance(reason, bytes):
                    reason = reason.decode(errors="replace")
                self.problem(
                    path,
                    f"bad regular expression {argument!r}: {reason}; RE2 syntax applies "
                    "(no backreferences or lookbehind)",
                )
                return None
            text = f"{name} {op} {argument!r}"
            return _leaf(getter, found, self.described(path, text, name, getter))
        # eq ne lt le gt ge
        value = self.operand(path, name, kind, argument)
        if value is None:
            return None
        predicate = partial(_REFLECTED[op], value)
        text = f"{name} {_SYMBOLS[op]} {value if kind != _TEXT else repr(value)}"
        return _leaf(getter, predicate, self.described(path, text, name, getter))

    @staticmethod
    def operator_hint(op: str, allowed: Sequence[str]) -> str:
        alias = _OPERATOR_ALIASES.get(op.lower())
        if alias in allowed:
            return f" (did you mean {alias!r}?)"
        return _did_you_mean(op, allowed)

    def operand(self, path: Path, name: str, kind: str, value: Any) -> Any:
        """A value to compare `name` with, checked against the field's kind; None if wrong."""
        if kind == _PRIORITY:
            return self.priority(path, value)
        if kind == _NUMBER:
            if not _is_number(value) or not 0 <= value <= 1:
                self.problem(path, f"{name} is a probability; compare it with 0..1, not {value!r}")
                return None
            return float(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)  # e.g. a customer id written unquoted; ticket fields are text
        if not isinstance(value, str):
            self.problem(path, f"{name} is text; compare it with text, not {_type_name(value)}")
            return None
        return value
