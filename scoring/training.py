"""Training: deduplicate, split (by time where time exists, else stratified), fit and save."""

from __future__ import annotations

import hashlib
import platform
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from router.errors import InvalidArgument
from scoring.datasets import LabeledTickets
from scoring.features import fit_task_features, ticket_text
from scoring.models import (
    OTHER,
    TASKS,
    TaskModel,
    fold_rare_classes,
    refit_task_model,
    train_task_model,
)
from scoring.scorer import FORMAT_VERSION, Scorer
from scoring.text import TextVectorizer

TEST_SIZE = 0.2
VALID_SIZE = 0.15
SPLIT_SEED = 42

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


def dedupe(data: LabeledTickets) -> LabeledTickets:
    """Drop repeated tickets, keeping the first: same text (or, without text, same fields)."""
    seen: set[Any] = set()
    keep = []
    for i, (ticket, queue) in enumerate(zip(data.tickets, data.queues, strict=True)):
        if ticket.subject or ticket.body:
            key: Any = (ticket.subject.strip(), ticket.body.strip())
        else:
            key = (repr(ticket), repr(queue))
        if key not in seen:
            seen.add(key)
            keep.append(i)
    return data.subset(keep)


def fingerprint(data: LabeledTickets) -> str:
    """A SHA-256 of the tickets and labels: which data a model was trained on."""
    digest = hashlib.sha256()
    for i, ticket in enumerate(data.tickets):
        digest.update(repr((ticket, data.queues[i])).encode())
        for task in sorted(data.labels):
            digest.update(data.labels[task][i].encode())
    return digest.hexdigest()


def split(
    data: LabeledTickets, primary_task: str, test_size: float = TEST_SIZE, seed: int = SPLIT_SEED
) -> tuple[np.ndarray, np.ndarray, str]:
    """Train/test row indices: the last `test_size` by time if times exist, else stratified.

    Returns:
        (train indices, test indices, "time" or "stratified").
    """
    n = len(data)
    if data.has_time():
        stamps = np.array([
            t.created_at.timestamp() if t.created_at else -np.inf for t in data.tickets
        ])
        order = np.argsort(stamps, kind="stable")
        cut = round(n * (1 - test_size))
        return np.sort(order[:cut]), np.sort(order[cut:]), "time"
    from sklearn.model_selection import train_test_split

    labels = np.array(data.labels[primary_task])
    counts = {v: int((labels == v).sum()) for v in set(labels)}
    # classes with one row cannot be stratified: they go to the training side
    strat_rows = np.array([i for i in range(n) if counts[labels[i]] >= 2])
    single = np.array([i for i in range(n) if counts[labels[i]] < 2], dtype=int)
    train, test = train_test_split(
        strat_rows, test_size=test_size, random_state=seed, stratify=labels[strat_rows]
    )
    return np.sort(np.concatenate([train, single])), np.sort(test), "stratified"


@dataclass
class TaskLabels:
    """A task's classes and the label codes of the rows that have a label."""

    labels: list[str]
    folded: list[str]
    positive: str | None


def task_labels(data: LabeledTickets, task: str, train_idx: np.ndarray) -> TaskLabels:
    """The classes of a task, from its training rows (rare categories folded into 'other')."""
    values = [data.labels[task][i] for i in train_idx if data.labels[task][i]]
    folded: list[str] = []
    if task == "category":
        values, folded = fold_rare_classes(values)
    present = sorted(set(values))
    if task == "sla_risk":
        positive = data.positive.get(task) or present[-1]
        negative = [v for v in present if v != positive]
        if len(negative) != 1:
            raise InvalidArgument(f"sla_risk needs two label values, got {present}", field="label")
        return TaskLabels([negative[0], positive], [], positive)
    order = data.label_order.get(task)
    if order:
        present = [v for v in order if v in present] + [v for v in present if v not in order]
    if len(present) < 2:
        raise InvalidArgument(f"task {task} needs at least two classes in the training data",
                              field="label")
    return TaskLabels(present, folded, None)


def encode(values: Sequence[str], spec: TaskLabels) -> np.ndarray:
    """Label codes (-1 for rows without a label); folded classes map to 'other'."""
    index = {label: i for i, label in enumerate(spec.labels)}
    other = index.get(OTHER, -1)
    return np.array(
        [-1 if not v else index.get(v, other) for v in values], dtype=np.int64
    )


def _valid_split(data: LabeledTickets, rows: np.ndarray, y: np.ndarray, seed: int) -> np.ndarray:
    """A boolean mask of the validation rows within `rows` (latest by time, else stratified)."""
    mask = np.zeros(len(rows), dtype=bool)
    n_valid = max(1, round(len(rows) * VALID_SIZE))
    if data.has_time():
        stamps = np.array([
            data.tickets[i].created_at.timestamp() if data.tickets[i].created_at else -np.inf
            for i in rows
        ])
        mask[np.argsort(stamps, kind="stable")[-n_valid:]] = True
        return mask
    rng = np.random.default_rng(seed)
    for cls in np.unique(y):
        members = np.flatnonzero(y == cls)
        take = round(len(members) * VALID_SIZE) if len(members) >= 5 else 0
        mask[rng.choice(members, size=take, replace=False)] = True
    return mask


def library_versions() -> dict[str, str]:
    """Versions of the libraries a model depends on."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in ("lightgbm", "scikit-learn", "numpy", "scipy", "ftfy", "ticket-router"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "unknown"
    return out


def train_scorer(
    data: LabeledTickets,
    tasks: Sequence[str] | None = None,
    *,
    seed: int = SPLIT_SEED,
    progress: Progress = _quiet,
    params: dict[str, Any] | None = None,
    refit: bool = True,
) -> tuple[Scorer, dict[str, Any]]:
    """Deduplicate, split, and train every requested task that the data has labels for.

    Args:
        data: labelled tickets from an adapter in `scoring.datasets`.
        tasks: tasks to train (default: every task with labels).
        seed: split and model seed.
        progress: called with a short message before each long step.
        params: LightGBM parameter overrides.
        refit: after choosing rounds, class weighting, offsets and calibration on the
            validation split, retrain on all training rows.

    Returns:
        The scorer (not yet saved) and the split description
        ``{"train": indices, "test": indices, "how": ..., "data": deduplicated data}``.

    Raises:
        InvalidArgument: no task to train, or a task has too few classes.
    """
    tasks = [t for t in (tasks or TASKS) if t in data.labels]
    if not tasks:
        raise InvalidArgument(f"the data has no labels for the tasks asked; it has "
                              f"{sorted(data.labels)}", field="task")
    progress(f"deduplicating {len(data)} tickets")
    n_raw = len(data)
    data = dedupe(data)
    primary = tasks[0]
    train_idx, test_idx, how = split(data, primary, seed=seed)
    progress(f"{how} split: {len(train_idx)} train / {len(test_idx)} test; cleaning text")
    cleaned_all = [ticket_text(t) for t in data.tickets]
    has_text = any(cleaned_all[i] for i in train_idx[:20000])
    vectorizer = None
    text_matrix = None
    if has_text:
        progress("learning the text vocabulary")
        vectorizer = TextVectorizer.fit([cleaned_all[i] for i in train_idx])
        text_matrix = vectorizer.transform(cleaned_all)
    models: dict[str, TaskModel] = {}
    task_meta: dict[str, Any] = {}
    for task in tasks:
        spec = task_labels(data, task, train_idx)
        y_all = encode(data.labels[task], spec)
        rows = train_idx[y_all[train_idx] >= 0]
        y = y_all[rows]
        valid_mask = _valid_split(data, rows, y, seed)
        fit_rows, valid_rows = rows[~valid_mask], rows[valid_mask]
        progress(f"{task}: fitting text and metadata features on {len(fit_rows)} tickets")
        tickets = data.tickets
        queues = data.queues
        use_queue = task == "sla_risk" and data.has_queue_state
        features, train_matrix = fit_task_features(
            [tickets[i] for i in fit_rows],
            [cleaned_all[i] for i in fit_rows],
            None if text_matrix is None else text_matrix[fit_rows],
            vectorizer,
            [queues[i] if task == "sla_risk" else None for i in fit_rows],
            y=y_all[fit_rows],
            labels=spec.labels,
            categorical_fields=data.categorical_fields,
            numeric_fields=data.numeric_fields,
            use_queue=use_queue,
            use_queue_priority=task == "sla_risk",
            seed=seed,
        )
        valid_matrix = features.matrix(
            [tickets[i] for i in valid_rows],
            [cleaned_all[i] for i in valid_rows],
            None if text_matrix is None else text_matrix[valid_rows],
            [queues[i] if task == "sla_risk" else None for i in valid_rows],
        )
        progress(f"{task}: training LightGBM ({len(spec.labels)} classes)")
        selected = train_task_model(
            task, features, train_matrix, y_all[fit_rows], valid_matrix, y_valid=y_all[valid_rows],
            params=params, seed=seed,
        )
        models[task] = selected
        if refit and len(valid_rows):
            progress(f"{task}: refitting on all {len(rows)} training tickets")
            features, full_matrix = fit_task_features(
                [tickets[i] for i in rows],
                [cleaned_all[i] for i in rows],
                None if text_matrix is None else text_matrix[rows],
                vectorizer,
                [queues[i] if task == "sla_risk" else None for i in rows],
                y=y,
                labels=spec.labels,
                categorical_fields=data.categorical_fields,
                numeric_fields=data.numeric_fields,
                use_queue=use_queue,
                use_queue_priority=task == "sla_risk",
                seed=seed,
            )
            models[task] = refit_task_model(
                selected, features, full_matrix, y, valid_fraction=VALID_SIZE, params=params,
                seed=seed,
            )
        task_meta[task] = {
            "labels": spec.labels,
            "folded_into_other": spec.folded,
            "fold_rule": "classes with < max(10, 0.5% of training rows) examples -> 'other'"
            if task == "category" else None,
            "positive": spec.positive,
            "n_train": len(fit_rows),
            "n_valid": len(valid_rows),
            "n_test": int((y_all[test_idx] >= 0).sum()),
            "features": [
                {"name": n, "readable": r, "categorical": i in features.categorical_columns}
                for i, (n, r) in enumerate(zip(features.names, features.readable, strict=True))
            ],
            "trees": models[task].booster.booster.num_trees(),
            "refit_on_all_training_rows": bool(refit and len(valid_rows)),
            "class_weight_power": getattr(selected, "weight_power", 0.0),
            "calibration": "platt" if models[task].calibration else None,
        }
    created = datetime.now(UTC)
    fp = fingerprint(data)
    version = f"{'+'.join(tasks)}-{created:%Y%m%dT%H%M%S}-{fp[:8]}"
    metadata = {
        "format_version": FORMAT_VERSION,
        "version": version,
        "created_at": created.isoformat(),
        "tasks": tasks,
        "models": task_meta,
        "data": {
            "name": data.name,
            "source": data.source,
            "fingerprint_sha256": fp,
            "rows": n_raw,
            "rows_after_dedupe": len(data),
            "split": {"how": how, "test_size": TEST_SIZE, "valid_size": VALID_SIZE,
                      "seed": seed, "train": len(train_idx), "test": len(test_idx)},
        },
        "text_terms": 0 if vectorizer is None else vectorizer.n_features,
        "library_versions": library_versions(),
    }
    scorer = Scorer(vectorizer, models, metadata)
    return scorer, {"train": train_idx, "test": test_idx, "how": how, "data": data}


def resplit(scorer: Scorer, data: LabeledTickets) -> dict[str, Any]:
    """Rebuild the deduplicated data and the split a scorer was trained with."""
    data = dedupe(data)
    split_meta = scorer.metadata["data"]["split"]
    train_idx, test_idx, how = split(data, scorer.tasks[0], seed=int(split_meta["seed"]))
    return {"train": train_idx, "test": test_idx, "how": how, "data": data}


def save_artefact(scorer: Scorer, out_root: Path) -> Path:
    """Save under ``out_root/<version>`` and return that directory."""
    return scorer.save(out_root / scorer.version)
