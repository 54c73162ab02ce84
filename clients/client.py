"""Sync and asyncio clients of the ticket-router API, with deadlines and safe retries.

Every call takes `timeout` (seconds, the whole call including retries). Reads and idempotent
writes retry on UNAVAILABLE, and on RESOURCE_EXHAUSTED with a RetryInfo (see `clients.retry`);
the rest never retry.

    with RouterClient("127.0.0.1:50051", api_key="...") as router:
        response = router.submit_ticket(make_ticket("t-1", "Invoice is wrong"))
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from types import TracebackType
from typing import Any

import grpc

from clients.retry import call_with_retry, call_with_retry_async
from router.api.ticket_router.v1 import agent_service_pb2 as agents_pb
from router.api.ticket_router.v1 import agent_service_pb2_grpc as agents_grpc
from router.api.ticket_router.v1 import queue_service_pb2 as queues_pb
from router.api.ticket_router.v1 import queue_service_pb2_grpc as queues_grpc
from router.api.ticket_router.v1 import rule_service_pb2 as rules_pb
from router.api.ticket_router.v1 import rule_service_pb2_grpc as rules_grpc
from router.api.ticket_router.v1 import ticket_pb2 as pb
from router.api.ticket_router.v1 import ticket_service_pb2 as tickets_pb
from router.api.ticket_router.v1 import ticket_service_pb2_grpc as tickets_grpc

DEFAULT_TIMEOUT_S = 10.0
"""Overall deadline of a call when the caller gives none."""

_SERVICES = {
    "TicketService": tickets_grpc.TicketServiceStub,
    "AgentService": agents_grpc.AgentServiceStub,
    "QueueService": queues_grpc.QueueServiceStub,
    "RuleService": rules_grpc.RuleServiceStub,
}


def _metadata(api_key: str | None) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {api_key}"),) if api_key else ()


def _credentials(root_certificates: bytes | None) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(root_certificates=root_certificates)


class _Calls:
    """The requests of every RPC, shared by both clients: (service, method, request)."""

    @staticmethod
    def submit(ticket: pb.Ticket) -> tuple[str, str, Any]:
        return "TicketService", "SubmitTicket", tickets_pb.SubmitTicketRequest(ticket=ticket)


class RouterClient:
    """Blocking client.

    Args:
        target: "host:port" of a router.
        api_key: sent as `authorization: Bearer <key>`.
        tls: use TLS; `root_certificates` (PEM) to trust a private CA.
    """

    def __init__(
        self,
        target: str,
        *,
        api_key: str | None = None,
        tls: bool = False,
        root_certificates: bytes | None = None,
    ) -> None:
        self.channel = (
            grpc.secure_channel(target, _credentials(root_certificates))
            if tls
            else grpc.insecure_channel(target)
        )
        self._stubs = {name: stub(self.channel) for name, stub in _SERVICES.items()}
        self._metadata = _metadata(api_key)

    def call(self, service: str, method: str, request: Any, timeout: float | None = None) -> Any:
        """One unary RPC by name, with the retry policy its idempotency allows."""
        function = getattr(self._stubs[service], method)
        return call_with_retry(
            lambda t: function(request, timeout=t, metadata=self._metadata),
            f"/ticket_router.v1.{service}/{method}",
            timeout=timeout or DEFAULT_TIMEOUT_S,
        )

    def submit_ticket(
        self, ticket: pb.Ticket, *, timeout: float | None = None
    ) -> tickets_pb.SubmitTicketResponse:
        """Submit a ticket (idempotent on its id)."""
        return self.call(*_Calls.submit(ticket), timeout)  # type: ignore[no-any-return]

    def stream_offers(
        self, agent_id: str, *, resume_after: str = ""
    ) -> Iterator[agents_pb.StreamOffersResponse]:
        """The agent's offers as they come (cancel the iterator to stop)."""
        request = agents_pb.StreamOffersRequest(agent_id=agent_id, resume_after=resume_after)
        return self._stubs["AgentService"].StreamOffers(  # type: ignore[no-any-return]
            request, metadata=self._metadata
        )

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> RouterClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class AsyncRouterClient:
    """asyncio client; same arguments as `RouterClient`."""

    def __init__(
        self,
        target: str,
        *,
        api_key: str | None = None,
        tls: bool = False,
        root_certificates: bytes | None = None,
    ) -> None:
        self.channel = (
            grpc.aio.secure_channel(target, _credentials(root_certificates))
            if tls
            else grpc.aio.insecure_channel(target)
        )
        self._stubs = {name: stub(self.channel) for name, stub in _SERVICES.items()}
        self._metadata = _metadata(api_key)

    async def call(
        self, service: str, method: str, request: Any, timeout: float | None = None
    ) -> Any:
        """One unary RPC by name, with the retry policy its idempotency allows."""
        function = getattr(self._stubs[service], method)
        return await call_with_retry_async(
            lambda t: function(request, timeout=t, metadata=self._metadata),
            f"/ticket_router.v1.{service}/{method}",
            timeout=timeout or DEFAULT_TIMEOUT_S,
        )

    async def submit_ticket(
        self, ticket: pb.Ticket, *, timeout: float | None = None
    ) -> tickets_pb.SubmitTicketResponse:
        """Submit a ticket (idempotent on its id)."""
        return await self.call(*_Calls.submit(ticket), timeout)  # type: ignore[no-any-return]

    def stream_offers(
        self, agent_id: str, *, resume_after: str = ""
    ) -> AsyncIterator[agents_pb.StreamOffersResponse]:
        """The agent's offers as they come."""
        request = agents_pb.StreamOffersRequest(agent_id=agent_id, resume_after=resume_after)
        return self._stubs["AgentService"].StreamOffers(  # type: ignore[no-any-return]
            request, metadata=self._metadata
        )

    async def close(self) -> None:
        await self.channel.close()

    async def __aenter__(self) -> AsyncRouterClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()


__all__ = ["AsyncRouterClient", "RouterClient", "agents_pb", "queues_pb", "rules_pb", "tickets_pb"]
