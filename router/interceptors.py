"""The server interceptor that authenticates each call and maps domain errors to statuses.

Handlers read the caller with `current_principal()` and raise `router.errors` exceptions;
this is the only place that turns them into gRPC statuses (through `router.status`).
"""

from __future__ import annotations

import contextvars
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

from router.auth import ANONYMOUS_ADMIN, OPEN_SERVICES, KeyRing, Principal, authorize
from router.errors import NotFound
from router.status import abort_with

_principal: contextvars.ContextVar[Principal] = contextvars.ContextVar(
    "principal", default=ANONYMOUS_ADMIN
)


REMEDIES = {
    "ticket_id": "check the id, or submit the ticket first (TicketService.SubmitTicket)",
    "agent_id": "register the agent first (AgentService.UpsertAgent)",
    "queue": "QueueService.ListQueues lists the queues; publishing a rule set that routes to a "
    "queue creates it",
}
"""What an API caller does about an unknown object, by the error's field."""
REMEDIES["queues"] = REMEDIES["queue"]


def with_remedy(error: Exception) -> Exception:
    """The error, a NotFound reworded with what an API caller can do about it.

    The queue store's messages name its Python API (e.g. `set_queue_policy`), which callers of
    the gRPC API cannot call.
    """
    remedy = REMEDIES.get(getattr(error, "field", None) or "")
    if not isinstance(error, NotFound) or remedy is None or remedy in error.message:
        return error
    what = error.message.split(";", 1)[0]
    return NotFound(f"{what}; {remedy}", field=error.field)


def current_principal() -> Principal:
    """The authenticated caller of the RPC being handled."""
    return _principal.get()


class ServiceInterceptor(grpc.aio.ServerInterceptor):
    """Authenticate and authorize each call (when keys are configured); map errors.

    Args:
        key_ring: the configured API keys; `None` turns auth off (every caller is admin).
    """

    def __init__(self, key_ring: KeyRing | None) -> None:
        self.key_ring = key_ring

    def _principal_for(self, method: str, context: grpc.aio.ServicerContext) -> Principal:
        if self.key_ring is None:
            return ANONYMOUS_ADMIN
        principal = self.key_ring.authenticate(context.invocation_metadata() or ())
        authorize(principal, method)
        return principal

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or method.startswith(OPEN_SERVICES):
            # Health checks and reflection need no key (load balancers, grpcurl) and raise no
            # domain errors: they pass untouched.
            return handler
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                self._wrap_unary(method, handler.unary_unary),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                self._wrap_stream(method, handler.unary_stream),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler  # client/bidi streaming RPCs: none in ticket_router.v1

    def _wrap_unary(self, method: str, behavior: Callable[..., Any]) -> Callable[..., Any]:
        async def wrapper(request: Any, context: grpc.aio.ServicerContext) -> Any:
            try:
                token = _principal.set(self._principal_for(method, context))
                try:
                    return await behavior(request, context)
                finally:
                    _principal.reset(token)
            except grpc.aio.AbortError:
                raise
            except Exception as error:
                await abort_with(context, with_remedy(error))

        return wrapper

    def _wrap_stream(self, method: str, behavior: Callable[..., Any]) -> Callable[..., Any]:
        async def wrapper(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            try:
                token = _principal.set(self._principal_for(method, context))
                try:
                    async for response in behavior(request, context):
                        yield response
                finally:
                    _principal.reset(token)
            except grpc.aio.AbortError:
                raise
            except Exception as error:
                await abort_with(context, with_remedy(error))

        return wrapper
