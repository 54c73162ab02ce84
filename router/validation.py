"""Checks on request fields, with errors that name the field and say what to fix."""

from __future__ import annotations

import re

from queues.operations import MAX_NOTE_CHARS
from router.api.ticket_router.v1 import agent_service_pb2 as agent_pb
from router.api.ticket_router.v1 import ticket_pb2 as pb
from router.convert import CHANNEL_VALUES, channel_name
from router.errors import InvalidArgument

ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@/-]{0,127}$")
"""Ticket and agent ids: 1-128 characters, letters, digits and `_.:@/-`."""

MAX_SUBJECT_CHARS = 1_000
MAX_ATTRIBUTES = 64
MAX_ATTRIBUTE_CHARS = 1_000
MAX_SKILL_LEVEL = 10


def check_id(value: str, field: str) -> str:
    """Return the id if well formed.

    Raises:
        InvalidArgument: empty, too long or with characters outside `[A-Za-z0-9_.:@/-]`.
    """
    if not value:
        raise InvalidArgument("is required", field=field)
    if not ID_PATTERN.match(value):
        raise InvalidArgument(
            "use 1-128 characters: letters, digits and _.:@/- (starting with a letter or digit)",
            field=field,
        )
    return value


def check_note(value: str, field: str) -> str | None:
    """Return a caller's free text kept in the event history, or None when empty.

    Raises:
        InvalidArgument: longer than `MAX_NOTE_CHARS`.
    """
    if len(value) > MAX_NOTE_CHARS:
        raise InvalidArgument(
            f"is {len(value)} characters; the limit is {MAX_NOTE_CHARS}", field=field
        )
    return value or None


def check_ticket(ticket: pb.Ticket, *, max_body_chars: int, require_id: bool = True) -> None:
    """Validate a submitted ticket.

    Raises:
        InvalidArgument: naming the first field at fault.
    """
    if require_id:
        check_id(ticket.id, "ticket.id")
    if not ticket.subject.strip() and not ticket.body.strip():
        raise InvalidArgument("give a subject or a body (both are empty)", field="ticket.body")
    if len(ticket.subject) > MAX_SUBJECT_CHARS:
        raise InvalidArgument(
            f"is {len(ticket.subject)} characters; the limit is {MAX_SUBJECT_CHARS}",
            field="ticket.subject",
        )
    if len(ticket.body) > max_body_chars:
        raise InvalidArgument(
            f"is {len(ticket.body)} characters; the limit is {max_body_chars}: truncate it or "
            "attach the rest elsewhere",
            field="ticket.body",
        )
    channel_name(ticket.channel)
    if len(ticket.attributes) > MAX_ATTRIBUTES:
        raise InvalidArgument(f"at most {MAX_ATTRIBUTES} attributes", field="ticket.attributes")
    for key, value in ticket.attributes.items():
        if not key or len(key) > 64 or len(value) > MAX_ATTRIBUTE_CHARS:
            raise InvalidArgument(
                f"attribute {key[:64]!r}: names 1-64 characters, values at most "
                f"{MAX_ATTRIBUTE_CHARS}",
                field="ticket.attributes",
            )


def check_agent(agent: agent_pb.Agent) -> None:
    """Validate an agent profile.

    Raises:
        InvalidArgument: naming the first field at fault.
    """
    check_id(agent.id, "agent.id")
    if not agent.queues:
        raise InvalidArgument("name at least one queue the agent serves", field="agent.queues")
    for skill, level in agent.skills.items():
        if not 1 <= level <= MAX_SKILL_LEVEL:
            raise InvalidArgument(
                f"skill {skill!r} has level {level}; use 1-{MAX_SKILL_LEVEL}", field="agent.skills"
            )
    if not agent.capacity or any(n < 0 for n in agent.capacity.values()):
        raise InvalidArgument(
            "give a capacity per channel, e.g. {email: 5, chat: 2}, none negative",
            field="agent.capacity",
        )
    unknown = sorted(set(agent.capacity) - set(CHANNEL_VALUES))
    if unknown:
        raise InvalidArgument(
            f"unknown channel {unknown[0]!r} in the capacity; channels are "
            f"{', '.join(CHANNEL_VALUES)}",
            field="agent.capacity",
        )
