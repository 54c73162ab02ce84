"""The router's own CPU per submission, without gRPC: `RouterApp.submit` called in process.

`benchmarks/submit.py` measures SubmitTicket end to end under open-loop load, which on a
shared 2-core machine varies by a factor of two between runs of the same code. This measures
the part of it the router's code decides, with far less noise: a started router (its private
Redis with AOF, its SLA sweep and history writer, 24 agents with room for every ticket, the
default model, metrics recorded by the OpenTelemetry SDK as `ticket-router serve` records them,
without a scrape endpoint) takes `--count` submissions one at a time from this process, and the
CPU this process spends per submission (scoring, rules, the Redis client, metrics, the event
loop) is
reported with the Redis server's own, next to the baseline measured in the same run on the
same tickets: scoring alone (`ScoringAdapter.score`, then the SLA risk in a queue state), the
part of a submission that cannot go. The ratio submit / scoring is the figure to compare
between versions of the code.

Submissions and baseline are alternated `--repeat` times, each on fresh ticket ids; medians.

    python benchmarks/submit_inprocess.py [--count 3000] [--repeat 3] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.submit import bench_team, build_requests, cpu_seconds, prepare_model
from router.api.ticket_router.v1 import ticket_pb2 as pb
from router.app import RouterApp
from router.demo import demo_tickets
from router.serve import running_router
from router.settings import Settings, default_data_dir

WARM_UP = 200
"""Submissions before measuring (caches, connections, the first SLA checks)."""

async def register_team(app: RouterApp, agents: int) -> None:
    """The team `benchmarks/submit.py` registers, through the queues directly."""
    queues = [q.name for q in await app.queues.list_queues()]
    for member in bench_team(queues, agents):
        await app.queues.upsert_agent(member.agent_id, member.queues, member.skills,
                                      member.capacity)


def with_ids(tickets: list[pb.Ticket], prefix: str) -> list[pb.Ticket]:
    """Copies of the tickets with new ids (and texts), as `benchmarks/submit.py` sends them."""
    return [request.ticket for request in build_requests(tickets, prefix, len(tickets))]


async def submissions(
    app: RouterApp, tickets: list[pb.Ticket], redis_pid: int
) -> dict[str, float]:
    """CPU per submission (us): this process's, and the Redis server's."""
    redis_before = cpu_seconds(redis_pid)
    cpu, wall = time.process_time(), time.perf_counter()
    for ticket in tickets:
        await app.submit(ticket)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    redis_cpu = cpu_seconds(redis_pid) - redis_before
    n = len(tickets)
    return {"cpu_us": cpu / n * 1e6, "wall_us": wall / n * 1e6, "redis_us": redis_cpu / n * 1e6}


def scoring_alone(app: RouterApp, tickets: list[pb.Ticket]) -> float:
    """CPU per ticket (us) of the scores a submission needs: all but SLA risk, then the risk
    with its SLA basis (at P3, in an empty queue state: the same work as in a known one)."""
    scoring = app.scoring
    cpu = time.process_time()
    for ticket in tickets:
        scoring.score(ticket, None, sla_risk=False)
        scoring.sla_risk_with_basis(ticket, None, "P3")
    return (time.process_time() - cpu) / len(tickets) * 1e6


async def measure(args: argparse.Namespace) -> dict[str, object]:
    model_dir = prepare_model(args.model, args.model_cache)
    tickets = demo_tickets(args.count + WARM_UP, seed=7)
    with tempfile.TemporaryDirectory(prefix="bench-inproc-") as tmp:
        settings = Settings(data_dir=Path(tmp), port=0, metrics_port=0, model_dir=model_dir,
                            offer_timeout_s=3600)
        async with running_router(settings) as running:  # metrics_port 0: SDK, no endpoint
            app = running.app
            await register_team(app, args.agents)
            redis_pid = app_redis_pid(running.redis_url)
            for ticket in with_ids(tickets[:WARM_UP], "warm"):
                await app.submit(ticket)
            gc.collect()
            gc.freeze()
            runs, baselines = [], []
            measured = tickets[WARM_UP:]
            for repeat in range(args.repeat):
                app.scoring.scorer.forget_texts()
                baselines.append(scoring_alone(app, with_ids(measured, f"s{repeat}")))
                app.scoring.scorer.forget_texts()
                runs.append(await submissions(app, with_ids(measured, f"r{repeat}"), redis_pid))
    submit_us = statistics.median(r["cpu_us"] for r in runs)
    scoring_us = statistics.median(baselines)
    return {
        "count": args.count,
        "repeat": args.repeat,
        "submit_cpu_us": submit_us,
        "submit_wall_us": statistics.median(r["wall_us"] for r in runs),
        "redis_cpu_us": statistics.median(r["redis_us"] for r in runs),
        "scoring_cpu_us": scoring_us,
        "submit_over_scoring": submit_us / scoring_us,
        "runs": runs,
        "scoring_runs_us": baselines,
    }


def app_redis_pid(redis_url: str) -> int:
    """The pid of the Redis server at `redis_url` (the router's embedded one, on this host)."""
    client = redis.Redis.from_url(redis_url)
    try:
        return int(client.info("server")["process_id"])
    finally:
        client.close()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=3000, help="submissions per repeat")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--agents", type=int, default=24)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--model", type=Path, default=None,
                        help="model directory (default: the default model, trained once)")
    parser.add_argument("--model-cache", type=Path, default=default_data_dir())
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    result = asyncio.run(measure(args))
    if args.json:
        print(json.dumps(result))
        return
    print(f"submission (RouterApp.submit, no gRPC): {result['submit_cpu_us']:.0f} us CPU "
          f"({result['submit_wall_us']:.0f} us wall) + Redis {result['redis_cpu_us']:.0f} us")
    print(f"scoring alone (baseline, same tickets): {result['scoring_cpu_us']:.0f} us CPU")
    print(f"submit / scoring: {result['submit_over_scoring']:.2f}")


if __name__ == "__main__":  # the history writer is spawned: it re-imports this module
    main()
