"""`ticket-router serve` refuses bad settings with one line that says what to fix."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from router.embedded_redis import process_alive


def serve(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "router", "serve", "--port", "0", "--metrics-port", "0", *args],
        check=False, capture_output=True, text=True, timeout=120, env=env,
    )


@pytest.mark.parametrize(
    ("setting", "words"),
    [
        ("missing-file", "settings file"),
        ("typo", "prot: Extra inputs are not permitted"),
    ],
)
def test_a_bad_settings_file_is_one_line_not_a_traceback(
    tmp_path: Path, setting: str, words: str
) -> None:
    config = tmp_path / "router.toml"
    if setting == "typo":
        config.write_text("prot = 6000\n")
    done = serve("--config", str(config), "--data-dir", str(tmp_path / "data"))
    assert done.returncode == 2
    assert words in done.stderr and "Traceback" not in done.stderr + done.stdout


def test_a_missing_rules_file_is_refused_and_nothing_is_left_running(
    tmp_path: Path, model_dir: Path
) -> None:
    done = serve("--rules", str(tmp_path / "nowhere.yaml"), "--model", str(model_dir),
                 "--data-dir", str(tmp_path / "data"))
    assert done.returncode == 2
    assert "cannot read the rules file" in done.stderr and "Traceback" not in done.stderr
    owner = tmp_path / "data" / "redis" / "owner.json"  # removed when its Redis stops
    assert not owner.exists() or not process_alive(json.loads(owner.read_text())["server_pid"])
