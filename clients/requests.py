"""Building the requests the clients send (shared by the sync and asyncio clients)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp

from router.api.ticket_router.v1 import agent_service_pb2 as agents_pb
from router.api.ticket_router.v1 import ticket_pb2 as pb

CHANNELS = {
    "email": pb.CHANNEL_EMAIL,
    "chat": pb.CHANNEL_CHAT,
    "phone": pb.CHANNEL_PHONE,
    "web": pb.CHANNEL_WEB,
}
STATUSES = {
    "available": agents_pb.AGENT_STATUS_AVAILABLE,
    "away": agents_pb.AGENT_STATUS_AWAY,
    "offline": agents_pb.AGENT_STATUS_OFFLINE,
}


def make_ticket(
    ticket_id: str,
    subject: str,
    body: str = "",
    *,
    channel: str = "email",
    customer_id: str = "",
    customer_tier: str = "",
    product: str = "",
    language: str = "",
    created_at: datetime | None = None,
    attributes: Mapping[str, str] | None = None,
) -> pb.Ticket:
    """A `Ticket` message from plain values (`channel` by name: email, chat, phone, web)."""
    ticket = pb.Ticket(
        id=ticket_id,
        subject=subject,
        body=body,
        channel=CHANNELS.get(channel, pb.CHANNEL_UNSPECIFIED),
        customer_id=customer_id,
        customer_tier=customer_tier,
        product=product,
        language=language,
        attributes=dict(attributes or {}),
    )
    if created_at is not None:
        stamp = Timestamp()
        stamp.FromDatetime(created_at)
        ticket.created_at.CopyFrom(stamp)
    return ticket


def make_agent(
    agent_id: str,
    queues: list[str],
    capacity: Mapping[str, int],
    skills: Mapping[str, int] | None = None,
    *,
    status: str = "available",
    display_name: str = "",
) -> agents_pb.Agent:
    """An `Agent` message from plain values (`status` by name)."""
    return agents_pb.Agent(
        id=agent_id,
        display_name=display_name,
        queues=queues,
        capacity=dict(capacity),
        skills=dict(skills or {}),
        status=STATUSES[status],
    )
