"""LightGBM's threads follow the CPUs the process may use, also when it is pinned after
LightGBM loaded (a router's `cpu_affinity`): two OpenMP threads spinning on one core made
training the default model take over 300 s instead of 11 s."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity"),
    reason="cpu_affinity is Linux-only (os.sched_setaffinity); the README says so",
)
def test_a_process_pinned_after_lightgbm_loaded_trains_and_predicts_on_its_cpus() -> None:
    script = textwrap.dedent("""
        import json, os
        import numpy as np
        from scoring.booster import lightgbm_threads, train_booster
        from router.cpu_affinity import pin_process

        before = lightgbm_threads()
        pin_process([max(os.sched_getaffinity(0))])
        rng = np.random.default_rng(0)
        x = rng.normal(size=(400, 3))
        y = (x[:, 0] > 0).astype(int)
        booster = train_booster(x, y, num_class=2, categorical=[], feature_names=["a", "b", "c"],
                                num_rounds=5)
        print(json.dumps({"before": before, "after": lightgbm_threads(),
                          "trained_with": booster.params["num_threads"]}))
    """)
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                         text=True, timeout=120, check=True)
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["before"] == len(os.sched_getaffinity(0))
    assert seen["after"] == 1
    assert seen["trained_with"] == 1
