"""The default model: trained on the generated demo set in seconds, cached in the data directory."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from router.errors import FailedPrecondition, NotFound
from scoring.scorer import FORMAT_VERSION, Scorer

DEFAULT_MODEL_SUBDIR = Path("models") / "default"
"""Where the default model lives under the data directory."""

DEMO_TICKETS = 3000
DEMO_SEED = 7


def _current(directory: Path) -> bool:
    """Whether a cached default model exists and was written by this artefact format."""
    meta = directory / "metadata.json"
    if not meta.is_file():
        return False
    try:
        return json.loads(meta.read_text()).get("format_version") == FORMAT_VERSION
    except (OSError, json.JSONDecodeError):
        return False


def load_or_train_default(data_dir: Path, tickets: int = DEMO_TICKETS) -> Scorer:
    """Load the cached default model, or train it on the demo set (and cache it) first.

    A missing, damaged or older-format cache is retrained. Training writes to a temporary
    directory that is renamed into place, so concurrent processes never read half a model.

    Args:
        data_dir: the service's data directory; the model goes to ``data_dir/models/default``.
        tickets: size of the generated demo set it trains on.
    """
    from scoring.datasets import demo_dataset
    from scoring.training import train_scorer

    target = Path(data_dir) / DEFAULT_MODEL_SUBDIR
    if _current(target):
        try:
            return Scorer.load(target)
        except (FailedPrecondition, NotFound):
            pass  # damaged: retrain below
    scorer, _ = train_scorer(demo_dataset(n=tickets, seed=DEMO_SEED))
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".default-", dir=target.parent))
    scorer.save(staging)
    if target.exists():
        shutil.rmtree(target, ignore_errors=True)
    try:
        staging.rename(target)
    except OSError:
        # another process put its model in place first: use that one
        shutil.rmtree(staging, ignore_errors=True)
    return Scorer.load(target)
