"""The client retry policy against a real gRPC server on loopback that fails on command."""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field

import grpc
import pytest
from grpc_status import rpc_status

from clients.retry import (
    DEFAULT_POLICY,
    Idempotency,
    RetryPolicy,
    call_with_retry,
    call_with_retry_async,
    idempotency_of,
    retry_delay_s,
    retrying,
)
from router.admission import RETRY_AFTER_S
from router.api.ticket_router.v1 import ticket_service_pb2
from router.errors import Overloaded
from router.status import rich_status

GET = "/ticket_router.v1.TicketService/GetTicket"  # NO_SIDE_EFFECTS
SUBMIT = "/ticket_router.v1.TicketService/SubmitTicket"  # IDEMPOTENT
TRANSFER = "/ticket_router.v1.TicketService/TransferTicket"  # not idempotent
FAST = RetryPolicy(max_attempts=4, initial_backoff_s=0.01, max_backoff_s=0.05)
CALLERS = 10


OVERLOADED = "overloaded"
"""A script step: refuse as an overloaded router does (RESOURCE_EXHAUSTED with a RetryInfo)."""


@dataclass
class Script:
    """What the server does on each call: a status code fails it, a float sleeps then succeeds,
    OVERLOADED refuses it as the router's admission limit does."""

    steps: list[grpc.StatusCode | float | str] = field(default_factory=list)
    calls: int = 0
    deadlines: list[float] = field(default_factory=list)
    """Absolute monotonic deadline each call arrived with."""
    arrivals: list[tuple[bytes, float]] = field(default_factory=list)
    """Each call's request and monotonic arrival time."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        with self.lock:
            self.calls += 1
            self.arrivals.append((request, time.monotonic()))
            remaining = context.time_remaining()
            if remaining is not None:
                self.deadlines.append(time.monotonic() + remaining)
            step = self.steps.pop(0) if self.steps else None
        if step == OVERLOADED:
            error = Overloaded("scripted overload", retry_after_s=RETRY_AFTER_S)
            context.abort_with_status(rpc_status.to_status(rich_status(error)))
        if isinstance(step, grpc.StatusCode):
            context.abort(step, f"scripted {step.name}")
        if isinstance(step, float):
            time.sleep(step)
        return b"ok:" + request


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, Script]]:
    script = Script()
    handlers = {
        name: grpc.unary_unary_rpc_method_handler(script.handle)
        for name in ("GetTicket", "SubmitTicket", "TransferTicket")
    }
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=CALLERS))
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("ticket_router.v1.TicketService", handlers),)
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield f"127.0.0.1:{port}", script
    server.stop(grace=None)


@pytest.fixture
def script(server: tuple[str, Script]) -> Script:
    _, script = server
    script.steps.clear()
    script.calls = 0
    script.deadlines.clear()
    script.arrivals.clear()
    return script


@pytest.fixture
def channel(server: tuple[str, Script]) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(server[0]) as channel:
        yield channel


def call(channel: grpc.Channel, method: str, **kwargs: object) -> bytes:
    stub = channel.unary_unary(method)
    return call_with_retry(lambda t: stub(b"x", timeout=t), method, policy=FAST, **kwargs)


def test_idempotency_comes_from_the_proto() -> None:
    assert idempotency_of(GET) is Idempotency.NO_SIDE_EFFECTS
    assert idempotency_of(SUBMIT) is Idempotency.IDEMPOTENT
    assert idempotency_of(TRANSFER) is Idempotency.UNKNOWN
    assert idempotency_of("/ticket_router.v1.AgentService/AcceptOffer") is Idempotency.UNKNOWN
    assert idempotency_of("/no.such.Service/Call") is Idempotency.UNKNOWN
    submit = ticket_service_pb2.DESCRIPTOR.services_by_name["TicketService"].methods_by_name
    assert idempotency_of(submit["SubmitTicket"].full_name) is Idempotency.IDEMPOTENT


@pytest.mark.parametrize("method", [GET, SUBMIT])
def test_unavailable_twice_then_success(channel: grpc.Channel, script: Script, method: str) -> None:
    script.steps[:] = [grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNAVAILABLE]
    assert call(channel, method) == b"ok:x"
    assert script.calls == 3


def test_a_call_not_marked_idempotent_never_retries(channel: grpc.Channel, script: Script) -> None:
    script.steps[:] = [grpc.StatusCode.UNAVAILABLE]
    with pytest.raises(grpc.RpcError) as failure:
        call(channel, TRANSFER)
    assert failure.value.code() is grpc.StatusCode.UNAVAILABLE
    assert script.calls == 1


@pytest.mark.parametrize(
    "code",
    [
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.INTERNAL,
    ],
)
def test_non_transient_codes_are_raised_at_once(
    channel: grpc.Channel, script: Script, code: grpc.StatusCode
) -> None:
    script.steps[:] = [code]
    with pytest.raises(grpc.RpcError) as failure:
        call(channel, GET)
    assert failure.value.code() is code
    assert script.calls == 1


@pytest.mark.parametrize("method", [GET, SUBMIT])
def test_an_overload_refusal_is_retried_after_its_retry_info_delay(
    channel: grpc.Channel, script: Script, method: str
) -> None:
    script.steps[:] = [OVERLOADED, OVERLOADED]
    assert call(channel, method) == b"ok:x"
    assert script.calls == 3
    times = [at for _, at in script.arrivals]
    assert min(later - earlier for earlier, later in itertools.pairwise(times)) >= RETRY_AFTER_S


def test_an_overload_refusal_of_a_call_not_marked_idempotent_is_raised(
    channel: grpc.Channel, script: Script
) -> None:
    script.steps[:] = [OVERLOADED]
    with pytest.raises(grpc.RpcError) as failure:
        call(channel, TRANSFER)
    assert failure.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert retry_delay_s(failure.value) == pytest.approx(RETRY_AFTER_S)
    assert script.calls == 1


def test_resource_exhausted_without_retry_info_is_raised_at_once(
    channel: grpc.Channel, script: Script
) -> None:
    script.steps[:] = [grpc.StatusCode.RESOURCE_EXHAUSTED]
    with pytest.raises(grpc.RpcError) as failure:
        call(channel, SUBMIT)
    assert retry_delay_s(failure.value) is None
    assert script.calls == 1


def test_callers_refused_together_do_not_come_back_together(
    server: tuple[str, Script], script: Script
) -> None:
    """The jitter comes on top of the RetryInfo delay: retries spread out, not in step."""
    script.steps[:] = [OVERLOADED] * CALLERS

    def caller(index: int) -> bytes:
        with grpc.insecure_channel(server[0]) as channel:
            stub = channel.unary_unary(SUBMIT)
            return call_with_retry(lambda t: stub(str(index).encode(), timeout=t), SUBMIT,
                                   timeout=10, policy=DEFAULT_POLICY)

    with futures.ThreadPoolExecutor(CALLERS) as pool:
        assert len(list(pool.map(caller, range(CALLERS)))) == CALLERS
    first: dict[bytes, float] = {}
    waits = []
    for request, at in script.arrivals:
        if request in first:
            waits.append(at - first[request])
        else:
            first[request] = at
    assert len(waits) == CALLERS
    assert min(waits) >= RETRY_AFTER_S
    assert max(waits) - min(waits) > 0.005, f"retries in step: {sorted(waits)}"


def test_attempts_are_bounded(channel: grpc.Channel, script: Script) -> None:
    script.steps[:] = [grpc.StatusCode.UNAVAILABLE] * 10
    with pytest.raises(grpc.RpcError) as failure:
        call(channel, SUBMIT)
    assert failure.value.code() is grpc.StatusCode.UNAVAILABLE
    assert script.calls == FAST.max_attempts


def test_a_timed_out_read_retries_but_a_timed_out_write_does_not(
    channel: grpc.Channel, script: Script
) -> None:
    per_attempt = RetryPolicy(initial_backoff_s=0.01, attempt_timeout_s=0.2)
    get, submit = channel.unary_unary(GET), channel.unary_unary(SUBMIT)

    script.steps[:] = [1.0]  # the first attempt outlives its 0.2 s
    result = call_with_retry(lambda t: get(b"x", timeout=t), GET, timeout=5, policy=per_attempt)
    assert result == b"ok:x"
    assert script.calls == 2

    script.calls = 0
    script.steps[:] = [1.0]
    with pytest.raises(grpc.RpcError) as failure:
        call_with_retry(lambda t: submit(b"x", timeout=t), SUBMIT, timeout=5, policy=per_attempt)
    assert failure.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED
    assert script.calls == 1


def test_retries_never_run_past_the_callers_deadline(channel: grpc.Channel, script: Script) -> None:
    patient = RetryPolicy(max_attempts=1000, initial_backoff_s=0.05, max_backoff_s=0.1)
    script.steps[:] = [grpc.StatusCode.UNAVAILABLE] * 1000
    stub = channel.unary_unary(GET)
    overall_deadline = time.monotonic() + 0.5
    with pytest.raises(grpc.RpcError) as failure:
        call_with_retry(lambda t: stub(b"x", timeout=t), GET, timeout=0.5, policy=patient)
    ended = time.monotonic()
    # The last attempt fails as the server says or, when it starts as the deadline runs out,
    # with the deadline.
    transient = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
    assert failure.value.code() in transient  # type: ignore[attr-defined]
    assert script.calls > 1  # it did retry ...
    # ... and every attempt carried the caller's deadline, not a fresh one (25 ms clock slack).
    assert all(deadline <= overall_deadline + 0.025 for deadline in script.deadlines)
    assert len(script.deadlines) == script.calls
    assert ended <= overall_deadline + 0.05  # no backoff slept past it


def test_decorator_passes_the_remaining_timeout(channel: grpc.Channel, script: Script) -> None:
    stub = channel.unary_unary(GET)
    seen: list[float | None] = []

    @retrying(GET, FAST)
    def get_ticket(request: bytes, *, timeout: float | None = None) -> bytes:
        seen.append(timeout)
        return stub(request, timeout=timeout)

    script.steps[:] = [grpc.StatusCode.UNAVAILABLE]
    assert get_ticket(b"y", timeout=2.0) == b"ok:y"
    assert script.calls == 2
    assert len(seen) == 2
    assert seen[0] is not None
    assert seen[1] is not None
    assert 0 < seen[1] < seen[0] <= 2.0


async def test_asyncio_client_retries(server: tuple[str, Script], script: Script) -> None:
    script.steps[:] = [grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNAVAILABLE]
    async with grpc.aio.insecure_channel(server[0]) as channel:
        stub = channel.unary_unary(SUBMIT)

        @retrying(SUBMIT, FAST)
        async def submit(request: bytes, *, timeout: float | None = None) -> bytes:
            return await stub(request, timeout=timeout)

        assert await submit(b"z", timeout=5.0) == b"ok:z"
        assert script.calls == 3

        script.calls = 0
        script.steps[:] = [grpc.StatusCode.UNAVAILABLE]
        transfer = channel.unary_unary(TRANSFER)
        with pytest.raises(grpc.aio.AioRpcError) as failure:
            await call_with_retry_async(lambda t: transfer(b"z", timeout=t), TRANSFER, policy=FAST)
        assert failure.value.code() is grpc.StatusCode.UNAVAILABLE
        assert script.calls == 1


def free_port() -> int:
    # A plain socket: a stopped grpc server keeps its listening socket open in this process.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_connection_refused_is_retried_then_raised() -> None:
    """Nothing listens on the port: every attempt fails fast with UNAVAILABLE."""
    attempts = 0
    with grpc.insecure_channel(f"127.0.0.1:{free_port()}") as channel:
        stub = channel.unary_unary(GET)

        def attempt(timeout: float | None) -> bytes:
            nonlocal attempts
            attempts += 1
            return stub(b"x", timeout=timeout)

        with pytest.raises(grpc.RpcError) as failure:
            call_with_retry(attempt, GET, timeout=5, policy=FAST)
    assert failure.value.code() is grpc.StatusCode.UNAVAILABLE
    assert attempts == FAST.max_attempts


def test_a_server_that_comes_back_is_reached() -> None:
    """A real outage: nothing listens at first; the server starts while the client backs off."""
    port = free_port()
    script = Script()
    late = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    late.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "ticket_router.v1.TicketService",
                {"GetTicket": grpc.unary_unary_rpc_method_handler(script.handle)},
            ),
        )
    )
    starter = threading.Timer(
        0.3, lambda: (late.add_insecure_port(f"127.0.0.1:{port}"), late.start())
    )
    starter.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = channel.unary_unary(GET)
            policy = RetryPolicy(max_attempts=50, initial_backoff_s=0.05, max_backoff_s=0.2)
            result = call_with_retry(
                lambda t: stub(b"w", timeout=t), GET, timeout=10, policy=policy
            )
        assert result == b"ok:w"
        assert script.calls == 1
    finally:
        starter.join()
        late.stop(grace=None)


def test_a_spent_deadline_fails_instead_of_waiting_forever(
    channel: grpc.Channel, script: Script
) -> None:
    script.steps[:] = [0.5]  # the server would answer, slowly
    with pytest.raises(grpc.RpcError) as caught:
        call(channel, SUBMIT, timeout=1e-9)
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED  # type: ignore[attr-defined]
