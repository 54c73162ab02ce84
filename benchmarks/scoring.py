"""Scoring speed: one ticket (all three scores, text included) and batches, against plain predict.

The baseline, measured in the same run on the same tickets, scores one ticket the same way but
calls plain `Booster.predict` on the single feature row of each task instead of LightGBM's fast
single-row path. Batch speed is the median of --batches batches, each of other unseen tickets
(one batch alone swings with the machine's other load).

    python benchmarks/scoring.py [--tickets 3000] [--batch 20000] [--batches 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# Run as a script, this file's folder comes first on sys.path and its name would shadow the
# `scoring` package: drop that folder.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import numpy as np  # noqa: E402

from scoring.datasets import demo_dataset  # noqa: E402
from scoring.default_model import load_or_train_default  # noqa: E402
from scoring.features import ticket_text  # noqa: E402
from scoring.scorer import Scorer, _normalise  # noqa: E402


def _plain_predict_score(scorer: Scorer, ticket: Any, queue: Any) -> None:
    """One ticket's three raw scores through `Booster.predict` on one row (the baseline)."""
    ticket = _normalise(ticket)
    clean = ticket_text(ticket)
    vector = scorer._vector(clean)
    for model in scorer.models.values():
        row = model.features.row(ticket, clean, vector, queue)
        model.booster.raw_plain_one(row)


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ms = np.asarray(samples) * 1000.0
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=3000, help="tickets timed one by one")
    parser.add_argument("--batch", type=int, default=20000, help="tickets scored as one batch")
    parser.add_argument("--batches", type=int, default=3,
                        help="batches timed, each of other tickets (the median is reported)")
    parser.add_argument("--baseline-tickets", type=int, default=300)
    parser.add_argument("--model", type=Path, help="model artefact (default: the demo model)")
    parser.add_argument("--json", action="store_true", help="print JSON only")
    args = parser.parse_args()
    if args.batches < 1:
        parser.error("--batches must be at least 1")

    with tempfile.TemporaryDirectory() as tmp:
        scorer = Scorer.load(args.model) if args.model else load_or_train_default(Path(tmp))
    # unseen tickets: another seed than the model's training data
    data = demo_dataset(n=max(args.tickets, args.batch * args.batches), seed=99)
    tickets, queues = data.tickets, data.queues

    for i in range(200):  # warm up caches and the fast-path buffers
        scorer.score(tickets[i], queues[i])
        _plain_predict_score(scorer, tickets[i], queues[i])

    single = []
    for i in range(args.tickets):
        scorer.forget_texts()  # every measured ticket is scored from its raw text
        started = time.perf_counter()
        scorer.score(tickets[i], queues[i])
        single.append(time.perf_counter() - started)
    baseline = []
    for i in range(args.baseline_tickets):
        started = time.perf_counter()
        _plain_predict_score(scorer, tickets[i], queues[i])
        baseline.append(time.perf_counter() - started)
    batch_rates = []
    for start in range(0, args.batch * args.batches, args.batch):
        part = slice(start, start + args.batch)
        started = time.perf_counter()
        scorer.score_batch(tickets[part], queues[part])
        batch_rates.append(args.batch / (time.perf_counter() - started))

    p50, p99 = _percentiles(single)
    base_p50, base_p99 = _percentiles(baseline)
    result = {
        "p50_ms": round(p50, 4),
        "p99_ms": round(p99, 4),
        "batch_per_s": round(float(np.median(batch_rates)), 1),
        "batch_per_s_each": [round(rate, 1) for rate in batch_rates],
        "baseline_p50_ms": round(base_p50, 4),
        "baseline_p99_ms": round(base_p99, 4),
        "speedup_p50": round(base_p50 / p50, 1),
        "tickets": args.tickets,
        "batch": args.batch,
        "batches": args.batches,
        "tasks": list(scorer.tasks),
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"single ticket, all {len(scorer.tasks)} scores: p50 {p50:.3f} ms, p99 {p99:.3f} ms "
          f"({args.tickets} tickets)")
    print(f"baseline (plain Booster.predict per row): p50 {base_p50:.3f} ms, p99 {base_p99:.3f} ms"
          f" -> fast path {result['speedup_p50']}x faster at p50")
    each = ", ".join(f"{rate:.0f}" for rate in batch_rates)
    print(f"batch: {result['batch_per_s']:.0f} tickets/s, median of {args.batches} batches of "
          f"{args.batch} other tickets ({each})")


if __name__ == "__main__":
    main()
