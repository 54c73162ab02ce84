"""Cost of recording metrics: RouterMetrics on the real SDK vs a no-op meter, in the same run.

Each "ticket" records what the service records over one ticket's life: submitted, routed,
an offer made and accepted, time to assign/accept/first response/resolve, two RPCs and one
scoring duration. The baseline is the same code on OpenTelemetry's no-op meter provider (so it
includes RouterMetrics' own attribute checks); the ratio is the SDK's extra cost. A Prometheus
collection runs every `--scrape-every` tickets, as a scrape would.

`--scrape` also times one scrape once every queue x priority x channel has recorded a whole
lifecycle (four response-time histograms per combination): the router's endpoint (its reader,
`router.telemetry.prometheus_reader`, rendered by `router.scrape_endpoint.ScrapeText`) against
the libraries' defaults as the baseline (OpenTelemetry's default reader and prometheus_client's
`generate_latest`), and between them the router's reader with `generate_latest`. A scrape holds
the GIL while RPCs wait, so its time is latency.

    python benchmarks/metrics_overhead.py [--tickets 20000] [--repeat 5] [--scrape] [--json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import time
from collections.abc import Callable

import grpc
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.metrics import MeterProvider
from prometheus_client import CollectorRegistry, generate_latest

from router.metrics import METER_NAME, QueueSnapshot, RouterMetrics
from router.scrape_endpoint import ScrapeText
from router.telemetry import prometheus_reader

QUEUES = ("billing", "support", "hardware", "network")
PRIORITIES = ("P1", "P2", "P3", "P4")
CHANNELS = ("email", "chat", "phone")
RECORDS_PER_TICKET = 11


def record_lifecycle(metrics: RouterMetrics, queue: str, priority: str, channel: str) -> None:
    """Record what one ticket's life records."""
    metrics.record_submitted(queue, "model", priority, channel)
    metrics.record_routed(queue, "model", priority, channel)
    metrics.record_offer("made", queue, priority, channel)
    metrics.record_offer("accepted", queue, priority, channel)
    metrics.record_time_to_assign(0.4, queue, priority, channel)
    metrics.record_time_to_accept(12.0, queue, priority, channel)
    metrics.record_time_to_first_response(900.0, queue, priority, channel)
    metrics.record_time_to_resolve(7200.0, queue, priority, channel)
    metrics.record_scoring_duration(0.002, "category")
    metrics.record_rpc(0.003, "ticket_router.v1.TicketService", "SubmitTicket", grpc.StatusCode.OK)
    metrics.record_rpc(0.001, "ticket_router.v1.AgentService", "AcceptOffer", grpc.StatusCode.OK)


def record_tickets(metrics: RouterMetrics, tickets: int, scrape: object | None, every: int) -> None:
    """Record the metrics of `tickets` ticket lifecycles."""
    for index in range(tickets):
        record_lifecycle(metrics, QUEUES[index % 4], PRIORITIES[index % 4], CHANNELS[index % 3])
        if scrape is not None and index % every == every - 1:
            generate_latest(scrape)  # type: ignore[arg-type]


def best_seconds(build: object, tickets: int, repeat: int, every: int) -> float:
    """Fastest of `repeat` runs, each on a fresh meter provider."""
    best = float("inf")
    for _ in range(repeat):
        metrics, registry, provider = build()  # type: ignore[operator]
        metrics.observe_queues(lambda: [QueueSnapshot(q, 3, 10.0, 2, 1) for q in QUEUES])
        started = time.perf_counter()
        record_tickets(metrics, tickets, registry, every)
        best = min(best, time.perf_counter() - started)
        if provider is not None:
            provider.shutdown()
    return best


def with_sdk(
    reader: Callable[[CollectorRegistry], PrometheusMetricReader] = prometheus_reader,
) -> tuple[RouterMetrics, CollectorRegistry, MeterProvider]:
    registry = CollectorRegistry()
    provider = MeterProvider(metric_readers=[reader(registry)])
    return RouterMetrics(provider.get_meter(METER_NAME)), registry, provider


def otel_default_reader(registry: CollectorRegistry) -> PrometheusMetricReader:
    return PrometheusMetricReader(registry=registry)


def scrape_cost(
    reader: Callable[[CollectorRegistry], PrometheusMetricReader],
    render: Callable[[CollectorRegistry], bytes],
    repeat: int,
) -> tuple[int, float]:
    """(lines, median ms) of one scrape once every queue x priority x channel has a lifecycle;
    the first scrape is not timed (a renderer's memory of the labels starts there, as a
    running endpoint's has)."""
    metrics, registry, provider = with_sdk(reader)
    for queue, priority, channel in itertools.product(QUEUES, PRIORITIES, CHANNELS):
        record_lifecycle(metrics, queue, priority, channel)
    lines = render(registry).count(b"\n")
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        render(registry)
        times.append(time.perf_counter() - started)
    provider.shutdown()
    return lines, statistics.median(times) * 1e3


def with_noop() -> tuple[RouterMetrics, None, None]:
    return RouterMetrics(NoOpMeterProvider().get_meter(METER_NAME)), None, None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--scrape-every", type=int, default=5_000)
    parser.add_argument("--scrape", action="store_true",
                        help="also time one scrape of every series against OpenTelemetry's reader")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    noop = best_seconds(with_noop, args.tickets, args.repeat, args.scrape_every)
    sdk = best_seconds(with_sdk, args.tickets, args.repeat, args.scrape_every)
    per_ticket_us = {"noop": noop / args.tickets * 1e6, "sdk": sdk / args.tickets * 1e6}
    result = {
        "tickets": args.tickets,
        "records_per_ticket": RECORDS_PER_TICKET,
        "noop_us_per_ticket": round(per_ticket_us["noop"], 2),
        "sdk_us_per_ticket": round(per_ticket_us["sdk"], 2),
        "sdk_us_per_record": round(per_ticket_us["sdk"] / RECORDS_PER_TICKET, 3),
        "ratio_sdk_to_noop": round(sdk / noop, 2),
    }
    if args.scrape:
        scrape_repeat = max(args.repeat, 5)
        base_lines, base_ms = scrape_cost(otel_default_reader, generate_latest, scrape_repeat)
        _, reader_ms = scrape_cost(prometheus_reader, generate_latest, scrape_repeat)
        lines, ms = scrape_cost(prometheus_reader, ScrapeText().render, scrape_repeat)
        result |= {
            "scrape_lines": lines, "scrape_ms": round(ms, 2),
            "reader_generate_latest_ms": round(reader_ms, 2),
            "baseline_scrape_lines": base_lines, "baseline_scrape_ms": round(base_ms, 2),
            "ratio_scrape_to_baseline": round(ms / base_ms, 2),
        }
    if args.json:
        print(json.dumps(result))
        return
    print(f"{args.tickets} tickets x {RECORDS_PER_TICKET} records, best of {args.repeat}")
    print(f"  no-op meter (baseline): {result['noop_us_per_ticket']:8.2f} us per ticket")
    print(
        f"  SDK + Prometheus:       {result['sdk_us_per_ticket']:8.2f} us per ticket "
        f"({result['sdk_us_per_record']} us per record)"
    )
    print(f"  ratio SDK / no-op:      {result['ratio_sdk_to_noop']:8.2f}x")
    if args.scrape:
        series = len(QUEUES) * len(PRIORITIES) * len(CHANNELS)
        print(f"one scrape, {series} queue x priority x channel series per histogram, "
              f"median of {scrape_repeat}")
        print(f"  the libraries' defaults (baseline):   {result['baseline_scrape_lines']:6d} lines "
              f"{result['baseline_scrape_ms']:8.2f} ms")
        print(f"  the router's reader, generate_latest: {result['scrape_lines']:6d} lines "
              f"{result['reader_generate_latest_ms']:8.2f} ms")
        print(f"  the router's endpoint (ScrapeText):   {result['scrape_lines']:6d} lines "
              f"{result['scrape_ms']:8.2f} ms")
        print(f"  ratio endpoint / baseline:            {result['ratio_scrape_to_baseline']:8.2f}x")


if __name__ == "__main__":
    main()
