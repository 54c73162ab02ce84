"""Tests of router.metrics: values read back through an in-memory reader, bounded attributes,
cached queue gauges, and the per-RPC interceptor on a real gRPC server on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from router.errors import InvalidArgument, NotFound
from router.interceptors import ServiceInterceptor
from router.metrics import (
    ALLOWED_ATTRIBUTES,
    OVERFLOW_VALUE,
    RESPONSE_BUCKETS_S,
    UNKNOWN_METHOD,
    AttributeGuard,
    MetricsInterceptor,
    QueueSnapshot,
    RouterMetrics,
    Tally,
)


@pytest.fixture
def reader() -> InMemoryMetricReader:
    return InMemoryMetricReader()


@pytest.fixture
def meter_provider(reader: InMemoryMetricReader) -> Iterator[MeterProvider]:
    provider = MeterProvider(metric_readers=[reader])
    yield provider
    provider.shutdown()


@pytest.fixture
def router_metrics(meter_provider: MeterProvider) -> RouterMetrics:
    return RouterMetrics(meter_provider.get_meter("ticket_router"))


def read(reader: InMemoryMetricReader) -> dict[str, list[Any]]:
    """Data points by metric name from one collection."""
    found: dict[str, list[Any]] = {}
    data = reader.get_metrics_data()
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                found.setdefault(metric.name, []).extend(metric.data.data_points)
    return found


def total(points: list[Any], **attributes: str) -> float:
    """Sum of the values of the points whose attributes include `attributes`."""
    return sum(
        point.value
        for point in points
        if all(point.attributes.get(key) == value for key, value in attributes.items())
    )


def test_counts_read_back_exactly(
    router_metrics: RouterMetrics, reader: InMemoryMetricReader
) -> None:
    for index in range(10):
        queue = "billing" if index < 6 else "support"
        router_metrics.record_submitted(
            queue, rule="vip" if index < 2 else "model", priority="P2", channel="email"
        )
    for outcome in ["made"] * 5 + ["expired"] * 3 + ["accepted"]:
        router_metrics.record_offer(outcome, "billing")
    router_metrics.record_sla_breach("first_response", "billing", "P1", "chat")
    router_metrics.record_escalation("raise", "billing", "P3")
    router_metrics.record_escalation("raise", "billing", "P3")

    points = read(reader)
    submitted = points["ticket_router.tickets.submitted"]
    assert total(submitted) == 10
    assert total(submitted, queue="billing") == 6
    assert total(submitted, queue="billing", rule="vip") == 2
    assert total(points["ticket_router.offers"], outcome="expired") == 3
    assert total(points["ticket_router.offers"], outcome="made") == 5
    assert total(points["ticket_router.offers"], outcome="rejected") == 0
    assert total(points["ticket_router.sla_breaches"]) == 1
    (breach,) = points["ticket_router.sla_breaches"]
    assert dict(breach.attributes) == {
        "kind": "first_response",
        "queue": "billing",
        "priority": "P1",
        "channel": "chat",
    }
    assert total(points["ticket_router.escalations"], level="raise") == 2


def test_a_tally_is_cumulative_across_collections_and_exported_as_a_monotonic_sum(
    meter_provider: MeterProvider, reader: InMemoryMetricReader
) -> None:
    tally = Tally(meter_provider.get_meter("t"), "t.count", "{thing}", "Things.")
    tally.add(2, {"queue": "billing", "channel": "email"})
    tally.add(1, {"channel": "email", "queue": "billing"})  # the same series in another order
    first = read(reader)["t.count"]
    assert [(p.value, dict(p.attributes)) for p in first] == [
        (3, {"queue": "billing", "channel": "email"})
    ]
    tally.add(4, {"queue": "tech"})
    second = read(reader)["t.count"]
    assert total(second, queue="billing") == 3 and total(second, queue="tech") == 4
    metric = next(m for r in reader.get_metrics_data().resource_metrics
                  for s in r.scope_metrics for m in s.metrics if m.name == "t.count")
    assert metric.data.is_monotonic


def test_histograms_use_their_buckets(
    router_metrics: RouterMetrics, reader: InMemoryMetricReader
) -> None:
    for seconds in (30, 600, 4000):
        router_metrics.record_time_to_first_response(seconds, "billing", "P2", "email")
    router_metrics.record_time_to_assign(2.5, "billing", "P2", "email")
    points = read(reader)
    (histogram,) = points["ticket_router.time_to_first_response"]
    assert histogram.count == 3
    assert histogram.sum == 4630
    assert tuple(histogram.explicit_bounds) == tuple(float(b) for b in RESPONSE_BUCKETS_S)
    # 30 s <= 60, 600 s in (300, 900], 4000 s in (3600, 7200]
    assert histogram.bucket_counts[0] == 1
    assert histogram.bucket_counts[2] == 1
    assert histogram.bucket_counts[5] == 1
    assert points["ticket_router.time_to_assign"][0].count == 1
    assert "ticket_router.time_to_accept" not in points  # nothing recorded, nothing exported


def test_unknown_outcome_or_kind_is_refused(router_metrics: RouterMetrics) -> None:
    with pytest.raises(InvalidArgument, match="unknown outcome 'timeout'"):
        router_metrics.record_offer("timeout", "billing")
    with pytest.raises(InvalidArgument, match="unknown kind"):
        router_metrics.record_sla_breach("response", "billing", "P1")


def test_attribute_guard_refuses_ids() -> None:
    guard = AttributeGuard()
    with pytest.raises(InvalidArgument, match="'ticket_id' is not allowed"):
        guard(queue="billing", ticket_id="T-1")
    with pytest.raises(InvalidArgument, match="'agent' is not allowed"):
        guard.build({"agent": "alice"})
    assert guard(queue="billing", priority=None, rpc__method="Get") == {
        "queue": "billing",
        "rpc.method": "Get",
    }


def test_attribute_values_are_capped_per_key(
    meter_provider: MeterProvider, reader: InMemoryMetricReader
) -> None:
    metrics = RouterMetrics(meter_provider.get_meter("ticket_router"), max_values_per_attribute=5)
    # A caller that wrongly passes ticket ids as the queue cannot blow up the series count.
    for number in range(100):
        metrics.record_submitted(f"T-{number}", "model", "P3", "email")
    metrics.record_submitted("x" * 500, "model", "P3", "email")
    points = read(reader)["ticket_router.tickets.submitted"]
    queues = {point.attributes["queue"] for point in points}
    assert queues == {"T-0", "T-1", "T-2", "T-3", "T-4", OVERFLOW_VALUE}
    assert total(points, queue=OVERFLOW_VALUE) == 96
    assert total(points) == 101


def test_every_exported_attribute_is_allowed(
    router_metrics: RouterMetrics, reader: InMemoryMetricReader
) -> None:
    router_metrics.record_submitted("billing", "vip", "P1", "email")
    router_metrics.record_routed("billing", "vip", "P1", "email")
    router_metrics.record_offer("made", "billing", "P1", "email")
    router_metrics.record_time_to_accept(1, "billing", "P1", "email")
    router_metrics.record_time_to_resolve(1, "billing", "P1", "email")
    router_metrics.record_scoring_duration(0.001, "sla_risk")
    router_metrics.record_rpc(0.001, "svc", "Get", grpc.StatusCode.OK)
    router_metrics.observe_queues(lambda: [QueueSnapshot("billing", 1, 2.0, 3, 4, 0.5, 1)])
    points = read(reader)
    assert len(points) == 12  # 7 recorded instruments and 5 gauges
    for name, data_points in points.items():
        for point in data_points:
            assert set(point.attributes) <= ALLOWED_ATTRIBUTES, name


def test_queue_gauges_read_a_cached_snapshot(
    router_metrics: RouterMetrics, reader: InMemoryMetricReader
) -> None:
    calls = []

    def snapshot() -> list[QueueSnapshot]:
        calls.append(1)
        return [
            QueueSnapshot("billing", depth=7, oldest_wait_s=42.0, agents_available=2, agents_busy=3,
                          utilization=0.75, at_risk=2),
            QueueSnapshot("support", depth=0, oldest_wait_s=0.0, agents_available=1, agents_busy=0),
        ]  # fmt: skip

    router_metrics.observe_queues(snapshot, ttl_s=3600)
    points = read(reader)
    read(reader)
    assert len(calls) == 1  # five gauges, two collections: one snapshot
    assert total(points["ticket_router.queue.depth"], queue="billing") == 7
    assert total(points["ticket_router.queue.oldest_wait"], queue="billing") == 42.0
    assert total(points["ticket_router.agents"], queue="billing", state="busy") == 3
    assert total(points["ticket_router.agents"], queue="support", state="available") == 1
    assert total(points["ticket_router.agent.utilization"], queue="billing") == 0.75
    # Optional values that are unknown are not reported as zero.
    assert {p.attributes["queue"] for p in points["ticket_router.agent.utilization"]} == {"billing"}
    assert {p.attributes["queue"] for p in points["ticket_router.tickets.at_risk"]} == {"billing"}

    router_metrics.observe_queues(snapshot, ttl_s=0)  # no caching: each gauge reads anew
    read(reader)
    read(reader)
    assert len(calls) == 1 + 2 * 5


def test_a_failing_snapshot_does_not_break_collection(
    router_metrics: RouterMetrics, reader: InMemoryMetricReader
) -> None:
    def broken() -> list[QueueSnapshot]:
        raise ConnectionError("redis is down")

    router_metrics.observe_queues(broken, ttl_s=0)
    router_metrics.record_submitted("billing", "vip", "P1", "email")
    points = read(reader)
    assert total(points["ticket_router.tickets.submitted"]) == 1
    assert "ticket_router.queue.depth" not in points


# --- the interceptor on a real gRPC server -------------------------------------------------


def _identity(payload: bytes) -> bytes:
    return payload


async def _unary_ok(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    return request.upper()


async def _unary_abort(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    await context.abort(grpc.StatusCode.NOT_FOUND, "no such ticket")
    raise AssertionError("abort raises")


async def _unary_domain_error(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    raise NotFound("no ticket T-1")


async def _unary_bug(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    raise ZeroDivisionError


async def _unary_set_code(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    context.set_code(grpc.StatusCode.FAILED_PRECONDITION)
    context.set_details("offer expired")
    return b""


async def _unary_stream(request: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
    for index in range(3):
        yield request + str(index).encode()


async def _unary_stream_write(request: bytes, context: grpc.aio.ServicerContext) -> None:
    await context.write(request)
    await context.write(request)


async def _unary_stream_forever(
    request: bytes, context: grpc.aio.ServicerContext
) -> AsyncIterator[bytes]:
    while True:
        yield b"offer"
        await asyncio.sleep(0.01)


async def _stream_unary(requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext) -> bytes:
    return b"".join([request async for request in requests])


async def _stream_stream(
    requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext
) -> AsyncIterator[bytes]:
    async for request in requests:
        yield request[::-1]


def _handlers() -> grpc.GenericRpcHandler:
    kinds = {"ser": _identity, "de": _identity}
    unary = {
        "Ok": _unary_ok,
        "Abort": _unary_abort,
        "DomainError": _unary_domain_error,
        "Bug": _unary_bug,
        "SetCode": _unary_set_code,
    }
    methods = {
        name: grpc.unary_unary_rpc_method_handler(
            fn, request_deserializer=kinds["de"], response_serializer=kinds["ser"]
        )
        for name, fn in unary.items()
    }
    methods["Stream"] = grpc.unary_stream_rpc_method_handler(_unary_stream)
    methods["StreamWrite"] = grpc.unary_stream_rpc_method_handler(_unary_stream_write)
    methods["Forever"] = grpc.unary_stream_rpc_method_handler(_unary_stream_forever)
    methods["Collect"] = grpc.stream_unary_rpc_method_handler(_stream_unary)
    methods["Echo"] = grpc.stream_stream_rpc_method_handler(_stream_stream)
    return grpc.method_handlers_generic_handler("test.v1.Probe", methods)


@pytest.fixture
async def probe(
    router_metrics: RouterMetrics,
) -> AsyncIterator[grpc.aio.Channel]:
    # Metrics outermost, then the service's own interceptor that maps domain errors.
    server = grpc.aio.server(
        interceptors=[MetricsInterceptor(router_metrics), ServiceInterceptor(None)]
    )
    server.add_generic_rpc_handlers((_handlers(),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    yield channel
    await channel.close()
    await server.stop(None)


async def _status_of(call: Any) -> grpc.StatusCode:
    try:
        await call
    except grpc.aio.AioRpcError as error:
        return error.code()
    return grpc.StatusCode.OK


async def test_interceptor_records_duration_and_status_per_rpc(
    probe: grpc.aio.Channel, reader: InMemoryMetricReader
) -> None:
    def unary(name: str) -> Any:
        return probe.unary_unary(f"/test.v1.Probe/{name}")(b"hi", timeout=5)

    assert await unary("Ok") == b"HI"
    assert await unary("Ok") == b"HI"
    assert await _status_of(unary("Abort")) == grpc.StatusCode.NOT_FOUND
    assert await _status_of(unary("DomainError")) == grpc.StatusCode.NOT_FOUND
    assert await _status_of(unary("Bug")) == grpc.StatusCode.INTERNAL
    assert await _status_of(unary("SetCode")) == grpc.StatusCode.FAILED_PRECONDITION
    assert await _status_of(unary("Missing")) == grpc.StatusCode.UNIMPLEMENTED
    stream = probe.unary_stream("/test.v1.Probe/Stream")(b"x", timeout=5)
    assert [item async for item in stream] == [b"x0", b"x1", b"x2"]

    async def parts() -> AsyncIterator[bytes]:
        for part in (b"a", b"b", b"c"):
            yield part

    assert await probe.stream_unary("/test.v1.Probe/Collect")(parts(), timeout=5) == b"abc"
    echo = probe.stream_stream("/test.v1.Probe/Echo")(parts(), timeout=5)
    assert [item async for item in echo] == [b"a", b"b", b"c"]

    points = read(reader)
    durations = {
        (p.attributes["rpc.method"], p.attributes["rpc.response.status_code"]): p
        for p in points["ticket_router.rpc.duration"]
    }
    assert set(durations) == {
        ("Ok", "OK"),
        ("Abort", "NOT_FOUND"),
        ("DomainError", "NOT_FOUND"),
        ("Bug", "INTERNAL"),
        ("SetCode", "FAILED_PRECONDITION"),
        ("Stream", "OK"),
        ("Collect", "OK"),
        ("Echo", "OK"),
    }
    assert durations[("Ok", "OK")].count == 2
    assert all(p.attributes["rpc.service"] == "test.v1.Probe" for p in durations.values())
    assert all(0 < p.sum < 5 for p in durations.values())
    errors = {
        (p.attributes["rpc.method"], p.attributes["rpc.response.status_code"]): p.value
        for p in points["ticket_router.errors"]
    }
    assert errors == {
        ("Abort", "NOT_FOUND"): 1,
        ("DomainError", "NOT_FOUND"): 1,
        ("Bug", "INTERNAL"): 1,
        ("SetCode", "FAILED_PRECONDITION"): 1,
        (UNKNOWN_METHOD, "UNIMPLEMENTED"): 1,
    }


async def test_interceptor_records_a_cancelled_stream(
    probe: grpc.aio.Channel, reader: InMemoryMetricReader
) -> None:
    call = probe.unary_stream("/test.v1.Probe/Forever")(b"", timeout=5)
    assert await call.read() == b"offer"
    call.cancel()
    for _ in range(200):  # the server notices the cancellation asynchronously
        points = read(reader).get("ticket_router.rpc.duration", [])
        if points:
            break
        await asyncio.sleep(0.01)
    (point,) = points
    assert point.attributes["rpc.method"] == "Forever"
    assert point.attributes["rpc.response.status_code"] == "CANCELLED"


async def test_interceptor_without_error_mapping_uses_the_status_table(
    router_metrics: RouterMetrics, reader: InMemoryMetricReader
) -> None:
    # Metrics alone: a domain error reaches it unmapped and is counted with its mapped code.
    server = grpc.aio.server(interceptors=[MetricsInterceptor(router_metrics)])
    server.add_generic_rpc_handlers((_handlers(),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            call = channel.unary_unary("/test.v1.Probe/DomainError")(b"", timeout=5)
            assert await _status_of(call) == grpc.StatusCode.UNKNOWN  # unmapped for the client
            call = channel.unary_unary("/test.v1.Probe/Bug")(b"", timeout=5)
            assert await _status_of(call) == grpc.StatusCode.UNKNOWN
            # A streaming handler that writes with context.write() instead of yielding.
            written = channel.unary_stream("/test.v1.Probe/StreamWrite")(b"w", timeout=5)
            assert [item async for item in written] == [b"w", b"w"]
    finally:
        await server.stop(None)
    points = read(reader)
    codes = {
        p.attributes["rpc.method"]: p.attributes["rpc.response.status_code"]
        for p in points["ticket_router.errors"]
    }
    assert codes == {"DomainError": "NOT_FOUND", "Bug": "UNKNOWN"}
    durations = {
        p.attributes["rpc.method"]: (p.attributes["rpc.response.status_code"], p.count)
        for p in points["ticket_router.rpc.duration"]
    }
    assert durations["StreamWrite"] == ("OK", 1)
