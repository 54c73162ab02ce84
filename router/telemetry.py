"""OpenTelemetry SDK and exporters, wired once at process start (library code uses the API only).

Metrics go to a Prometheus scrape endpoint (on `metrics_port`) and, when
`OTEL_EXPORTER_OTLP_ENDPOINT` is set, over OTLP/gRPC together with a span per RPC (the
opentelemetry-instrumentation-grpc server interceptor). The standard `OTEL_*` variables
(`OTEL_RESOURCE_ATTRIBUTES`, `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_METRIC_EXPORT_INTERVAL` ...)
keep their usual meaning.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass, field
from importlib import metadata
from typing import TYPE_CHECKING, Any

from opentelemetry import metrics, trace
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import SERVICE_INSTANCE_ID, SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from prometheus_client import (
    CollectorRegistry,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
)

from router.errors import InvalidArgument, Unavailable
from router.scrape_endpoint import start_scrape_server

if TYPE_CHECKING:
    import grpc

logger = logging.getLogger(__name__)

OTLP_ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_ENDPOINT"
"""OpenTelemetry's standard variable: OTLP/gRPC collector URL (e.g. `http://collector:4317`).
Set: metrics and traces are also exported over OTLP. Unset or empty: Prometheus only."""

DEFAULT_METRICS_HOST = "127.0.0.1"
"""Address the scrape endpoint binds unless told otherwise: loopback, like the gRPC default."""


def prometheus_reader(registry: CollectorRegistry) -> PrometheusMetricReader:
    """The reader behind the scrape endpoint, serving `registry`.

    Without OpenTelemetry's scope labels (`otel_scope_name`, `_version`, `_schema_url` on every
    series): every series comes from the one `ticket_router` meter, so they say nothing, and
    formatting them is nearly 30 % of a scrape's time, which holds the GIL while RPCs wait
    (`python benchmarks/metrics_overhead.py --scrape`).
    """
    return PrometheusMetricReader(registry=registry, scope_info_enabled=False)


@dataclass
class Telemetry:
    """The process's telemetry pipeline; `shutdown()` flushes and stops it.

    Attributes:
        meter_provider: the SDK provider (global unless `set_global=False` was asked).
        tracer_provider: set when OTLP is on, else None.
        metrics_port: the port the Prometheus endpoint listens on, None when disabled.
        otlp_endpoint: the OTLP collector in use, None when off.
        registry: the Prometheus registry the endpoint serves.
    """

    meter_provider: MeterProvider
    tracer_provider: TracerProvider | None
    metrics_port: int | None
    otlp_endpoint: str | None
    registry: CollectorRegistry
    _http_server: Any = field(default=None, repr=False)
    _stopped: bool = field(default=False, repr=False)

    def tracing_interceptors(self) -> list[grpc.aio.ServerInterceptor]:
        """Server interceptors that trace each RPC: one when OTLP is on, none otherwise.

        Put them after `router.metrics.MetricsInterceptor` and before the service's own.
        """
        if self.tracer_provider is None:
            return []
        from opentelemetry.instrumentation.grpc import aio_server_interceptor

        return [aio_server_interceptor(tracer_provider=self.tracer_provider)]

    def shutdown(self) -> None:
        """Export what is pending (OTLP), stop the scrape endpoint; idempotent."""
        if self._stopped:
            return
        self._stopped = True
        if self._http_server is not None:
            self._http_server.shutdown()
            self._http_server.server_close()
        if self.tracer_provider is not None:
            self.tracer_provider.shutdown()
        self.meter_provider.shutdown()


def setup_telemetry(
    service_name: str,
    metrics_port: int | None,
    *,
    metrics_host: str = DEFAULT_METRICS_HOST,
    otlp_endpoint: str | None = None,
    set_global: bool = True,
    export_interval_ms: float | None = None,
) -> Telemetry:
    """Build the meter (and tracer) provider with its exporters; call once at start-up.

    Args:
        service_name: `service.name` of the resource (e.g. "ticket-router").
        metrics_port: Prometheus scrape port; 0 or None disables the endpoint.
        metrics_host: address the scrape endpoint binds.
        otlp_endpoint: OTLP/gRPC collector; default `OTEL_EXPORTER_OTLP_ENDPOINT`.
        set_global: install the providers as the process's global ones, so that
            `metrics.get_meter(...)` (and `RouterMetrics()`) use them. Tests pass False.
        export_interval_ms: OTLP metric export interval; default the SDK's (60 s, or
            `OTEL_METRIC_EXPORT_INTERVAL`).

    Returns:
        The running pipeline; call `shutdown()` on exit.

    Raises:
        InvalidArgument: `metrics_port` is out of range.
        Unavailable: the scrape port cannot be bound (in use, not permitted).
    """
    if metrics_port is not None and not 0 <= metrics_port <= 65535:
        raise InvalidArgument(
            f"metrics port {metrics_port} is not in 0..65535", field="metrics_port"
        )
    endpoint = otlp_endpoint if otlp_endpoint is not None else os.environ.get(OTLP_ENDPOINT_ENV)
    endpoint = endpoint.strip() if endpoint and endpoint.strip() else None
    resource = Resource.create(
        {
            SERVICE_NAME: service_name,
            SERVICE_VERSION: _version(),
            SERVICE_INSTANCE_ID: f"{socket.gethostname()}-{os.getpid()}",
        }
    )
    # OpenTelemetry's collector cannot name its series in advance: without this, a scrape's
    # `name[]` filter would leave all of them out
    registry = CollectorRegistry(support_collectors_without_names=True)
    # The usual process_* / python_* series, on this registry so that each pipeline is
    # self-contained (tests build several in one process).
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    readers: list[MetricReader] = [prometheus_reader(registry)]
    tracer_provider = None
    if endpoint:
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        readers.append(
            PeriodicExportingMetricReader(
                OTLPMetricExporter(endpoint=endpoint), export_interval_millis=export_interval_ms
            )
        )
        tracer_provider = TracerProvider(resource=resource)
        tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    meter_provider = MeterProvider(resource=resource, metric_readers=readers)
    telemetry = Telemetry(meter_provider, tracer_provider, None, endpoint, registry)
    if metrics_port:
        try:
            server, _thread = start_scrape_server(metrics_port, metrics_host, registry)
        except OSError as error:
            telemetry.shutdown()
            raise Unavailable(
                f"cannot serve metrics on {metrics_host}:{metrics_port} ({error.strerror}); "
                "choose another --metrics-port, or 0 to disable the endpoint"
            ) from error
        telemetry._http_server = server
        telemetry.metrics_port = server.server_port
    if set_global:
        _install_globally(meter_provider, tracer_provider)
    logger.info(
        "telemetry: prometheus %s, otlp %s",
        f"{metrics_host}:{telemetry.metrics_port}" if telemetry.metrics_port else "off",
        endpoint or "off",
    )
    return telemetry


def _install_globally(
    meter_provider: MeterProvider, tracer_provider: TracerProvider | None
) -> None:
    metrics.set_meter_provider(meter_provider)
    if metrics.get_meter_provider() is not meter_provider:
        # OpenTelemetry allows one global provider per process; a second setup keeps the first.
        logger.warning("a global meter provider was already set; telemetry keeps the first one")
    if tracer_provider is not None:
        trace.set_tracer_provider(tracer_provider)


def _version() -> str:
    try:
        return metadata.version("ticket-router")
    except metadata.PackageNotFoundError:
        return "unknown"
