"""A process that runs the SLA sweep loop against a shared Redis and logs what each sweep did.

Run as `python -m tests.router.sla.sweep_worker REDIS_URL MODEL_DIR LOG INTERVAL_S BATCH TICK_S`.
It follows the rule set published in Redis (as a router does), scores with the model in
MODEL_DIR, writes "ready" once sweeping, then one JSON line per sweep that did something:
{"now": claim time, "scored": [ticket ids], "escalated": [[ticket, level]]}. It runs until
killed; every line is flushed, so a killed worker's log is a subset of what happened.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import redis.asyncio
from opentelemetry.metrics import NoOpMeterProvider

from queues import AsyncQueueStore
from router.live_rules import LiveRules
from router.metrics import METER_NAME, RouterMetrics
from router.scoring_adapter import ScoringAdapter
from router.sla.sweep import SlaSweep, SweepReport
from scoring.scorer import Scorer


async def main(arguments: list[str]) -> None:
    url, model_dir, log = arguments[:3]
    interval_s, batch, tick_s = float(arguments[3]), int(arguments[4]), float(arguments[5])
    client = redis.asyncio.Redis.from_url(url)
    rules = LiveRules(client)
    await rules.start()
    queues = AsyncQueueStore(client)
    sweep = SlaSweep(
        queues, rules, ScoringAdapter(Scorer.load(Path(model_dir))),
        RouterMetrics(NoOpMeterProvider().get_meter(METER_NAME)),
        create_queue=queues.set_queue_policy,
        interval_s=interval_s, batch=batch, tick_s=tick_s,
    )
    with open(log, "a", encoding="utf-8") as out:
        out.write("ready\n")
        out.flush()

        def write(report: SweepReport) -> None:
            if report.scored or report.escalated:
                out.write(json.dumps({"now": report.now, "scored": report.scored,
                                      "escalated": report.escalated}) + "\n")
                out.flush()

        await sweep.run(write)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:7]))
