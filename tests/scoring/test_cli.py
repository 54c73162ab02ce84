"""`ticket-router train` and `evaluate` on a CSV they have never seen, through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from router.cli import app
from scoring.demo_data import write_demo_csv
from scoring.scorer import Scorer

CLASS_KEYS = {"accuracy", "macro_f1", "weighted_f1", "top3_accuracy"}
BINARY_KEYS = {"roc_auc", "pr_auc", "brier", "log_loss"}


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A helpdesk export with other column names and a label set of its own, gzipped."""
    path = tmp_path_factory.mktemp("csv") / "export.csv"
    write_demo_csv(path, n=800, seed=11)
    frame = pd.read_csv(path)
    frame = frame.rename(columns={"subject": "title", "body": "text", "created_at": "opened"})
    frame["team"] = frame["category"].map(lambda c: f"team-{c[:3]}")
    gz = path.with_suffix(".csv.gz")
    frame.to_csv(gz, index=False)
    return gz


def _json(output: str) -> dict:
    return json.loads(output)


def test_train_and_evaluate_a_category_csv(export: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    flags = ["--csv", str(export), "--text-col", "title", "--text-col", "text",
             "--label-col", "team", "--time-col", "opened", "--cat-col", "channel"]
    trained = runner.invoke(app, ["train", *flags, "--out", str(tmp_path), "--json"])
    assert trained.exit_code == 0, trained.output
    summary = _json(trained.output)
    model = Path(summary["model"])
    assert Scorer.load(model).tasks == ("category",)
    result = summary["results"][0]
    assert result["task"] == "category"
    assert set(result["metrics"]) >= CLASS_KEYS
    assert result["metrics"]["accuracy"] > result["baselines"]["majority"]["accuracy"] + 0.3

    evaluated = runner.invoke(app, ["evaluate", "--model", str(model), "--json"])
    assert evaluated.exit_code == 0, evaluated.output
    report = _json(evaluated.output)
    assert report["task"] == "category"
    assert set(report["baselines"]) >= {"majority", "logreg"}
    assert set(report["baselines"]["logreg"]) >= CLASS_KEYS
    assert report["metrics"] == pytest.approx(result["metrics"])
    assert (model / "report" / "report.html").is_file()
    assert (model / "report" / "category_confusion.png").stat().st_size > 1000

    again = runner.invoke(app, ["evaluate", "--model", str(model), *flags, "--json"])
    assert again.exit_code == 0, again.output
    assert _json(again.output)["metrics"]["accuracy"] == pytest.approx(
        report["metrics"]["accuracy"])


def test_a_two_valued_label_trains_a_calibrated_probability(export: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    trained = runner.invoke(app, [
        "train", "--csv", str(export), "--text-col", "text", "--label-col", "sla_breached",
        "--cat-col", "customer_tier", "--num-col", "queue_depth", "--num-col", "agents_available",
        "--time-col", "opened", "--out", str(tmp_path), "--json", "--no-baselines",
    ])
    assert trained.exit_code == 0, trained.output
    model = Path(_json(trained.output)["model"])
    evaluated = runner.invoke(app, ["evaluate", "--model", str(model), "--json"])
    assert evaluated.exit_code == 0, evaluated.output
    report = _json(evaluated.output)
    assert report["task"] == "sla_risk"
    assert set(report["metrics"]) >= BINARY_KEYS
    assert report["metrics"]["brier"] < report["baselines"]["majority"]["brier"]
    assert (model / "report" / "sla_risk_reliability.png").is_file()


def test_bad_flags_give_a_message_not_a_traceback(export: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["train", "--csv", str(export), "--label-col", "nope",
                                 "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "no column" in result.output
    missing = runner.invoke(app, ["evaluate", "--model", str(tmp_path / "none")])
    assert missing.exit_code == 2
    assert "metadata.json" in missing.output


def test_evaluate_json_of_a_multi_task_model_is_one_object(saved_model: Path) -> None:
    evaluated = CliRunner().invoke(app, ["evaluate", "--model", str(saved_model), "--json"])
    assert evaluated.exit_code == 0, evaluated.output
    report = _json(evaluated.output)
    assert report["version"] == saved_model.name
    assert [r["task"] for r in report["results"]] == list(Scorer.load(saved_model).tasks)
    for result in report["results"]:
        assert set(result["baselines"]) >= {"majority", "logreg"}
