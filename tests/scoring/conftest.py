"""Fixtures: a scorer trained once per session on a small demo set, and its held-out split."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from scoring.datasets import LabeledTickets, demo_dataset
from scoring.scorer import Scorer
from scoring.training import train_scorer

DEMO_ROWS = 1500


@pytest.fixture(scope="session")
def demo_data() -> LabeledTickets:
    """A small demo set with all three tasks."""
    return demo_dataset(n=DEMO_ROWS, seed=3)


@pytest.fixture(scope="session")
def trained(demo_data: LabeledTickets) -> tuple[Scorer, dict[str, Any]]:
    """A scorer trained on the demo set, and its split (train/test indices, deduplicated data)."""
    return train_scorer(demo_data)


@pytest.fixture(scope="session")
def scorer(trained: tuple[Scorer, dict[str, Any]]) -> Scorer:
    """The trained demo scorer."""
    return trained[0]


@pytest.fixture(scope="session")
def saved_model(scorer: Scorer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo scorer saved as an artefact directory."""
    return scorer.save(tmp_path_factory.mktemp("model") / scorer.version)
