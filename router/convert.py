"""Conversions between the gRPC messages and the domain objects, in one place."""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from queues.events import Event
from queues.models import AgentStatus, Offer, TicketStatus
from router.api.ticket_router.v1 import agent_service_pb2 as agent_pb
from router.api.ticket_router.v1 import ticket_pb2 as pb
from router.errors import InvalidArgument

CHANNEL_NAMES = {
    pb.CHANNEL_EMAIL: "email",
    pb.CHANNEL_CHAT: "chat",
    pb.CHANNEL_PHONE: "phone",
    pb.CHANNEL_WEB: "web",
}
CHANNEL_VALUES = {name: value for value, name in CHANNEL_NAMES.items()}

PRIORITY_NAMES = {
    pb.PRIORITY_P1: "P1",
    pb.PRIORITY_P2: "P2",
    pb.PRIORITY_P3: "P3",
    pb.PRIORITY_P4: "P4",
}
PRIORITY_VALUES = {name: value for value, name in PRIORITY_NAMES.items()}

STATE_BY_STATUS = {
    TicketStatus.WAITING: pb.TICKET_STATE_WAITING,
    TicketStatus.OFFERED: pb.TICKET_STATE_OFFERED,
    TicketStatus.ASSIGNED: pb.TICKET_STATE_ASSIGNED,
    TicketStatus.COMPLETED: pb.TICKET_STATE_RESOLVED,
    TicketStatus.CANCELLED: pb.TICKET_STATE_CANCELLED,
}

AGENT_STATUS_VALUES = {
    AgentStatus.AVAILABLE: agent_pb.AGENT_STATUS_AVAILABLE,
    AgentStatus.AWAY: agent_pb.AGENT_STATUS_AWAY,
    AgentStatus.OFFLINE: agent_pb.AGENT_STATUS_OFFLINE,
}
AGENT_STATUS_NAMES = {value: name for name, value in AGENT_STATUS_VALUES.items()}

REASON_VALUES = {
    "rule": pb.ROUTING_REASON_RULE,
    "category_map": pb.ROUTING_REASON_CATEGORY_MAP,
    "triage": pb.ROUTING_REASON_TRIAGE,
    "default": pb.ROUTING_REASON_DEFAULT,
}


def channel_name(value: int, *, field: str = "ticket.channel") -> str:
    """The queue-side channel name of a proto `Channel`.

    Raises:
        InvalidArgument: unspecified or unknown.
    """
    name = CHANNEL_NAMES.get(value)  # type: ignore[call-overload]
    if name is None:
        allowed = ", ".join(pb.Channel.Name(v) for v in CHANNEL_NAMES)
        raise InvalidArgument(f"set a channel: one of {allowed}", field=field)
    return name


def priority_value(name: str | int) -> int:
    """The proto `Priority` of "P1".."P4" or a queue priority 1..4 (others: unspecified)."""
    if isinstance(name, int):
        return name if name in PRIORITY_NAMES else pb.PRIORITY_UNSPECIFIED
    return PRIORITY_VALUES.get(name, pb.PRIORITY_UNSPECIFIED)


def ticket_fields(ticket: pb.Ticket) -> dict[str, Any]:
    """A ticket's content as plain values (channel by name, times aware), id excluded."""
    return {
        "subject": ticket.subject,
        "body": ticket.body,
        "channel": CHANNEL_NAMES.get(ticket.channel, ""),  # type: ignore[call-overload]
        "customer_id": ticket.customer_id,
        "customer_tier": ticket.customer_tier,
        "product": ticket.product,
        "language": ticket.language,
        "created_at": aware(ticket.created_at),
        "attributes": dict(ticket.attributes),
    }


def timestamp(seconds: float | None) -> Timestamp | None:
    """A protobuf Timestamp from seconds since the epoch (None stays None)."""
    if seconds is None:
        return None
    stamp = Timestamp()
    stamp.FromNanoseconds(int(seconds * 1e9))
    return stamp


def aware(stamp: Timestamp) -> datetime | None:
    """A UTC datetime from a Timestamp, None when unset."""
    if not stamp.seconds and not stamp.nanos:
        return None
    return stamp.ToDatetime(tzinfo=UTC)


PACK_COMPRESS_BYTES = 1024
"""Messages at least this long are deflated by `pack`; shorter ones (most tickets, every
score and decision) gain little from it and deflating them costs more than the rest of
packing (~11 us a message, mostly zlib's set-up)."""

_STORED = "~"
"""Marks a packed message stored without deflate (not a base64 character, so records
packed before it, all deflated, read as they did)."""


def pack(message: Message) -> str:
    """A compact text form of a message, for JSON records in Redis."""
    raw = message.SerializeToString()
    if len(raw) < PACK_COMPRESS_BYTES:
        return _STORED + base64.b64encode(raw).decode()
    return base64.b64encode(zlib.compress(raw, 6)).decode()


def unpack(text: str, message: Message) -> Message:
    """The inverse of `pack`, parsed into `message`."""
    if text.startswith(_STORED):
        message.ParseFromString(base64.b64decode(text[1:]))
    else:
        message.ParseFromString(zlib.decompress(base64.b64decode(text)))
    return message


def stored_submission(
    data: Mapping[str, Any],
) -> tuple[pb.Ticket, pb.Scores, pb.RoutingDecision]:
    """The ticket, its scores and its routing decision, as a submission keeps them in its queue
    record's data (`RouterApp.submit`)."""
    return (
        unpack(data["ticket"], pb.Ticket()),  # type: ignore[return-value]
        unpack(data["scores"], pb.Scores()),
        unpack(data["decision"], pb.RoutingDecision()),
    )


def event_message(event: Event) -> pb.Event:
    """A history or stream event as its proto message."""
    return pb.Event(
        event_id=event.event_id,
        type=event.type,
        ticket_id=event.ticket_id,
        queue=event.queue,
        agent_id=event.agent_id or "",
        time=timestamp(event.ts),
        data={key: str(value) for key, value in event.data.items()},
    )


def offer_message(offer: Offer, ticket: pb.Ticket | None) -> agent_pb.Offer:
    """An offer as the agent's desktop sees it; `offer_id` is ticket id + offer time."""
    return agent_pb.Offer(
        offer_id=offer_id(offer),
        ticket=ticket,
        agent_id=offer.agent_id,
        queue=offer.queue,
        priority=priority_value(offer.priority),
        offered_at=timestamp(offer.offered_at),
        expires_at=timestamp(offer.expires_at),
    )


def offer_id(offer: Offer) -> str:
    """A stable id of one offer of a ticket (each re-offer gets a new one: a later expiry)."""
    return offer_id_of(offer.ticket_id, offer.expires_at)


def offer_id_of(ticket_id: str, expires_at: float) -> str:
    """The offer id of the ticket's offer that expires at `expires_at`."""
    return f"{ticket_id}@{round(expires_at * 1000)}"


def string_map(values: Mapping[str, Any]) -> dict[str, str]:
    """A mapping for a proto `map<string, string>`: strings as they are, other values as JSON
    (`true`, `3`, `{"a": 1}`), which any client can read back."""
    return {str(key): value if isinstance(value, str) else json.dumps(value, default=str)
            for key, value in values.items()}
