"""Tests of router.config_document: values, source lines and syntax errors for YAML and TOML."""

from __future__ import annotations

import datetime as dt

import pytest

from router.config_document import (
    MAX_DOCUMENT_CHARS,
    ConfigDocument,
    ConfigProblem,
    InvalidConfig,
    format_path,
    parse_format,
)
from router.errors import InvalidArgument

YAML_TEXT = """\
# a comment
version: 1
rules:
  - id: vip
    when:
      all:
        - field: customer_tier
          in: [premium, enterprise]
        - {field: category, eq: billing}
    route_to: billing
  - id: lang
    when: {field: language, eq: no}
    route_to: triage
sla_policy:
  targets:
    P1: {first_response: 1h}
"""

TOML_TEXT = """\
# a comment
version = 1

[[rules]]
id = "vip"
route_to = "billing"

[rules.when]
all = [
  { field = "customer_tier", in = ["premium", "enterprise"] },
  { field = "category", eq = "billing" },
]

[[rules]]
id = "lang"
description = \"\"\"
spans = lines
\"\"\"
when = { field = "language", eq = "no" }
route_to = "triage"

[sla_policy.targets.P1]
first_response = "1h"
"quoted.key" = 2
dotted.inner = 3
"""


def test_yaml_values_and_lines() -> None:
    doc = ConfigDocument.parse(YAML_TEXT, "yaml")
    assert doc.fmt == "yaml"
    assert doc.get(("rules", 0, "when", "all", 0, "in")) == ["premium", "enterprise"]
    # Only true/false are booleans: the Norwegian language code stays text.
    assert doc.get(("rules", 1, "when", "eq")) == "no"
    assert doc.line_of(("version",)) == 2
    assert doc.line_of(("rules", 0)) == 4
    assert doc.line_of(("rules", 0, "when")) == 5
    assert doc.line_of(("rules", 0, "when", "all", 0)) == 7
    assert doc.line_of(("rules", 0, "when", "all", 0, "in")) == 8
    assert doc.line_of(("rules", 0, "when", "all", 1, "eq")) == 9
    assert doc.line_of(("rules", 1, "route_to")) == 13
    assert doc.line_of(("sla_policy", "targets", "P1", "first_response")) == 16
    # Unknown paths fall back to the nearest located parent.
    assert doc.line_of(("rules", 1, "when", "missing", 3)) == 12


def test_toml_values_and_lines() -> None:
    doc = ConfigDocument.parse(TOML_TEXT, "toml")
    assert doc.fmt == "toml"
    assert doc.get(("rules", 0, "when", "all", 1, "eq")) == "billing"
    assert doc.get(("sla_policy", "targets", "P1", "quoted.key")) == 2
    assert doc.line_of(("version",)) == 2
    assert doc.line_of(("rules", 0)) == 4
    assert doc.line_of(("rules", 0, "route_to")) == 6
    assert doc.line_of(("rules", 0, "when")) == 8
    assert doc.line_of(("rules", 0, "when", "all")) == 9
    assert doc.line_of(("rules", 0, "when", "all", 0)) == 10
    assert doc.line_of(("rules", 0, "when", "all", 0, "in", 1)) == 10
    assert doc.line_of(("rules", 0, "when", "all", 1, "eq")) == 11
    assert doc.line_of(("rules", 1)) == 14
    assert doc.line_of(("rules", 1, "description")) == 16
    # The multi-line string's content is not mistaken for a key.
    assert ("rules", 1, "spans") not in doc.lines
    assert doc.line_of(("rules", 1, "when", "eq")) == 19
    assert doc.line_of(("rules", 1, "route_to")) == 20
    assert doc.line_of(("sla_policy", "targets", "P1")) == 22
    assert doc.line_of(("sla_policy", "targets", "P1", "first_response")) == 23
    assert doc.line_of(("sla_policy", "targets", "P1", "quoted.key")) == 24
    assert doc.line_of(("sla_policy", "targets", "P1", "dotted", "inner")) == 25


def test_toml_dates_are_plain_python_values() -> None:
    doc = ConfigDocument.parse("holiday = 2024-12-25\n", "toml")
    assert doc.data == {"holiday": dt.date(2024, 12, 25)}


@pytest.mark.parametrize(
    ("fmt", "text", "line", "fragment"),
    [
        ("yaml", "rules:\n  - id: a\n   route_to: b\n", 3, "YAML syntax error"),
        ("yaml", "a: 1\nb: [1, 2\nc: 3\n", 3, "YAML syntax error"),
        ("yaml", "a: !!python/object:os.system ls\n", 1, "remove the tag"),
        ("yaml", "a: 1\nb: !!python/object/apply:os.getcwd []\n", 2, "remove the tag"),
        ("yaml", "a: !!set {x}\n", 1, "remove the tag"),
        ("toml", "a = 1\n[rules\nid = 2\n", 2, "TOML syntax error"),
        ("toml", "a = 1\na = 2\n", 2, "TOML syntax error"),
    ],
)
def test_syntax_errors_name_the_line(fmt: str, text: str, line: int, fragment: str) -> None:
    with pytest.raises(InvalidConfig) as raised:
        ConfigDocument.parse(text, fmt)
    (problem,) = raised.value.problems
    assert problem.line == line
    assert fragment in problem.message
    assert f"line {line}, " in str(raised.value)
    assert isinstance(raised.value, InvalidArgument)


def test_yaml_repeated_key_is_refused_with_both_lines() -> None:
    with pytest.raises(InvalidConfig) as raised:
        ConfigDocument.parse("rules:\n  - id: a\n    id: b\n", "yaml")
    (problem,) = raised.value.problems
    assert problem.line == 3
    assert problem.path == "rules[0].id"
    assert "first on line 2" in problem.message


def test_yaml_alias_bomb_is_refused() -> None:
    lines = ["a0: [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 7):
        refs = ", ".join([f"*r{level - 1}"] * 10)
        lines.append(f"a{level}: &r{level} [{refs}]")
    lines[0] = "a0: &r0 [x, x, x, x, x, x, x, x, x, x]"
    with pytest.raises(InvalidConfig, match="more than"):
        ConfigDocument.parse("\n".join(lines), "yaml")


def test_yaml_merge_keys_and_aliases_are_expanded() -> None:
    text = "base: &b {queue: billing}\nrule:\n  <<: *b\n  tags: [x]\n"
    doc = ConfigDocument.parse(text, "yaml")
    assert doc.get(("rule",)) == {"queue": "billing", "tags": ["x"]}


def test_empty_yaml_is_none_and_oversized_text_refused() -> None:
    assert ConfigDocument.parse("# nothing\n", "yaml").data is None
    with pytest.raises(InvalidConfig, match="more than the limit"):
        ConfigDocument.parse("a" * (MAX_DOCUMENT_CHARS + 1), "yaml")


def test_sub_view_reports_full_path_and_line() -> None:
    doc = ConfigDocument.parse(YAML_TEXT, "yaml")
    section = doc.sub(("sla_policy",))
    assert section.data == {"targets": {"P1": {"first_response": "1h"}}}
    problem = section.problem(("targets", "P1", "first_response"), "use seconds")
    assert problem == ConfigProblem(16, "sla_policy.targets.P1.first_response", "use seconds")
    assert str(problem) == "line 16, sla_policy.targets.P1.first_response: use seconds"
    rule_problem = doc.problem(("rules", 1, "route_to"), "unknown queue", item_id="lang")
    assert str(rule_problem) == "line 13, rules[1].route_to (rule 'lang'): unknown queue"
    level = section.problem(("targets",), "empty", item_id="L1", item_kind="level")
    assert str(level) == "line 15, sla_policy.targets (level 'L1'): empty"


def test_invalid_config_lists_every_problem() -> None:
    problems = [ConfigProblem(3, "a", "one"), ConfigProblem(None, "b", "two")]
    error = InvalidConfig(problems, what="rule set")
    assert error.problems == tuple(problems)
    assert str(error) == (
        "rule set refused, 2 problems; fix and retry:\n  line 3, a: one\n  line ?, b: two"
    )


def test_format_names_and_paths() -> None:
    assert parse_format(".YML") == "yaml"
    assert parse_format("toml") == "toml"
    with pytest.raises(InvalidArgument, match="use 'yaml' or 'toml'"):
        parse_format("json")
    assert format_path(()) == "<document>"
    assert format_path(("rules", 3, "when", "any", 0)) == "rules[3].when.any[0]"
    assert format_path(("a", "b c")) == "a.'b c'"
