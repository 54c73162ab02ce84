"""The Prometheus scrape endpoint: prometheus_client's text format, rendered at a lower cost.

A scrape holds the GIL while RPCs wait, so its time is routing latency. prometheus_client's
`generate_latest` checks and escapes every label name and value of every sample on each scrape,
about two thirds of a scrape's time with the router's ~3,700 lines (four response-time
histograms over queue x priority x channel). `ScrapeText` renders the same bytes (a test
compares them with `generate_latest`) but remembers, from one scrape to the next, how each
metric name and each set of labels is written; collection stays with the libraries (the
OpenTelemetry SDK and its Prometheus exporter). `python benchmarks/metrics_overhead.py
--scrape` times a scrape both ways.

The endpoint answers any GET with the text format (version 0.0.4), which every Prometheus
accepts: its default `Accept` lists OpenMetrics first and plain text after. A client that
accepts OpenMetrics only, and the other methods, get prometheus_client's own WSGI app.
Responses are gzipped at level 1 when the client accepts it: level 9, prometheus_client's, took
7.7 ms for a 400 kB scrape where level 1 took 0.7 ms (17 kB against 13 kB).
"""

from __future__ import annotations

import gzip
import socket
import threading
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer, gzip_accepted
from prometheus_client.openmetrics import exposition as openmetrics
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

GZIP_LEVEL = 1
"""A scrape's bytes matter less than its CPU: level 1 is ten times faster than level 9."""

MAX_REMEMBERED = 100_000
"""Label sets and names remembered at most; past this the memory starts again (bounded)."""

_PROMETHEUS_TYPES = {  # OpenMetrics family type -> (name suffix, text-format type)
    "counter": ("_total", "counter"),
    "info": ("_info", "gauge"),
    "stateset": ("", "gauge"),
    "gaugehistogram": ("", "histogram"),
    "unknown": ("", "untyped"),
}
_OPENMETRICS_SUFFIXES = ("_created", "_gsum", "_gcount")
"""Samples the text format puts in gauges of their own after their family, as
`generate_latest` does."""


class ScrapeText:
    """Renders a registry in the Prometheus text format, as `generate_latest(registry)` does."""

    def __init__(self) -> None:
        self._names: dict[str, str] = {}
        self._labels: dict[tuple[tuple[str, str], ...], str] = {}

    def render(self, registry: Collector) -> bytes:
        """The scrape of `registry` (anything with `collect()`), UTF-8 encoded."""
        if len(self._labels) + len(self._names) > MAX_REMEMBERED:
            self._labels.clear()
            self._names.clear()
        out: list[str] = []
        for metric in registry.collect():
            suffix, kind = _PROMETHEUS_TYPES.get(metric.type, ("", metric.type))
            name = self._name(metric.name + suffix)
            doc = metric.documentation.replace("\\", r"\\").replace("\n", r"\n")
            out.append(f"# HELP {name} {doc}\n# TYPE {name} {kind}\n")
            apart = {metric.name + s: s for s in _OPENMETRICS_SUFFIXES}
            later: dict[str, list[str]] = {}
            for sample in metric.samples:
                line = self._line(sample)
                moved = apart.get(sample.name)
                if moved is None:
                    out.append(line)
                else:
                    later.setdefault(moved, []).append(line)
            for moved, lines in sorted(later.items()):
                gauge = self._name(metric.name + moved)
                out.append(f"# HELP {gauge} {doc}\n# TYPE {gauge} gauge\n")
                out.extend(lines)
        return "".join(out).encode("utf-8")

    def _line(self, sample: Any) -> str:
        stamp = sample.timestamp
        when = "" if stamp is None else f" {int(float(stamp) * 1000):d}"
        return (f"{self._name(sample.name)}{self._label_text(sample.labels)} "
                f"{floatToGoString(sample.value)}{when}\n")

    def _name(self, name: str) -> str:
        text = self._names.get(name)
        if text is None:
            text = self._names[name] = openmetrics.escape_metric_name(name)
        return text

    def _label_text(self, labels: dict[str, str]) -> str:
        key = tuple(labels.items())
        text = self._labels.get(key)
        if text is None:
            pairs = ",".join(
                f'{openmetrics.escape_label_name(k)}="{_label_value(v)}"'
                for k, v in sorted(labels.items())
            )
            text = self._labels[key] = f"{{{pairs}}}" if pairs else ""
        return text


def _label_value(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def _wants_text(accept: str | None) -> bool:
    """Whether an `Accept` header admits the text format (no header admits anything)."""
    if not accept:
        return True
    types = {part.split(";")[0].strip() for part in accept.split(",")}
    return bool(types & {"text/plain", "text/*", "*/*"})


WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def scrape_app(registry: CollectorRegistry) -> WsgiApp:
    """The endpoint's WSGI app: `ScrapeText` for GETs that accept text, else the library's."""
    text = ScrapeText()
    library = make_wsgi_app(registry)
    lock = threading.Lock()  # scrapes in parallel would only race for the GIL and the memory

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if (environ["REQUEST_METHOD"] != "GET" or environ.get("PATH_INFO") == "/favicon.ico"
                or not _wants_text(environ.get("HTTP_ACCEPT"))):
            return library(environ, start_response)
        names = parse_qs(environ.get("QUERY_STRING", "")).get("name[]")
        source = registry.restricted_registry(names) if names else registry
        with lock:
            body = text.render(source)
        headers = [("Content-Type", CONTENT_TYPE_LATEST)]
        if gzip_accepted(environ.get("HTTP_ACCEPT_ENCODING", "")):
            body = gzip.compress(body, compresslevel=GZIP_LEVEL)
            headers.append(("Content-Encoding", "gzip"))
        start_response("200 OK", headers)
        return [body]

    return app


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes are not logged."""


def start_scrape_server(
    port: int, addr: str, registry: CollectorRegistry
) -> tuple[ThreadingWSGIServer, threading.Thread]:
    """Serve `scrape_app(registry)` on addr:port from a daemon thread, as
    `prometheus_client.start_http_server` serves its own app.

    Raises:
        OSError: the address cannot be bound.
    """
    family = socket.getaddrinfo(addr, port, type=socket.SOCK_STREAM)[0][0]

    class Server(ThreadingWSGIServer):
        address_family = family

    server = make_server(addr, port, scrape_app(registry), Server, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="metrics-scrape", daemon=True)
    thread.start()
    return server, thread
