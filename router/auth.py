"""API keys with roles, and which role may call which RPC.

Keys live in a TOML or YAML file (`api_keys_file` setting)::

    [[keys]]
    name = "helpdesk"
    sha256 = "9f86d08..."        # or: key = "plain-text key" (for local set-ups only)
    role = "submitter"

    [[keys]]
    name = "alice-desktop"
    key = "..."
    role = "agent"
    agent_id = "alice"           # an agent key acts only on this agent's offers

Callers send `authorization: Bearer <key>` (or `x-api-key: <key>`) metadata. Keys are
compared by SHA-256 digest in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import yaml

from router.errors import InvalidArgument, PermissionDenied, Unauthenticated


class Role(StrEnum):
    """What a key may do; `admin` may do everything."""

    SUBMITTER = "submitter"
    AGENT = "agent"
    LEAD = "lead"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller of one RPC."""

    name: str
    role: Role
    agent_id: str | None = None

    def require_agent(self, agent_id: str) -> None:
        """Agents act only on their own offers; other roles pass.

        Raises:
            PermissionDenied: an agent key names another agent.
        """
        if self.role is Role.AGENT and self.agent_id != agent_id:
            raise PermissionDenied(
                f"key {self.name!r} belongs to agent {self.agent_id!r} and may not act for "
                f"agent {agent_id!r}"
            )


ANONYMOUS_ADMIN = Principal(name="anonymous", role=Role.ADMIN)
"""The principal of every call when auth is off (loopback-only deployments)."""

OPEN_SERVICES = ("/grpc.health.v1.Health/", "/grpc.reflection.")
"""Method prefixes anyone may call: health checks and reflection."""


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


class KeyRing:
    """The configured API keys, looked up by digest."""

    def __init__(self, principals_by_digest: Mapping[bytes, Principal]) -> None:
        self._principals = dict(principals_by_digest)

    def __len__(self) -> int:
        return len(self._principals)

    @classmethod
    def from_entries(cls, entries: Sequence[Mapping[str, object]]) -> KeyRing:
        """Build from `[{name, role, key | sha256, agent_id?}, ...]`.

        Raises:
            InvalidArgument: an entry lacks a field or names an unknown role.
        """
        principals: dict[bytes, Principal] = {}
        for index, entry in enumerate(entries):
            where = f"keys[{index}]"
            try:
                role = Role(str(entry.get("role", "")))
            except ValueError:
                allowed = ", ".join(r.value for r in Role)
                raise InvalidArgument(
                    f"{where}: role must be one of {allowed}", field="role"
                ) from None
            if "sha256" in entry:
                digest = bytes.fromhex(str(entry["sha256"]))
            elif "key" in entry:
                digest = _digest(str(entry["key"]))
            else:
                raise InvalidArgument(f"{where}: give `key` or `sha256`", field="key")
            agent_id = entry.get("agent_id")
            if role is Role.AGENT and not agent_id:
                raise InvalidArgument(f"{where}: an agent key needs `agent_id`", field="agent_id")
            name = str(entry.get("name") or f"key-{index}")
            principals[digest] = Principal(name, role, str(agent_id) if agent_id else None)
        return cls(principals)

    @classmethod
    def from_file(cls, path: Path) -> KeyRing:
        """Load keys from a TOML (`.toml`) or YAML file."""
        text = path.read_text()
        document = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise InvalidArgument(f"{path}: expected a top-level `keys` list", field="keys")
        return cls.from_entries(document["keys"])

    def authenticate(self, metadata: Sequence[tuple[str, str | bytes]]) -> Principal:
        """The principal whose key the call carries.

        Raises:
            Unauthenticated: no key, or a key that is not configured.
        """
        key = None
        for name, value in metadata:
            text = value.decode() if isinstance(value, bytes) else value
            if name == "authorization" and text.lower().startswith("bearer "):
                key = text[7:].strip()
            elif name == "x-api-key":
                key = text.strip()
        if not key:
            raise Unauthenticated("send an API key as `authorization: Bearer <key>` metadata")
        digest = _digest(key)
        for known, principal in self._principals.items():
            if hmac.compare_digest(known, digest):
                return principal
        raise Unauthenticated("unknown API key")


ROLES_BY_METHOD: dict[str, frozenset[Role]] = {}
"""Full method name -> roles allowed besides admin; filled by `allow`."""


def allow(service: str, methods: Sequence[str], *roles: Role) -> None:
    """Let `roles` call `methods` of `service` (e.g. "ticket_router.v1.TicketService")."""
    for method in methods:
        ROLES_BY_METHOD[f"/{service}/{method}"] = frozenset(roles)


def authorize(principal: Principal, method: str) -> None:
    """Check that the principal's role may call `method`.

    Raises:
        PermissionDenied: it may not; the message names the roles that may.
    """
    if principal.role is Role.ADMIN or method.startswith(OPEN_SERVICES):
        return
    allowed = ROLES_BY_METHOD.get(method, frozenset())
    if principal.role not in allowed:
        names = ", ".join(sorted(r.value for r in allowed | {Role.ADMIN}))
        raise PermissionDenied(
            f"role {principal.role.value!r} may not call {method}; allowed: {names}"
        )


_TICKETS = "ticket_router.v1.TicketService"
_AGENTS = "ticket_router.v1.AgentService"
_QUEUES = "ticket_router.v1.QueueService"
_RULES = "ticket_router.v1.RuleService"
_ALL = (Role.SUBMITTER, Role.AGENT, Role.LEAD)

allow(_TICKETS, ["SubmitTicket", "CancelTicket"], Role.SUBMITTER, Role.LEAD)
allow(_TICKETS, ["TransferTicket"], Role.SUBMITTER, Role.LEAD, Role.AGENT)  # agent: its own
allow(_TICKETS, ["ScoreTicket", "GetTicket"], *_ALL)
allow(_TICKETS, ["RecordFirstResponse", "ResolveTicket"], Role.SUBMITTER, Role.AGENT)
allow(_AGENTS, ["UpsertAgent"], Role.LEAD)
allow(_AGENTS, ["SetAgentStatus"], Role.AGENT, Role.LEAD)  # a lead: e.g. an agent left
allow(_AGENTS, ["StreamOffers", "AcceptOffer", "RejectOffer"], Role.AGENT)
allow(_QUEUES, ["ListQueues", "GetQueueStats"], *_ALL)
allow(_RULES, ["GetRules", "ValidateRules", "ExplainRouting", "SimulateRules"], Role.LEAD)
allow(_RULES, ["PublishRules"], Role.LEAD)
