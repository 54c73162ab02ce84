"""Load a YAML or TOML configuration text into plain values that remember their source lines.

A `ConfigDocument` holds the parsed data (dicts, lists, str, int, float, bool, None, and TOML
dates) and a side table from each value's *path* to its 1-based source line. A path is a tuple of
mapping keys and list indices, e.g. `("rules", 2, "when", "all", 0)`; `format_path` writes it as
`rules[2].when.all[0]`. Parsers of sections built on this (rules, SLA policies, escalation) check
the data, call `ConfigDocument.problem(path, message)` for each mistake, and raise all of them
at once with `InvalidConfig`, whose message lists `line N, <path>: <what to fix>` per problem.

YAML is read with PyYAML's safe composer (no Python object tags), with two changes that suit
hand-written configuration: only `true`/`false` are booleans (YAML 1.2 core; so `language: no`
stays the string "no"), and a key repeated in one mapping is an error instead of silently
replacing the first. Aliases are expanded, bounded by `MAX_VALUES` so an alias bomb is refused.

TOML is read with `tomllib`, which reports no positions for values; the lines are found by a
small structural scan of the same text (tables, array-of-tables, dotted keys, inline tables and
arrays, multi-line strings). Every key and array item gets the line where it starts.
"""

from __future__ import annotations

import contextlib
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml

from router.errors import InvalidArgument

ConfigFormat = Literal["yaml", "toml"]
PathPart = str | int
Path = tuple[PathPart, ...]

MAX_DOCUMENT_CHARS = 1_000_000
"""Longest configuration text accepted; rule sets and policies are hand-written and small."""

MAX_VALUES = 100_000
"""Most values (after alias expansion) a YAML document may hold; refuses alias bombs."""

_FORMAT_ALIASES: Mapping[str, ConfigFormat] = {"yaml": "yaml", "yml": "yaml", "toml": "toml"}


def parse_format(fmt: str) -> ConfigFormat:
    """Normalise a format name (`yaml`, `yml`, `toml`, any case, optional leading dot).

    Raises:
        InvalidArgument: the format is none of these.
    """
    normal = _FORMAT_ALIASES.get(fmt.strip().lower().lstrip("."))
    if normal is None:
        raise InvalidArgument(f"unknown format {fmt!r}; use 'yaml' or 'toml'", field="fmt")
    return normal


def format_path(path: Path) -> str:
    """Write a path the way a reader finds it in the file: `rules[2].when.all[0]`."""
    out: list[str] = []
    for part in path:
        if isinstance(part, int):
            out.append(f"[{part}]")
        else:
            text = part if _BARE_KEY.fullmatch(part) else repr(part)
            out.append(f".{text}" if out else text)
    return "".join(out) or "<document>"


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One mistake in a configuration document.

    Attributes:
        line: 1-based source line, or None when unknown.
        path: where in the document, as `format_path` writes it.
        message: what is wrong and how to fix it.
        item_id: id of the rule (or other named item) the problem is in, when it has one.
        item_kind: what kind of item `item_id` names, for the message ("rule", "level" ...).
    """

    line: int | None
    path: str
    message: str
    item_id: str | None = None
    item_kind: str = "rule"

    @property
    def rule_id(self) -> str | None:
        """The id of the rule the problem is in (None for other items and outside rules)."""
        return self.item_id if self.item_kind == "rule" else None

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line is not None else "line ?"
        item = f" ({self.item_kind} {self.item_id!r})" if self.item_id is not None else ""
        return f"{where}, {self.path}{item}: {self.message}"


class InvalidConfig(InvalidArgument):
    """A configuration document was refused as a whole; `problems` lists every mistake.

    Args:
        problems: every problem found (at least one).
        what: what the document is, for the message's first line (e.g. "rule set").
    """

    def __init__(self, problems: Sequence[ConfigProblem], *, what: str = "configuration") -> None:
        self.problems: tuple[ConfigProblem, ...] = tuple(problems)
        count = len(self.problems)
        plural = "problem" if count == 1 else "problems"
        lines = "\n".join(f"  {problem}" for problem in self.problems)
        super().__init__(f"{what} refused, {count} {plural}; fix and retry:\n{lines}")


@dataclass(frozen=True, slots=True)
class ConfigDocument:
    """Parsed configuration data plus the source line of every key and list item.

    Build with `ConfigDocument.parse`. `sub(path)` gives a view of a nested value whose paths
    are relative to it but whose problems still carry the full path and the right line.
    """

    data: Any
    fmt: ConfigFormat
    lines: Mapping[Path, int] = field(repr=False)
    root: Path = ()

    @classmethod
    def parse(cls, text: str, fmt: str) -> ConfigDocument:
        """Parse YAML or TOML text.

        Args:
            text: the document.
            fmt: `yaml` (or `yml`) or `toml`.

        Returns:
            The document; `data` is None for an empty YAML text.

        Raises:
            InvalidArgument: unknown format.
            InvalidConfig: a syntax error (with its line), the text is too long, or (YAML) a
                repeated key, an unsupported tag or too many values.
        """
        normal = parse_format(fmt)
        if len(text) > MAX_DOCUMENT_CHARS:
            raise InvalidConfig(
                [
                    ConfigProblem(
                        None,
                        "<document>",
                        f"the text has {len(text)} characters, more than the limit of "
                        f"{MAX_DOCUMENT_CHARS}; split it or remove unused parts",
                    )
                ]
            )
        if normal == "yaml":
            data, lines = _load_yaml(text)
        else:
            data, lines = _load_toml(text)
        return cls(data=data, fmt=normal, lines=lines)

    def get(self, path: Path = ()) -> Any:
        """The value at `path` (relative to this view).

        Raises:
            KeyError: nothing is at that path.
        """
        value = self.data
        for part in path:
            value = value[part]
        return value

    def line_of(self, path: Path = ()) -> int | None:
        """Source line of the value at `path`, else of its nearest located parent."""
        full = self.root + tuple(path)
        while full:
            line = self.lines.get(full)
            if line is not None:
                return line
            full = full[:-1]
        return self.lines.get(())

    def sub(self, path: Path) -> ConfigDocument:
        """A view of the value at `path`, for a parser that owns that section.

        Raises:
            KeyError: nothing is at that path.
        """
        return ConfigDocument(
            data=self.get(path), fmt=self.fmt, lines=self.lines, root=self.root + tuple(path)
        )

    def problem(
        self, path: Path, message: str, *, item_id: str | None = None, item_kind: str = "rule"
    ) -> ConfigProblem:
        """A problem at `path` (relative to this view) with its line and full path filled in."""
        return ConfigProblem(
            line=self.line_of(path),
            path=format_path(self.root + tuple(path)),
            message=message,
            item_id=item_id,
            item_kind=item_kind,
        )


# --- YAML -------------------------------------------------------------------------------------


class _ConfigYamlLoader(yaml.SafeLoader):
    """SafeLoader whose only booleans are true/false (YAML 1.2 core schema)."""


# Copy the resolver table before changing it: SafeLoader's is shared with every other loader.
_ConfigYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_ConfigYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def _yaml_syntax_problem(error: yaml.YAMLError) -> ConfigProblem:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    line = mark.line + 1 if mark is not None else None
    parts = [
        getattr(error, "context", None),
        getattr(error, "problem", None),
    ]
    text = "; ".join(str(part) for part in parts if part) or str(error).splitlines()[0]
    if isinstance(error, yaml.constructor.ConstructorError):
        if "tag" in text:
            text += "; only plain values are allowed, remove the tag"
        return ConfigProblem(line, "<document>", f"YAML value error: {text}")
    return ConfigProblem(
        line, "<document>", f"YAML syntax error: {text} (check indentation, colons and quotes)"
    )


def _load_yaml(text: str) -> tuple[Any, dict[Path, int]]:
    loader = _ConfigYamlLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        builder = _YamlBuilder(loader)
        data = builder.build(node, ())
    except yaml.YAMLError as error:
        raise InvalidConfig([_yaml_syntax_problem(error)]) from error
    finally:
        loader.dispose()
    if builder.problems:
        raise InvalidConfig(builder.problems)
    return data, builder.lines


_PLAIN_COLLECTION_TAGS = frozenset({"tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"})


class _YamlBuilder:
    """Turns a composed YAML node graph into plain values and a path->line table."""

    def __init__(self, loader: _ConfigYamlLoader) -> None:
        self.loader = loader
        self.lines: dict[Path, int] = {}
        self.problems: list[ConfigProblem] = []
        self.count = 0
        self.active: set[int] = set()

    def build(self, node: yaml.Node, path: Path) -> Any:
        self.count += 1
        if self.count > MAX_VALUES:
            raise _too_many(node)
        self.lines.setdefault(path, node.start_mark.line + 1)
        if id(node) in self.active:
            self.problems.append(
                ConfigProblem(
                    node.start_mark.line + 1,
                    format_path(path),
                    "an alias refers to a value that contains it; remove the recursive alias",
                )
            )
            return None
        if isinstance(node, yaml.ScalarNode):
            return self.loader.construct_object(node, deep=True)
        if node.tag not in _PLAIN_COLLECTION_TAGS:
            raise yaml.constructor.ConstructorError(
                None, None, f"unsupported tag {node.tag!r}", node.start_mark
            )
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self.build(item, (*path, index)) for index, item in enumerate(node.value)]
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path)
        finally:
            self.active.discard(id(node))
        raise yaml.constructor.ConstructorError(
            None, None, f"unsupported YAML node {node.tag}", node.start_mark
        )

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict[Any, Any]:
        self.loader.flatten_mapping(node)  # applies `<<` merge keys like the safe loader does
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                self.problems.append(
                    ConfigProblem(
                        line, format_path(path), "a key must be plain text, not a list or mapping"
                    )
                )
                continue
            key = self.loader.construct_object(key_node, deep=True)
            if key is None:
                key = "null"
            elif not isinstance(key, str | int):
                key = str(key)  # e.g. a YAML date used as a key; keys are names, keep the text
            child: Path = (*path, key)
            if key in result:
                self.problems.append(
                    ConfigProblem(
                        line,
                        format_path(child),
                        f"key {key!r} appears twice in this mapping (first on line "
                        f"{self.lines.get(child, '?')}); keep one",
                    )
                )
                continue
            self.lines[child] = line
            result[key] = self.build(value_node, child)
            self.lines[child] = line  # the key's line, even when the value starts lower
        return result


def _too_many(node: yaml.Node) -> yaml.YAMLError:
    return yaml.constructor.ConstructorError(
        None,
        None,
        f"the document expands to more than {MAX_VALUES} values (aliases included); "
        "remove repeated aliases",
        node.start_mark,
    )


# --- TOML -------------------------------------------------------------------------------------

_TOML_POSITION = re.compile(r"\(at line (\d+), column \d+\)")


def _load_toml(text: str) -> tuple[Any, dict[Path, int]]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        found = _TOML_POSITION.search(message)
        line = int(found.group(1)) if found else None
        what = _TOML_POSITION.sub("", message).strip()
        raise InvalidConfig(
            [ConfigProblem(line, "<document>", f"TOML syntax error: {what}")]
        ) from error
    scanner = _TomlLineScanner(text)
    # The text is valid TOML (tomllib said so); a construct the scanner does not follow only
    # costs line precision: the parents' lines still apply.
    with contextlib.suppress(IndexError, ValueError):
        scanner.run()
    return data, scanner.lines


class _TomlLineScanner:
    """Finds the start line of every table, key and array item of a valid TOML text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.line = 1
        self.lines: dict[Path, int] = {(): 1}
        self.table_arrays: dict[Path, int] = {}  # path of an array of tables -> last index

    def run(self) -> None:
        table: Path = ()
        while True:
            self._skip_blank(newlines=True)
            if self.pos >= len(self.text):
                return
            if self.text[self.pos] == "[":
                table = self._header()
            else:
                self._key_value(table)

    def _peek(self, offset: int = 0) -> str:
        index = self.pos + offset
        return self.text[index] if index < len(self.text) else ""

    def _advance(self, count: int = 1) -> None:
        chunk = self.text[self.pos : self.pos + count]
        self.line += chunk.count("\n")
        self.pos += count

    def _skip_blank(self, *, newlines: bool) -> None:
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char in " \t\r" or (newlines and char == "\n"):
                self._advance()
            elif char == "#":
                end = self.text.find("\n", self.pos)
                self.pos = len(self.text) if end < 0 else end
            else:
                return

    def _record(self, path: Path, line: int) -> None:
        self.lines.setdefault(path, line)

    def _header(self) -> Path:
        line = self.line
        is_array = self._peek(1) == "["
        self._advance(2 if is_array else 1)
        keys = self._key()
        self._advance(2 if is_array else 1)
        resolved: Path = ()
        for index, key in enumerate(keys):
            resolved = (*resolved, key)
            last = index == len(keys) - 1
            if last and is_array:
                number = self.table_arrays.get(resolved, -1) + 1
                self.table_arrays[resolved] = number
                self._record(resolved, line)
                resolved = (*resolved, number)
                self.lines[resolved] = line
            else:
                self._record(resolved, line)
                if not last and resolved in self.table_arrays:
                    resolved = (*resolved, self.table_arrays[resolved])
        self.lines[resolved] = line
        return resolved

    def _key(self) -> list[str]:
        keys: list[str] = []
        while True:
            self._skip_blank(newlines=False)
            char = self._peek()
            if char in "\"'":
                keys.append(self._string())
            else:
                start = self.pos
                while self._peek() and (self._peek().isalnum() or self._peek() in "_-"):
                    self._advance()
                if self.pos == start:
                    raise ValueError("expected a key")
                keys.append(self.text[start : self.pos])
            self._skip_blank(newlines=False)
            if self._peek() != ".":
                return keys
            self._advance()

    def _key_value(self, table: Path) -> None:
        line = self.line
        keys = self._key()
        if self._peek() != "=":
            raise ValueError("expected '='")
        self._advance()
        path = table
        for key in keys:
            path = (*path, key)
            self._record(path, line)
        self._skip_blank(newlines=False)
        self._value(path)

    def _value(self, path: Path) -> None:
        char = self._peek()
        if char == "[":
            self._array(path)
        elif char == "{":
            self._inline_table(path)
        elif char in "\"'":
            self._string()
        else:
            while self._peek() and self._peek() not in ",]}\n#":
                self._advance()

    def _array(self, path: Path) -> None:
        self._advance()
        index = 0
        while True:
            self._skip_blank(newlines=True)
            if self._peek() in ("]", ""):
                self._advance()
                return
            self._record((*path, index), self.line)
            self._value((*path, index))
            index += 1
            self._skip_blank(newlines=True)
            if self._peek() == ",":
                self._advance()

    def _inline_table(self, path: Path) -> None:
        self._advance()
        while True:
            self._skip_blank(newlines=True)
            if self._peek() in ("}", ""):
                self._advance()
                return
            self._key_value(path)
            self._skip_blank(newlines=True)
            if self._peek() == ",":
                self._advance()

    def _string(self) -> str:
        quote = self._peek()
        if self._peek(1) == quote and self._peek(2) == quote:
            self._advance(3)
            end = self.text.find(quote * 3, self.pos)
            if end < 0:
                raise ValueError("unterminated string")
            while self.text[end + 3 : end + 4] == quote:  # up to two quotes may end the content
                end += 1
            content = self.text[self.pos : end]
            self._advance(end + 3 - self.pos)
            return content
        self._advance()
        start = self.pos
        while self._peek() and self._peek() != quote:
            if quote == '"' and self._peek() == "\\":
                self._advance()
            self._advance()
        content = self.text[start : self.pos]
        self._advance()
        if quote == '"' and "\\" in content:
            # Keys with escapes are rare; decode them the way TOML does to match tomllib's keys.
            content = tomllib.loads(f'k = "{content}"')["k"]
        return content
