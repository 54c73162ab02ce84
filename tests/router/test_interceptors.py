"""The interceptor maps domain errors to statuses and enforces keys and roles, over real gRPC."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
from grpc_status import rpc_status

from router import errors
from router.auth import KeyRing, Role, allow
from router.interceptors import ServiceInterceptor, current_principal

allow("test.Probe", ["Call"], Role.SUBMITTER)

RAISES: dict[bytes, errors.RouterError | Exception] = {
    b"invalid": errors.InvalidArgument("must not be empty", field="ticket.body"),
    b"missing": errors.NotFound("ticket t-1 does not exist"),
    b"expired": errors.OfferExpired("offer for t-1 expired"),
    b"redis": errors.Unavailable("Redis is unreachable"),
    b"bug": ZeroDivisionError("division by zero"),
}


async def call(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    if request in RAISES:
        raise RAISES[request]
    principal = current_principal()
    return f"{principal.name}:{principal.role.value}".encode()


async def stream(request: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
    yield b"first"
    raise errors.FailedPrecondition("agent went offline")


async def start(key_ring: KeyRing | None) -> tuple[grpc.aio.Server, int]:
    server = grpc.aio.server(interceptors=[ServiceInterceptor(key_ring)])
    server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                "test.Probe",
                {
                    "Call": grpc.unary_unary_rpc_method_handler(call),
                    "Stream": grpc.unary_stream_rpc_method_handler(stream),
                },
            )
        ]
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, port


@pytest.mark.parametrize(
    ("request_body", "code", "message"),
    [
        (b"invalid", grpc.StatusCode.INVALID_ARGUMENT, "ticket.body: must not be empty"),
        (b"missing", grpc.StatusCode.NOT_FOUND, "ticket t-1 does not exist"),
        (b"expired", grpc.StatusCode.FAILED_PRECONDITION, "offer for t-1 expired"),
        (b"redis", grpc.StatusCode.UNAVAILABLE, "Redis is unreachable"),
        (b"bug", grpc.StatusCode.INTERNAL, "internal error"),
    ],
)
async def test_domain_errors_map_to_statuses(
    request_body: bytes, code: grpc.StatusCode, message: str
) -> None:
    server, port = await start(None)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await channel.unary_unary("/test.Probe/Call")(request_body)
            assert caught.value.code() == code
            assert caught.value.details() == message
            # The server keeps serving after every error.
            assert await channel.unary_unary("/test.Probe/Call")(b"ok") == b"anonymous:admin"
    finally:
        await server.stop(None)


async def test_invalid_argument_carries_the_field_violation() -> None:
    server, port = await start(None)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await channel.unary_unary("/test.Probe/Call")(b"invalid")
        status = rpc_status.from_call(caught.value)
        assert status is not None
        assert len(status.details) == 1
        assert b"ticket.body" in status.details[0].value
    finally:
        await server.stop(None)


async def test_stream_error_after_first_message() -> None:
    server, port = await start(None)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            call_ = channel.unary_stream("/test.Probe/Stream")(b"")
            received = []
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                async for message in call_:
                    received.append(message)
            assert received == [b"first"]
            assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    finally:
        await server.stop(None)


KEYS = KeyRing.from_entries(
    [
        {"name": "helpdesk", "key": "s3cret-submit", "role": "submitter"},
        {"name": "alice", "key": "s3cret-agent", "role": "agent", "agent_id": "alice"},
        {"name": "ops", "key": "s3cret-admin", "role": "admin"},
    ]
)


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        ((), grpc.StatusCode.UNAUTHENTICATED),
        ((("authorization", "Bearer wrong"),), grpc.StatusCode.UNAUTHENTICATED),
        ((("authorization", "Bearer s3cret-agent"),), grpc.StatusCode.PERMISSION_DENIED),
        ((("authorization", "Bearer s3cret-submit"),), "helpdesk:submitter"),
        ((("x-api-key", "s3cret-admin"),), "ops:admin"),
    ],
)
async def test_auth_matrix(metadata: tuple[tuple[str, str], ...], expected: object) -> None:
    server, port = await start(KEYS)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            method = channel.unary_unary("/test.Probe/Call")
            if isinstance(expected, grpc.StatusCode):
                with pytest.raises(grpc.aio.AioRpcError) as caught:
                    await method(b"who", metadata=metadata)
                assert caught.value.code() == expected
            else:
                assert (await method(b"who", metadata=metadata)).decode() == expected
    finally:
        await server.stop(None)


def test_agent_key_acts_only_for_its_agent() -> None:
    alice = KEYS.authenticate([("authorization", "Bearer s3cret-agent")])
    alice.require_agent("alice")
    with pytest.raises(errors.PermissionDenied, match="may not act for agent 'bob'"):
        alice.require_agent("bob")


def test_bad_key_entries_are_refused() -> None:
    with pytest.raises(errors.InvalidArgument, match="role must be one of"):
        KeyRing.from_entries([{"key": "k", "role": "root"}])
    with pytest.raises(errors.InvalidArgument, match="needs `agent_id`"):
        KeyRing.from_entries([{"key": "k", "role": "agent"}])
