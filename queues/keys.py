"""Every Redis key name of the queues, for Python and (generated from the same table) for Lua.

Layout, for tenant `acme` (the hash tag is the part in braces)::

    tr:{acme}:tickets                            HASH  ticket id -> ticket record (JSON)
    tr:{acme}:agents                             HASH  agent id  -> agent record (JSON)
    tr:{acme}:queues                             HASH  queue     -> queue config (JSON)
    tr:{acme}:offers                             ZSET  ticket id by offer expiry (ms)
    tr:{acme}:finished                           ZSET  ticket id by completion/cancel time (ms)
    tr:{acme}:events                             STREAM the outbox (see queues/events.py)
    tr:{acme}:holdings                           ZSET  "agent\0ticket" for every open offer and
                                                       assignment, score 0: an agent's tickets
                                                       are one lexicographic range, and its
                                                       record stays small however loaded it is
    tr:{acme}:sla_checks                         ZSET  unanswered ticket id by when its SLA risk
                                                       is next due to be checked (ms); a sweep
                                                       claims due ones by moving them forward
    tr:{acme}:q:<queue>:waiting                  ZSET  waiting tickets, all score 0, ordered by
                                                       member "priority|front|deadline|arrival|id"
    tr:{acme}:q:<queue>:arrivals                 ZSET  waiting ticket id by enqueue time (ms)
    tr:{acme}:q:<queue>:agents                   ZSET  member agents by state code (0 free,
                                                       1 full, 2 away, 3 offline)
    tr:{acme}:q:<queue>:free:<channel>           ZSET  agents available with free capacity on
                                                       the channel, by the queue's policy score
    tr:{acme}:q:<queue>:free:<channel>:<skill>:<level>
                                                 ZSET  the same, restricted to agents whose
                                                       skill is exactly <level> (layout 1, until
                                                       2026-12: at least <level>)
    tr:{acme}:q:<queue>:at_risk                  SET   unanswered tickets of the queue flagged
                                                       at risk of missing their SLA
    tr:{acme}:index_layout                       STRING version of the agent index layout,
                                                       set once every agent is indexed in it

Redis Cluster and agents shared across queues. A Lua script is atomic only over keys of one
hash slot. One assignment reads the queue's waiting tickets *and* changes the chosen agent's
load, which is visible in every other queue that agent serves (its index entries there move or
disappear). With a `{queue}` hash tag per queue, an agent serving two queues would put one
assignment across two slots (CROSSSLOT). So the hash tag is the **tenant**: the set of queues
that share agents (a company, or an independent team of one). A queue's keys still share one
slot, as do its agents, and every script stays atomic in Cluster. The trade-off: one tenant's
routing runs on one shard (one Redis core: thousands of assignments per second, see
benchmarks/assignment.py); a Cluster scales by spreading *tenants* over shards, not one
tenant's queues. An agent working for two tenants is two agent records with split capacity.
A deployment whose queues never share agents can give each queue its own tenant and get true
per-queue slots.

Scripts receive the eight tenant keys as KEYS[1..8] (same order everywhere, `TENANT_KEYS`) and
the key prefix as ARGV[1]. Keys that a script only learns while it runs (the indexes of the
agent it picked, the queue of a ticket it hands back) are derived inside the script by the
`key_*` Lua functions rendered from `DERIVED_KEYS` below, so Python and Lua cannot drift; they
carry the same hash tag, hence the same slot as the declared keys.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

KEY_ROOT = "tr"
"""First segment of every ticket-router key, so a shared Redis shows whose keys they are."""

DEFAULT_TENANT = "default"
"""Tenant (hash tag) used when the router serves one organisation."""

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
"""Tenant, queue, channel and skill names: they appear inside key names, so no braces/colons."""

TENANT_KEYS = (
    "tickets", "agents", "queues", "offers", "finished", "events", "holdings", "sla_checks"
)
"""The keys every script receives as KEYS[1..8], in this order."""

DERIVED_KEYS: dict[str, tuple[str, ...]] = {
    # name: key segments after the prefix; <...> segments are the function's parameters.
    "waiting": ("q", "<queue>", "waiting"),
    "arrivals": ("q", "<queue>", "arrivals"),
    "members": ("q", "<queue>", "agents"),
    "free": ("q", "<queue>", "free", "<channel>"),
    "skilled": ("q", "<queue>", "free", "<channel>", "<skill>", "<level>"),
    "at_risk": ("q", "<queue>", "at_risk"),
    "index_layout": ("index_layout",),
}
"""Derived keys, rendered to Python (`Keys.derived`) and Lua (`lua_key_functions`)."""


def check_name(value: str, field: str) -> str:
    """Return `value` if it is a valid tenant/queue/channel/skill name.

    Raises:
        InvalidArgument: empty, too long, or with characters other than letters, digits, `_.-`.
    """
    from router.errors import InvalidArgument

    if not isinstance(value, str) or not NAME_PATTERN.match(value):
        raise InvalidArgument(
            f"{value!r} is not a valid name: use 1-64 letters, digits, '_', '.' or '-'"
            " starting with a letter or digit",
            field=field,
        )
    return value


def _parameters(segments: tuple[str, ...]) -> list[str]:
    return [segment[1:-1] for segment in segments if segment.startswith("<")]


@dataclass(frozen=True, slots=True)
class Keys:
    """Key names of one tenant.

    Args:
        tenant: the hash tag; every key of the tenant lives in one Cluster slot.
    """

    tenant: str = DEFAULT_TENANT

    def __post_init__(self) -> None:
        check_name(self.tenant, "tenant")

    @property
    def prefix(self) -> str:
        """`tr:{tenant}:`, passed to every script as ARGV[1]."""
        return f"{KEY_ROOT}:{{{self.tenant}}}:"

    @property
    def tenant_keys(self) -> list[str]:
        """KEYS[1..8] of every script."""
        return [self.prefix + name for name in TENANT_KEYS]

    @property
    def tickets(self) -> str:
        return self.prefix + "tickets"

    @property
    def agents(self) -> str:
        return self.prefix + "agents"

    @property
    def queues(self) -> str:
        return self.prefix + "queues"

    @property
    def offers(self) -> str:
        return self.prefix + "offers"

    @property
    def finished(self) -> str:
        return self.prefix + "finished"

    @property
    def events(self) -> str:
        return self.prefix + "events"

    @property
    def holdings(self) -> str:
        return self.prefix + "holdings"

    @property
    def sla_checks(self) -> str:
        return self.prefix + "sla_checks"

    def history_writer(self, database: str) -> str:
        """Lease of the one router process that drains the tenant's events into the history
        database `database` (its URL; routers writing to other databases hold their own)."""
        digest = hashlib.sha256(database.encode()).hexdigest()[:16]
        return f"{self.prefix}history_writer:{digest}"

    def derived(self, name: str, **parts: str | int) -> str:
        """A per-queue key, e.g. `derived("waiting", queue="billing")`."""
        segments = DERIVED_KEYS[name]
        expected = _parameters(segments)
        if sorted(parts) != sorted(expected):
            raise TypeError(f"key {name!r} takes {expected}, got {sorted(parts)}")
        rendered = [str(parts[s[1:-1]]) if s.startswith("<") else s for s in segments]
        return self.prefix + ":".join(rendered)


NUMBER_PARTS = frozenset({"level"})
"""Derived-key parameters that are numbers (skill levels), turned into text by `level_text`."""

_LUA_LEVEL_TEXT = """
-- A whole number 0-9 as text with string.char: Lua's own number-to-text is sprintf, which the
-- agent index keys of every offer would pay for a few dozen times.
local function level_text(n)
  if n >= 0 and n <= 9 and n % 1 == 0 then return string.char(48 + n) end
  return n
end"""


def lua_key_functions() -> str:
    """Lua source defining `key_<name>(...)` for every derived key, built on the local `PFX`."""
    lines = [_LUA_LEVEL_TEXT]
    for name, segments in DERIVED_KEYS.items():
        parts = [
            (f"level_text({s[1:-1]})" if s[1:-1] in NUMBER_PARTS else s[1:-1])
            if s.startswith("<") else f'"{s}"'
            for s in segments
        ]
        body = "PFX .. " + ' .. ":" .. '.join(parts)
        arguments = ", ".join(_parameters(segments))
        lines.append(f"local function key_{name}({arguments}) return {body} end")
    return "\n".join(lines)
