"""LightGBM's threads follow the CPUs the process may use, also when it is pinned after
LightGBM loaded (a router's `cpu_affinity`): two OpenMP threads spinning on one core made
training the default model take over 300 s instead of 11 s. Waiting OpenMP threads sleep
instead of spinning (`OMP_WAIT_POLICY=PASSIVE`, set by the scoring package unless the user set
it)."""

from __future__ import annotations

import json
import os
import re
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


def _spin_counts(environment: dict[str, str]) -> list[str]:
    """GOMP_SPINCOUNT of every libgomp loaded by `import scoring.booster`, as libgomp shows it."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    env |= {"OMP_DISPLAY_ENV": "VERBOSE", **environment}
    out = subprocess.run([sys.executable, "-c", "import scoring.booster"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120, check=True)
    counts = re.findall(r"GOMP_SPINCOUNT = '(\d+)'", out.stderr)
    if not counts:
        pytest.skip("LightGBM's OpenMP here is not libgomp (it shows no GOMP_SPINCOUNT)")
    return counts


def test_openmp_threads_sleep_while_they_wait_unless_the_user_says_otherwise() -> None:
    assert set(_spin_counts({})) == {"0"}  # passive: no spinning
    assert "0" not in _spin_counts({"OMP_WAIT_POLICY": "ACTIVE"})
