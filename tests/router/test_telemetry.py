"""Tests of router.telemetry: the real Prometheus endpoint over HTTP, OTLP export to a real gRPC
receiver, and the Grafana dashboard against the names a real scrape exports."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import textwrap
import urllib.request
from collections.abc import AsyncIterator, Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import pytest
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from router.errors import Unavailable
from router.metrics import MetricsInterceptor, QueueSnapshot, RouterMetrics
from router.telemetry import Telemetry, setup_telemetry

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboards" / "grafana" / "ticket-router.json"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        assert response.status == 200
        return response.read().decode()


def samples(text: str) -> list[Any]:
    return [sample for family in text_string_to_metric_families(text) for sample in family.samples]


def value(text: str, name: str, **labels: str) -> float:
    """Sum of the samples called `name` whose labels include `labels`."""
    return sum(
        s.value
        for s in samples(text)
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    pipeline = setup_telemetry("ticket-router-test", free_port(), set_global=False)
    yield pipeline
    pipeline.shutdown()


@pytest.fixture
def router_metrics(telemetry: Telemetry) -> RouterMetrics:
    return RouterMetrics(telemetry.meter_provider.get_meter("ticket_router"))


def record_one_of_each(metrics: RouterMetrics) -> None:
    """Touch every instrument once, so that every metric appears in a scrape."""
    metrics.record_submitted("billing", "vip", "P1", "email")
    metrics.record_routed("billing", "vip", "P1", "email")
    metrics.record_offer("made", "billing", "P1", "email")
    metrics.record_sla_breach("resolution", "billing", "P1", "email")
    metrics.record_escalation("warn", "billing", "P1", "email")
    metrics.record_time_to_assign(4.0, "billing", "P1", "email")
    metrics.record_time_to_accept(9.0, "billing", "P1", "email")
    metrics.record_time_to_first_response(600.0, "billing", "P1", "email")
    metrics.record_time_to_resolve(7200.0, "billing", "P1", "email")
    metrics.record_scoring_duration(0.002, "category")
    metrics.record_rpc(0.004, "ticket_router.v1.TicketService", "SubmitTicket", grpc.StatusCode.OK)
    metrics.record_rpc(
        0.001, "ticket_router.v1.TicketService", "GetTicket", grpc.StatusCode.NOT_FOUND
    )
    metrics.observe_queues(
        lambda: [QueueSnapshot("billing", 4, 95.0, 2, 3, utilization=0.6, at_risk=1)]
    )


def test_scrape_shows_exactly_what_was_recorded(
    telemetry: Telemetry, router_metrics: RouterMetrics
) -> None:
    for index in range(10):
        router_metrics.record_submitted(
            "billing" if index % 2 else "support", "model", "P3", "chat"
        )
    for outcome in ("made", "made", "expired", "expired", "expired", "accepted"):
        router_metrics.record_offer(outcome, "billing")
    router_metrics.record_sla_breach("first_response", "billing", "P3", "chat")
    router_metrics.record_time_to_accept(42.0, "billing", "P3", "chat")
    router_metrics.record_time_to_accept(200.0, "billing", "P3", "chat")
    router_metrics.observe_queues(lambda: [QueueSnapshot("billing", 5, 61.5, 1, 2)])
    assert telemetry.metrics_port is not None

    text = scrape(telemetry.metrics_port)

    assert value(text, "ticket_router_tickets_submitted_total") == 10
    assert value(text, "ticket_router_tickets_submitted_total", queue="billing") == 5
    assert value(text, "ticket_router_offers_total", outcome="expired") == 3
    assert value(text, "ticket_router_offers_total", outcome="made") == 2
    assert value(text, "ticket_router_sla_breaches_total", kind="first_response") == 1
    # Histogram: seconds in the name, cumulative buckets, sum and count.
    assert value(text, "ticket_router_time_to_accept_seconds_count") == 2
    assert value(text, "ticket_router_time_to_accept_seconds_sum") == 242.0
    assert value(text, "ticket_router_time_to_accept_seconds_bucket", le="60.0") == 1
    assert value(text, "ticket_router_time_to_accept_seconds_bucket", le="300.0") == 2
    assert value(text, "ticket_router_time_to_accept_seconds_bucket", le="+Inf") == 2
    assert value(text, "ticket_router_queue_depth", queue="billing") == 5
    assert value(text, "ticket_router_queue_oldest_wait_seconds", queue="billing") == 61.5
    assert value(text, "ticket_router_agents", queue="billing", state="busy") == 2
    # Types and help text as Prometheus sees them.
    families = {family.name: family for family in text_string_to_metric_families(text)}
    assert families["ticket_router_tickets_submitted"].type == "counter"
    assert families["ticket_router_time_to_accept_seconds"].type == "histogram"
    assert families["ticket_router_queue_depth"].type == "gauge"
    assert families["ticket_router_offers"].documentation == "Offers to agents, by outcome."
    # The resource, and the usual process metrics of the same registry.
    assert value(text, "target_info", service_name="ticket-router-test") == 1
    assert "process_cpu_seconds_total" in {s.name for s in samples(text)}
    # No per-series OpenTelemetry scope labels: one meter, so they would say nothing.
    ours = [s for s in samples(text) if s.name.startswith("ticket_router_")]
    assert ours and not any(k.startswith("otel_scope") for s in ours for k in s.labels)


def test_every_dashboard_metric_and_label_exists_in_a_real_scrape(
    telemetry: Telemetry, router_metrics: RouterMetrics
) -> None:
    record_one_of_each(router_metrics)
    assert telemetry.metrics_port is not None
    exported: dict[str, set[str]] = {}
    for sample in samples(scrape(telemetry.metrics_port)):
        exported.setdefault(sample.name, set()).update(sample.labels)

    dashboard = json.loads(DASHBOARD.read_text())
    queries = [
        target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])
    ] + [
        variable["query"]["query"]
        for variable in dashboard["templating"]["list"]
        if variable["type"] == "query"
    ]
    assert len(queries) > 20
    used: set[str] = set()
    for query in queries:
        names = set(re.findall(r"\bticket_router_[a-z0-9_]+\b", query))
        assert names, query
        for name in names:
            assert name in exported, f"{name} (in {query}) is not exported"
        used |= names
        labels = set(re.findall(r"(\w+)\s*=~?\s*\"", query))
        for group in re.findall(r"\bby \(([^)]*)\)", query):
            labels |= {label.strip() for label in group.split(",")}
        labels |= set(re.findall(r"label_values\([^,]+,\s*(\w+)\)", query))
        for label in labels:
            assert any(label in exported[name] for name in names), f"{label} in {query}"
    # Each kind of metric is on the dashboard.
    for name in (
        "ticket_router_time_to_assign_seconds_bucket",
        "ticket_router_time_to_accept_seconds_bucket",
        "ticket_router_time_to_first_response_seconds_bucket",
        "ticket_router_time_to_resolve_seconds_bucket",
        "ticket_router_sla_breaches_total",
        "ticket_router_escalations_total",
        "ticket_router_offers_total",
        "ticket_router_queue_depth",
        "ticket_router_queue_oldest_wait_seconds",
        "ticket_router_agents",
        "ticket_router_agent_utilization",
        "ticket_router_tickets_at_risk",
        "ticket_router_rpc_duration_seconds_bucket",
        "ticket_router_errors_total",
        "ticket_router_scoring_duration_seconds_bucket",
    ):
        assert name in used, name


def test_dashboard_is_a_grafana_dashboard() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["schemaVersion"] >= 39
    assert dashboard["uid"] == "ticket-router"
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24
        if panel["type"] != "row":
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            assert panel["targets"]


def test_port_zero_disables_the_endpoint_but_not_the_metrics() -> None:
    pipeline = setup_telemetry("ticket-router-test", 0, set_global=False)
    try:
        assert pipeline.metrics_port is None
        metrics = RouterMetrics(pipeline.meter_provider.get_meter("ticket_router"))
        metrics.record_offer("rejected", "billing")
        text = generate_latest(pipeline.registry).decode()
        assert value(text, "ticket_router_offers_total", outcome="rejected") == 1
    finally:
        pipeline.shutdown()
        pipeline.shutdown()  # idempotent


def test_a_busy_port_is_a_clear_error(telemetry: Telemetry) -> None:
    assert telemetry.metrics_port is not None
    with pytest.raises(
        Unavailable, match=f"cannot serve metrics on 127.0.0.1:{telemetry.metrics_port}"
    ):
        setup_telemetry("ticket-router-test", telemetry.metrics_port, set_global=False)


def test_shutdown_stops_the_endpoint() -> None:
    pipeline = setup_telemetry("ticket-router-test", free_port(), set_global=False)
    port = pipeline.metrics_port
    assert port is not None
    scrape(port)
    pipeline.shutdown()
    with pytest.raises(OSError):
        scrape(port)


def test_global_setup_serves_metrics_recorded_through_the_api_only(tmp_path: Path) -> None:
    # A fresh process, as at start-up: the SDK is wired once, RouterMetrics() takes the
    # global meter through the API.
    port = free_port()
    script = textwrap.dedent(
        f"""
        import sys, urllib.request
        from router.metrics import RouterMetrics
        metrics = RouterMetrics()  # created before setup: the API's proxy meter forwards
        from router.telemetry import setup_telemetry
        telemetry = setup_telemetry("ticket-router", {port})
        for _ in range(3):
            metrics.record_sla_breach("resolution", "billing", "P2")
        url = "http://127.0.0.1:{port}/metrics"
        sys.stdout.write(urllib.request.urlopen(url, timeout=10).read().decode())
        telemetry.shutdown()
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert value(result.stdout, "ticket_router_sla_breaches_total", kind="resolution") == 3
    assert value(result.stdout, "target_info", service_name="ticket-router") == 1


# --- OTLP to a real gRPC receiver -----------------------------------------------------------


class _TraceSink(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self) -> None:
        self.requests: list[Any] = []

    def Export(self, request: Any, context: Any) -> Any:
        self.requests.append(request)
        return trace_service_pb2.ExportTraceServiceResponse()


class _MetricSink(metrics_service_pb2_grpc.MetricsServiceServicer):
    def __init__(self) -> None:
        self.requests: list[Any] = []

    def Export(self, request: Any, context: Any) -> Any:
        self.requests.append(request)
        return metrics_service_pb2.ExportMetricsServiceResponse()


@pytest.fixture
def collector() -> Iterator[tuple[str, _TraceSink, _MetricSink]]:
    """An OTLP/gRPC receiver on loopback that keeps what it is sent."""
    traces, metric_sink = _TraceSink(), _MetricSink()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(traces, server)
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(metric_sink, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield f"http://127.0.0.1:{port}", traces, metric_sink
    server.stop(None)


async def _say(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    return request


@pytest.fixture
async def traced_server(
    collector: tuple[str, _TraceSink, _MetricSink],
) -> AsyncIterator[tuple[Telemetry, grpc.aio.Channel]]:
    endpoint = collector[0]
    pipeline = setup_telemetry("ticket-router-otlp", None, otlp_endpoint=endpoint, set_global=False)
    metrics = RouterMetrics(pipeline.meter_provider.get_meter("ticket_router"))
    server = grpc.aio.server(
        interceptors=[MetricsInterceptor(metrics), *pipeline.tracing_interceptors()]
    )
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "test.v1.Probe", {"Say": grpc.unary_unary_rpc_method_handler(_say)}
            ),
        )
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    yield pipeline, channel
    await channel.close()
    await server.stop(None)
    pipeline.shutdown()


async def test_otlp_exports_a_span_per_rpc_and_the_metrics(
    collector: tuple[str, _TraceSink, _MetricSink],
    traced_server: tuple[Telemetry, grpc.aio.Channel],
) -> None:
    pipeline, channel = traced_server
    _, traces, metric_sink = collector
    assert pipeline.otlp_endpoint == collector[0]
    assert len(pipeline.tracing_interceptors()) == 1
    for _ in range(2):
        assert await channel.unary_unary("/test.v1.Probe/Say")(b"hello", timeout=5) == b"hello"

    pipeline.shutdown()  # flushes the batch span processor and the periodic metric reader

    spans = [
        (span, resource_spans.resource)
        for request in traces.requests
        for resource_spans in request.resource_spans
        for scope in resource_spans.scope_spans
        for span in scope.spans
    ]
    assert [span.name for span, _ in spans] == ["/test.v1.Probe/Say"] * 2
    resource = {a.key: a.value.string_value for a in spans[0][1].attributes}
    assert resource["service.name"] == "ticket-router-otlp"
    exported = {
        metric.name: metric
        for request in metric_sink.requests
        for resource_metrics in request.resource_metrics
        for scope in resource_metrics.scope_metrics
        for metric in scope.metrics
    }
    duration = exported["ticket_router.rpc.duration"]
    assert duration.unit == "s"
    assert sum(point.count for point in duration.histogram.data_points) == 2


def test_without_otlp_there_is_no_tracing(telemetry: Telemetry) -> None:
    assert telemetry.otlp_endpoint is None
    assert telemetry.tracer_provider is None
    assert telemetry.tracing_interceptors() == []


def test_otlp_endpoint_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, collector: tuple[str, _TraceSink, _MetricSink]
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector[0])
    pipeline = setup_telemetry("ticket-router-test", None, set_global=False)
    try:
        assert pipeline.otlp_endpoint == collector[0]
        assert pipeline.tracer_provider is not None
    finally:
        pipeline.shutdown()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "  ")
    pipeline = setup_telemetry("ticket-router-test", None, set_global=False)
    assert pipeline.otlp_endpoint is None
    pipeline.shutdown()
