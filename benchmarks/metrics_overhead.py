"""Cost of recording metrics: RouterMetrics on the real SDK vs a no-op meter, in the same run.

Each "ticket" records what the service records over one ticket's life: submitted, routed,
an offer made and accepted, time to assign/accept/first response/resolve, two RPCs and one
scoring duration. The baseline is the same code on OpenTelemetry's no-op meter provider (so it
includes RouterMetrics' own attribute checks); the ratio is the SDK's extra cost. A Prometheus
collection runs every `--scrape-every` tickets, as a scrape would.

    python benchmarks/metrics_overhead.py [--tickets 20000] [--repeat 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import time

import grpc
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.metrics import MeterProvider
from prometheus_client import CollectorRegistry, generate_latest

from router.metrics import METER_NAME, QueueSnapshot, RouterMetrics

QUEUES = ("billing", "support", "hardware", "network")
PRIORITIES = ("P1", "P2", "P3", "P4")
CHANNELS = ("email", "chat", "phone")
RECORDS_PER_TICKET = 11


def record_tickets(metrics: RouterMetrics, tickets: int, scrape: object | None, every: int) -> None:
    """Record the metrics of `tickets` ticket lifecycles."""
    for index in range(tickets):
        queue = QUEUES[index % 4]
        priority = PRIORITIES[index % 4]
        channel = CHANNELS[index % 3]
        metrics.record_submitted(queue, "model", priority, channel)
        metrics.record_routed(queue, "model", priority, channel)
        metrics.record_offer("made", queue, priority, channel)
        metrics.record_offer("accepted", queue, priority, channel)
        metrics.record_time_to_assign(0.4, queue, priority, channel)
        metrics.record_time_to_accept(12.0, queue, priority, channel)
        metrics.record_time_to_first_response(900.0, queue, priority, channel)
        metrics.record_time_to_resolve(7200.0, queue, priority, channel)
        metrics.record_scoring_duration(0.002, "category")
        metrics.record_rpc(
            0.003, "ticket_router.v1.TicketService", "SubmitTicket", grpc.StatusCode.OK
        )
        metrics.record_rpc(
            0.001, "ticket_router.v1.AgentService", "AcceptOffer", grpc.StatusCode.OK
        )
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


def with_sdk() -> tuple[RouterMetrics, CollectorRegistry, MeterProvider]:
    registry = CollectorRegistry()
    provider = MeterProvider(metric_readers=[PrometheusMetricReader(registry=registry)])
    return RouterMetrics(provider.get_meter(METER_NAME)), registry, provider


def with_noop() -> tuple[RouterMetrics, None, None]:
    return RouterMetrics(NoOpMeterProvider().get_meter(METER_NAME)), None, None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--scrape-every", type=int, default=5_000)
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


if __name__ == "__main__":
    main()
