"""The server interceptor that authenticates each call and maps domain errors to statuses.

Handlers read the caller with `current_principal()` and raise `router.errors` exceptions;
this is the only place that turns them into gRPC statuses (through `router.status`).
"""

from __future__ import annotations

import contextvars
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

from router.auth import ANONYMOUS_ADMIN, KeyRing, Principal, authorize
from router.status import abort_with

_principal: contextvars.ContextVar[Principal] = contextvars.ContextVar(
    "principal", default=ANONYMOUS_ADMIN
)


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
        if handler is None:
            return handler
        method = handler_call_details.method
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
                await abort_with(context, error)

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
                await abort_with(context, error)

        return wrapper
