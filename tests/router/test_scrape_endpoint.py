"""Tests of router.scrape_endpoint: the same bytes as prometheus_client's `generate_latest`, over
real HTTP on loopback, for the router's own metrics and for every kind of family the library
can hold."""

from __future__ import annotations

import gzip
import math
import urllib.request
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeHistogramMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
    StateSetMetricFamily,
    SummaryMetricFamily,
    UnknownMetricFamily,
)

from router import scrape_endpoint
from router.metrics import METER_NAME, RouterMetrics
from router.scrape_endpoint import ScrapeText, start_scrape_server
from router.telemetry import prometheus_reader
from tests.router.test_telemetry import record_one_of_each


class OddFamilies:
    """A collector of every family type, with the values and names that need care."""

    def collect(self) -> Iterator[Metric]:
        counter = CounterMetricFamily("jobs", "Jobs\\done\nso far.", labels=["queue"],
                                      created=1_700_000_000.5)
        counter.add_metric(['say "hi"\\ \n'], 3, created=1_700_000_001.25)
        counter.add_metric(["ünï"], 1e21, timestamp=1_700_000_002.125)
        yield counter
        gauge = GaugeMetricFamily("temp.of-things", "Odd name", labels=["a-b", "le"])
        for number, values in enumerate(([math.nan], [math.inf], [-math.inf], [-3], [0],
                                         [1e-9], [123456.7], [1234567.0], [10**15])):
            gauge.add_metric([str(number), "x"], values[0])
        yield gauge
        yield GaugeMetricFamily("lonely", "No labels", value=2.5)
        info = InfoMetricFamily("build", "Build facts")
        info.add_metric([], {"version": "1.2", "commit": "abc"})
        yield info
        yield StateSetMetricFamily("mode", "Modes", value={"on": True, "off": False})
        yield GaugeHistogramMetricFamily("backlog", "Backlog", buckets=[("1.0", 4), ("+Inf", 9)],
                                         gsum_value=12.0)
        yield SummaryMetricFamily("lag", "Lag", count_value=4, sum_value=2.0)
        yield UnknownMetricFamily("mystery", "Unknown", value=7)


@pytest.fixture
def router_registry() -> Iterator[tuple[CollectorRegistry, RouterMetrics]]:
    """The router's metrics behind the reader the scrape endpoint uses, plus odd families."""
    registry = CollectorRegistry(support_collectors_without_names=True)  # as the router's
    provider = MeterProvider(metric_readers=[prometheus_reader(registry)])
    registry.register(OddFamilies())
    yield registry, RouterMetrics(provider.get_meter(METER_NAME))
    provider.shutdown()


def test_renders_the_bytes_of_generate_latest_scrape_after_scrape(
    router_registry: tuple[CollectorRegistry, RouterMetrics],
) -> None:
    registry, metrics = router_registry
    text = ScrapeText()
    record_one_of_each(metrics)
    assert text.render(registry) == generate_latest(registry)
    for queue in ("support", "billing", "network"):  # new series and new values
        metrics.record_time_to_assign(12.5, queue, "P2", "chat")
        metrics.record_submitted(queue, "model", "P2", "chat")
        assert text.render(registry) == generate_latest(registry)  # remembered label sets too


def test_what_it_remembers_is_bounded(
    router_registry: tuple[CollectorRegistry, RouterMetrics], monkeypatch: pytest.MonkeyPatch
) -> None:
    registry, metrics = router_registry
    record_one_of_each(metrics)
    monkeypatch.setattr(scrape_endpoint, "MAX_REMEMBERED", 5)
    text = ScrapeText()
    text.render(registry)
    remembered = len(text._labels) + len(text._names)
    assert remembered > 5
    assert text.render(registry) == generate_latest(registry)  # started again, still right
    assert len(text._labels) + len(text._names) == remembered  # not grown past one scrape's


@pytest.fixture
def endpoint(
    router_registry: tuple[CollectorRegistry, RouterMetrics],
) -> Iterator[tuple[str, CollectorRegistry]]:
    registry, metrics = router_registry
    record_one_of_each(metrics)
    server, thread = start_scrape_server(0, "127.0.0.1", registry)
    yield f"http://127.0.0.1:{server.server_port}", registry
    server.shutdown()
    server.server_close()
    thread.join(5)


def fetch(url: str, method: str = "GET", **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_serves_the_text_format_plain_and_gzipped(endpoint: tuple[str, CollectorRegistry]) -> None:
    url, registry = endpoint
    status, headers, body = fetch(f"{url}/metrics")
    assert status == 200
    assert headers["Content-Type"] == CONTENT_TYPE_LATEST
    assert body == generate_latest(registry)
    status, headers, body = fetch(f"{url}/metrics", **{"Accept-Encoding": "gzip"})
    assert headers.get("Content-Encoding") == "gzip"
    assert gzip.decompress(body) == generate_latest(registry)


def test_prometheus_default_accept_gets_text_openmetrics_only_gets_the_library(
    endpoint: tuple[str, CollectorRegistry],
) -> None:
    url, registry = endpoint
    prometheus = ("application/openmetrics-text;version=1.0.0;q=0.5,"
                  "application/openmetrics-text;version=0.0.1;q=0.4,"
                  "text/plain;version=0.0.4;q=0.3,*/*;q=0.2")
    status, headers, body = fetch(f"{url}/metrics", Accept=prometheus)
    assert (status, headers["Content-Type"]) == (200, CONTENT_TYPE_LATEST)
    assert body == generate_latest(registry)
    status, headers, body = fetch(
        f"{url}/metrics", Accept="application/openmetrics-text;version=1.0.0"
    )
    assert status == 200
    assert headers["Content-Type"].startswith("application/openmetrics-text")
    assert body.endswith(b"# EOF\n")


def test_name_filter_options_and_other_methods(endpoint: tuple[str, CollectorRegistry]) -> None:
    url, registry = endpoint
    wanted = ["lonely", "ticket_router_tickets_submitted_total"]
    status, _, body = fetch(f"{url}/metrics?name[]={wanted[0]}&name[]={wanted[1]}")
    assert status == 200
    assert body == generate_latest(registry.restricted_registry(wanted))
    assert b"\nlonely 2.5\n" in body and b"ticket_router_tickets_submitted_total{" in body
    assert b"jobs_total" not in body and b"ticket_router_offers" not in body
    status, headers, _ = fetch(f"{url}/metrics", method="OPTIONS")
    assert (status, headers["Allow"]) == (200, "OPTIONS,GET")
    status, _, body = fetch(f"{url}/metrics", method="POST")
    assert status == 405 and b"use OPTIONS or GET" in body
