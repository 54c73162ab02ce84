"""The default model: trained from the demo set on first use, then loaded from its cache."""

from __future__ import annotations

import json
from pathlib import Path

from scoring.default_model import DEFAULT_MODEL_SUBDIR, load_or_train_default
from scoring.features import QueueState, Ticket


def test_default_model_is_trained_once_then_loaded(tmp_path: Path) -> None:
    first = load_or_train_default(tmp_path, tickets=1000)
    assert first.tasks == ("category", "priority", "sla_risk")
    scores = first.score(Ticket("Parcel damaged", "the parcel arrived damaged"), QueueState(3, 2))
    assert scores.category == "shipping"
    second = load_or_train_default(tmp_path, tickets=1000)
    assert second.version == first.version

    meta_file = tmp_path / DEFAULT_MODEL_SUBDIR / "metadata.json"
    meta = json.loads(meta_file.read_text())
    meta["format_version"] = 0
    meta_file.write_text(json.dumps(meta))
    retrained = load_or_train_default(tmp_path, tickets=1000)
    assert json.loads(meta_file.read_text())["format_version"] != 0
    assert retrained.tasks == first.tasks
