"""Training on the demo set: better than the majority class, calibrated, honest splits."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from router.errors import InvalidArgument
from scoring.datasets import LabeledTickets
from scoring.evaluation import evaluate_task
from scoring.features import Ticket
from scoring.models import OTHER, fold_rare_classes, rare_class_threshold
from scoring.scorer import Scorer
from scoring.training import dedupe, split, train_scorer


@pytest.fixture(scope="module")
def results(trained: tuple[Scorer, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    scorer, sp = trained
    return {
        task: evaluate_task(scorer, task, sp["data"], sp["train"], sp["test"])
        for task in scorer.tasks
    }


def test_category_beats_the_majority_class_by_a_wide_margin(results: dict) -> None:
    result = results["category"]
    majority = result["baselines"]["majority"]
    assert result["metrics"]["accuracy"] >= majority["accuracy"] + 0.4
    assert result["metrics"]["macro_f1"] >= 0.75
    assert result["metrics"]["top3_accuracy"] >= result["metrics"]["accuracy"]


def test_priority_beats_the_majority_class(results: dict) -> None:
    result = results["priority"]
    assert result["metrics"]["accuracy"] >= result["baselines"]["majority"]["accuracy"] + 0.1
    assert result["metrics"]["macro_f1"] >= 2 * result["baselines"]["majority"]["macro_f1"]


def test_sla_risk_is_calibrated_on_held_out_data(results: dict) -> None:
    metrics = results["sla_risk"]["metrics"]
    base_rate = results["sla_risk"]["baselines"]["majority"]
    assert metrics["roc_auc"] >= 0.8
    assert metrics["brier"] < base_rate["brier"] - 0.02
    # the reliability curve stays near the diagonal where there are enough tickets
    for b in results["sla_risk"]["reliability"]:
        if b["count"] >= 50:
            assert abs(b["mean_predicted"] - b["observed"]) < 0.15


def test_sla_risk_rises_with_queue_pressure(scorer: Scorer) -> None:
    from scoring.features import QueueState

    ticket = Ticket("order not arrived", "my order has not arrived yet", channel="email",
                    customer_tier="standard")
    calm = scorer.sla_risk(ticket, QueueState(queue_depth=0, agents_available=10))
    busy = scorer.sla_risk(ticket, QueueState(queue_depth=40, agents_available=0,
                                              oldest_wait_s=7200))
    assert busy > calm + 0.2


def test_rare_classes_fold_into_other() -> None:
    labels = ["a"] * 500 + ["b"] * 480 + ["c"] * 9 + ["d"] * 3
    folded, rare = fold_rare_classes(labels)
    assert rare_class_threshold(len(labels)) == 10
    assert rare == ["c", "d"]
    assert folded.count(OTHER) == 12
    assert folded.count("a") == 500


def test_dedupe_drops_repeated_texts_before_the_split(demo_data: LabeledTickets) -> None:
    doubled = demo_data.subset(list(range(200)) + list(range(100)))
    assert len(dedupe(doubled)) == len(dedupe(demo_data.subset(list(range(200)))))


def test_split_is_by_time_when_tickets_have_times(demo_data: LabeledTickets) -> None:
    train, test, how = split(demo_data, "category")
    assert how == "time"
    latest_train = max(demo_data.tickets[i].created_at for i in train)
    earliest_test = min(demo_data.tickets[i].created_at for i in test)
    assert latest_train <= earliest_test
    assert len(test) == pytest.approx(0.2 * len(demo_data), abs=1)


def test_training_refuses_data_without_the_tasks(demo_data: LabeledTickets) -> None:
    with pytest.raises(InvalidArgument, match="no labels"):
        train_scorer(demo_data.subset(range(50)), ["nonsense"])


def test_metadata_describes_the_artefact(scorer: Scorer) -> None:
    meta = scorer.metadata
    assert meta["data"]["fingerprint_sha256"] and len(meta["data"]["fingerprint_sha256"]) == 64
    assert meta["library_versions"]["lightgbm"]
    assert meta["models"]["priority"]["labels"] == ["P1", "P2", "P3", "P4"]
    names = [f["name"] for f in meta["models"]["sla_risk"]["features"]]
    assert {"queue_depth", "agents_available", "oldest_wait_s", "queue_priority"} <= set(names)
    assert np.isfinite(len(meta["version"]))
