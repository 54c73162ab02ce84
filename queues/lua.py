"""The Lua scripts: read once from queues/scripts/*.lua, each prefixed with the shared prelude."""

from __future__ import annotations

from functools import cache
from importlib import resources

from queues.keys import lua_key_functions

PRELUDE = "_prelude.lua"
"""Helpers shared by every script; `--@KEY_FUNCTIONS@` marks where the key functions (and the
constants shared with Python) go."""

KEY_FUNCTIONS_MARK = "--@KEY_FUNCTIONS@"


@cache
def script_sources() -> dict[str, str]:
    """Script name (file name without `.lua`) -> full source, prelude included."""
    folder = resources.files("queues") / "scripts"
    prelude = (folder / PRELUDE).read_text(encoding="utf-8")
    from queues.operations import MAX_SKILL_LEVEL

    constants = f"local MAX_SKILL_LEVEL = {MAX_SKILL_LEVEL}"
    prelude = prelude.replace(KEY_FUNCTIONS_MARK, f"{lua_key_functions()}\n{constants}")
    sources = {}
    for entry in folder.iterdir():
        if entry.name.endswith(".lua") and entry.name != PRELUDE:
            body = entry.read_text(encoding="utf-8")
            sources[entry.name.removesuffix(".lua")] = f"{prelude}\n-- {entry.name}\n{body}"
    return sources
