"""SLA sweep cost per open ticket: re-scoring from stored SLA bases against re-scoring from text.

Every open ticket is re-scored by the SLA sweep once per interval (`sla_rescore_interval_s`,
30 s by default), in whichever router process claims it, so a backlog of open tickets costs
the routers CPU all the time: at 30 s, 30,000 open tickets are 1,000 checks a second. This
measures that cost. A private Redis (AOF everysec) holds `--tickets` open tickets (demo
tickets, distinct texts, more than the scorer keeps cleaned: a real backlog misses that cache)
in the default rules' queues; `SlaSweep.sweep_once` then checks all of them, `--passes` times,
each check a re-scoring, with the default model. CPU is this process's (the sweep, the Redis
client, the scorer) per check, and Redis's own per check.

- **bases** (the service): each ticket is submitted with its SLA basis, made where its
  submission scores its risk; every pass re-scores from the basis.
- **text** (the baseline, the service before bases): a risk model that makes no basis, so
  every pass scores from the text.

The submission's side is measured too: the CPU of scoring the risk at submission (with the
basis made and serialized, or without), after the ticket's other scores, as a router does.

Both run in the same process and Redis, each on a fresh tenant with the same tickets,
alternated `--repeat` times; medians are reported, with the ratio bases / text for the later
passes (the steady state of a backlog).

    python benchmarks/sla_sweep.py [--tickets 6000] [--passes 3] [--repeat 3] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis
import redis.asyncio

from queues import AsyncQueueStore
from router import convert
from router.api.ticket_router.v1 import ticket_pb2 as pb
from router.demo import demo_tickets
from router.embedded_redis import EmbeddedRedis
from router.live_rules import default_rules_text
from router.metrics import RouterMetrics
from router.rules import RuleSet
from router.scoring_adapter import ScoringAdapter
from router.settings import default_data_dir
from router.sla.escalation import load_escalation_policy
from router.sla.policy import load_sla_policy
from router.sla.sweep import SlaSweep
from scoring.default_model import load_or_train_default


class DefaultRules:
    """The default rule set's queues, SLA policy and escalation policy."""

    def __init__(self) -> None:
        rule_set = RuleSet.parse(default_rules_text(), "yaml")
        self.queues = sorted({*rule_set.category_queues.values(), rule_set.default_queue})
        self.sla_policy = load_sla_policy(rule_set.document)
        self.escalation_policy = load_escalation_policy(rule_set.document)


class TextOnly:
    """The baseline risk model: the same scorer, making no basis, so scoring from the text."""

    def __init__(self, adapter: ScoringAdapter) -> None:
        self.adapter = adapter

    def sla_risk_with_basis(
        self, ticket: pb.Ticket, stats: Any, priority: str
    ) -> tuple[float, str | None]:
        return self.adapter.sla_risk(ticket, stats, priority), None

    def sla_risk_from_basis(self, basis: str, stats: Any, priority: str) -> float | None:
        return None


def redis_cpu_s(client: redis.Redis) -> float:
    info = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


async def one_run(
    url: str, tenant: str, adapter: ScoringAdapter, risk: Any, messages: list[pb.Ticket],
    *, passes: int,
) -> tuple[float, list[tuple[float, float]]]:
    """The CPU seconds of scoring the risk at submission, per ticket, and (process CPU, Redis
    CPU) seconds per check, for each pass over every ticket."""
    sync = redis.Redis.from_url(url)
    client = redis.asyncio.Redis.from_url(url)
    queues = AsyncQueueStore(client, tenant=tenant)
    rules = DefaultRules()
    queue_names = rules.queues
    for name in queue_names:
        await queues.set_queue_policy(name)
    now = time.time()
    submission_cpu = 0.0
    for index, message in enumerate(messages):
        adapter.score(message, None, sla_risk=False)  # the other scores first, as a router
        started = time.process_time()
        _, basis = risk.sla_risk_with_basis(message, None, "P3")
        submission_cpu += time.process_time() - started
        await queues.submit(
            message.id, queue_names[index % len(queue_names)], 3,
            convert.channel_name(message.channel),
            deadline_ts=now + 7 * 86400,
            data={"ticket": convert.pack(message), "submitted_at": now},
            sla_basis=basis,
        )
    sweep = SlaSweep(queues, rules, risk, RouterMetrics(), interval_s=0.001, batch=100)
    costs = []
    try:
        for _ in range(passes):
            checked = 0
            cpu, server = time.process_time(), redis_cpu_s(sync)
            while checked < len(messages):
                report = await sweep.sweep_once()
                checked += len(report.scored)
                if not report.checked:
                    await asyncio.sleep(0.002)  # the next checks come due in a millisecond
            costs.append(((time.process_time() - cpu) / checked,
                          (redis_cpu_s(sync) - server) / checked))
    finally:
        await client.aclose()
        sync.close()
    return submission_cpu / len(messages), costs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tickets", type=int, default=6000, help="open tickets")
    parser.add_argument("--passes", type=int, default=3, help="checks of every ticket a run")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each, alternated")
    parser.add_argument("--model-cache", type=Path, default=default_data_dir(),
                        help="where the default model is cached (as `ticket-router serve`)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.passes < 2:
        parser.error("--passes must be at least 2: the first pass fires the escalations")

    adapter = ScoringAdapter(load_or_train_default(args.model_cache))
    messages = demo_tickets(args.tickets, seed=11, id_prefix="t")
    runs: dict[str, list[list[tuple[float, float]]]] = {"bases": [], "text": []}
    submissions: dict[str, list[float]] = {"bases": [], "text": []}
    with tempfile.TemporaryDirectory() as directory, EmbeddedRedis(Path(directory)) as server:
        for repeat in range(args.repeat):
            for kind, risk in (("text", TextOnly(adapter)), ("bases", adapter)):
                tenant = f"bench-{kind}-{repeat}"
                submission, costs = asyncio.run(
                    one_run(server.url, tenant, adapter, risk, messages, passes=args.passes))
                submissions[kind].append(submission)
                runs[kind].append(costs)
                if not args.json:
                    print(f"  run {repeat + 1}/{args.repeat} {kind}: done", file=sys.stderr)

    def median_us(kind: str, first: bool, which: int) -> float:
        values = [run[0][which] if first else statistics.mean(c[which] for c in run[1:])
                  for run in runs[kind]]
        return statistics.median(values) * 1e6

    result = {
        "open_tickets": args.tickets,
        "passes": args.passes,
        "first_pass_us": {k: round(median_us(k, True, 0), 1) for k in runs},
        "later_passes_us": {k: round(median_us(k, False, 0), 1) for k in runs},
        "redis_later_passes_us": {k: round(median_us(k, False, 1), 1) for k in runs},
        "submission_us": {k: round(statistics.median(v) * 1e6, 1) for k, v in submissions.items()},
    }
    for which in ("first", "later"):
        passes = result[f"{which}_pass{'es' if which == 'later' else ''}_us"]
        result[f"ratio_{which}_bases_to_text"] = round(passes["bases"] / passes["text"], 2)
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{args.tickets} open tickets, {args.passes} checks each, median of {args.repeat}; "
          "CPU per check (this process; Redis's own)")
    for kind, label in (("text", "from text (baseline)"), ("bases", "from SLA bases")):
        print(f"  {label:22s} first pass {result['first_pass_us'][kind]:7.1f} us, later passes "
              f"{result['later_passes_us'][kind]:7.1f} us (Redis "
              f"{result['redis_later_passes_us'][kind]:5.1f} us)")
    print(f"  bases / text: first pass {result['ratio_first_bases_to_text']:.2f}x, later "
          f"passes {result['ratio_later_bases_to_text']:.2f}x")
    print(f"  the risk scored at submission: {result['submission_us']['text']:.1f} us without "
          f"a basis, {result['submission_us']['bases']:.1f} us with one")
    return 0


if __name__ == "__main__":
    sys.exit(main())
