"""One task's model: its features, its LightGBM booster, its labels, decision offsets, calibration.

* category: multiclass; classes with fewer than max(10, 0.5 % of the training rows) examples are
  folded into "other" (`fold_rare_classes`).
* priority: ordinal classes, labels kept most urgent first; modelled as multiclass (the classes are
  few and their boundaries are not evenly spaced, so a multiclass model loses nothing and keeps
  per-class probabilities and explanations).
* sla_risk: binary, Platt-calibrated on a held-out validation split.

Multiclass decisions add a per-class offset ``-alpha * log(prior)`` to the raw scores, with alpha
chosen on the validation split to maximise accuracy + macro-F1: it trades a little accuracy on big
classes for recall on small ones.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from scoring.booster import BoosterModel, train_booster
from scoring.features import TaskFeatures

TASKS = ("category", "priority", "sla_risk")
"""Every task a scorer can have."""

OTHER = "other"
"""The class rare categories are folded into."""

WEIGHT_POWERS = (0.0, 0.5)
"""Class-weighting strengths tried for multiclass tasks (weight = (n / (k * n_class)) ** power)."""


def rare_class_threshold(n_rows: int) -> int:
    """Classes with fewer training examples than this are folded into `OTHER`."""
    return max(10, math.ceil(0.005 * n_rows))


def fold_rare_classes(labels: Sequence[str]) -> tuple[list[str], list[str]]:
    """Fold rare classes into `OTHER`.

    Returns:
        (folded labels, the classes that were folded).
    """
    counts = Counter(labels)
    threshold = rare_class_threshold(len(labels))
    rare = sorted(c for c, n in counts.items() if n < threshold)
    if len(rare) <= 1 and OTHER not in counts:
        return list(labels), []  # folding one class only renames it
    rare_set = set(rare)
    return [OTHER if lab in rare_set else lab for lab in labels], rare


def softmax(raw: np.ndarray) -> np.ndarray:
    """Row-wise softmax."""
    shifted = raw - raw.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)


def sigmoid(x: np.ndarray | float) -> np.ndarray:
    """Logistic function."""
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


def linear_prior(
    text_prior: tuple[float, ...] | None, rows: np.ndarray, n_outputs: int
) -> np.ndarray:
    """Scaled linear scores (the first columns of `rows`): the raw score the trees start from."""
    if text_prior is None:
        return np.zeros((*rows.shape[:-1], n_outputs))
    *scales, shift = text_prior
    prior = np.full((*rows.shape[:-1], n_outputs), shift, dtype=np.float64)
    for view, scale in enumerate(scales):
        prior += scale * rows[..., view * n_outputs : (view + 1) * n_outputs]
    return prior


@dataclass
class TaskModel:
    """A trained task: features -> booster -> offsets/calibration -> probabilities."""

    task: str
    features: TaskFeatures
    booster: BoosterModel
    class_offset: np.ndarray  # added to raw scores (multiclass); zeros otherwise
    calibration: tuple[float, float] | None  # Platt (a, b): p = sigmoid(a * raw + b)
    text_prior: tuple[float, ...] | None = None  # scale per linear view, then a shift

    def prior(self, rows: np.ndarray) -> np.ndarray:
        """The raw score the trees start from: scaled linear text scores (0 without text).

        Args:
            rows: one feature row (1-D) or a matrix; the text scores are its first columns.
        """
        return linear_prior(self.text_prior, rows, self.booster.n_outputs)

    def raw_one(self, row: np.ndarray) -> np.ndarray:
        """Raw scores of one feature row: prior plus trees (LightGBM's fast single-row path)."""
        return self.booster.raw_one(row) + self.prior(row)

    def raw(self, matrix: np.ndarray) -> np.ndarray:
        """Raw scores of many feature rows: prior plus trees."""
        return self.booster.raw(matrix) + self.prior(matrix)

    @property
    def labels(self) -> list[str]:
        """Class names (for binary: [negative, positive])."""
        return self.features.labels

    @property
    def binary(self) -> bool:
        """Whether this is a binary (probability) task."""
        return len(self.labels) == 2

    def decision_scores(self, raw: np.ndarray) -> np.ndarray:
        """Raw booster scores plus the decision offsets (what argmax and softmax see)."""
        return raw + self.class_offset

    def probabilities(self, raw: np.ndarray) -> np.ndarray:
        """Probabilities from raw scores: per class (multiclass) or P(positive) (binary)."""
        if self.binary:
            a, b = self.calibration or (1.0, 0.0)
            return sigmoid(a * raw[..., 0] + b)
        return softmax(self.decision_scores(raw))

    def save(self, directory: Path) -> None:
        """Write the booster, feature settings and arrays under `directory`."""
        directory.mkdir(parents=True, exist_ok=True)
        self.booster.save(directory / "booster.txt")
        meta, arrays = self.features.to_state()
        np.savez_compressed(directory / "arrays.npz", class_offset=self.class_offset, **arrays)
        (directory / "features.json").write_text(
            json.dumps({"task": self.task, "features": meta, "calibration": self.calibration,
                        "text_prior": self.text_prior}, indent=1, ensure_ascii=False)
        )

    @classmethod
    def load(cls, directory: Path) -> TaskModel:
        """Read a task model written by `save`."""
        meta = json.loads((directory / "features.json").read_text())
        with np.load(directory / "arrays.npz") as npz:
            arrays = {k: npz[k] for k in npz.files}
        class_offset = arrays.pop("class_offset")
        calibration = meta["calibration"]
        return cls(
            task=meta["task"],
            features=TaskFeatures.from_state(meta["features"], arrays),
            booster=BoosterModel.load(directory / "booster.txt"),
            class_offset=class_offset,
            calibration=tuple(calibration) if calibration else None,
            text_prior=tuple(meta["text_prior"]) if meta.get("text_prior") else None,
        )


def _balanced_weights(y: np.ndarray, n_classes: int, power: float) -> np.ndarray:
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    per_class = (len(y) / (n_classes * np.maximum(counts, 1.0))) ** power
    return per_class[y]


def _decision_quality(pred: np.ndarray, y: np.ndarray) -> float:
    """Accuracy + macro-F1 of decisions: what class weighting and offsets are chosen by."""
    from sklearn.metrics import f1_score

    accuracy = float(np.mean(pred == y))
    return accuracy + float(f1_score(y, pred, average="macro", labels=np.unique(y)))


def _choose_offset(raw_valid: np.ndarray, y_valid: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """The prior-correction offset with the best validation decisions (`_decision_quality`)."""
    log_prior = np.log(np.maximum(prior, 1e-6))
    best: tuple[float, np.ndarray] = (-np.inf, np.zeros_like(prior))
    for alpha in np.linspace(0.0, 1.0, 11):
        offset = -alpha * log_prior
        quality = _decision_quality(np.argmax(raw_valid + offset, axis=1), y_valid)
        if quality > best[0]:
            best = (quality, offset - offset.mean())
    return best[1]


def _platt(raw_valid: np.ndarray, y_valid: np.ndarray) -> tuple[float, float]:
    """Platt scaling: a logistic regression of the label on the raw score."""
    from sklearn.linear_model import LogisticRegression

    if len(np.unique(y_valid)) < 2:
        return 1.0, 0.0
    lr = LogisticRegression(C=1e4, max_iter=1000)
    lr.fit(raw_valid.reshape(-1, 1), y_valid)
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


def train_task_model(
    task: str,
    features: TaskFeatures,
    train_matrix: np.ndarray,
    y_train: np.ndarray,
    valid_matrix: np.ndarray,
    *,
    y_valid: np.ndarray,
    weight_powers: Sequence[float] = WEIGHT_POWERS,
    params: dict[str, Any] | None = None,
    seed: int = 0,
) -> TaskModel:
    """Train a task's booster (early-stopped on the validation split), offsets and calibration.

    Multiclass tasks train one booster per class-weighting strength in `weight_powers` and keep
    the one with the best validation accuracy + macro-F1.

    Args:
        task: task name.
        features: fitted features (their labels give the classes).
        train_matrix: training rows (`fit_task_features` output).
        y_train: training label codes.
        valid_matrix: validation rows built by `features.matrix`.
        y_valid: validation label codes.
        weight_powers: class-balancing strengths to try (0 none, 1 fully balanced).
        params: LightGBM parameter overrides.
        seed: random seed.
    """
    n_classes = len(features.labels)
    if n_classes > 2 and len(weight_powers) > 1 and len(y_valid):
        candidates = [
            train_task_model(task, features, train_matrix, y_train, valid_matrix,
                             y_valid=y_valid, weight_powers=[power], params=params, seed=seed)
            for power in weight_powers
        ]
        return max(candidates, key=lambda m: _decision_quality(
            np.argmax(m.decision_scores(m.raw(valid_matrix)), axis=1), y_valid))
    weight_power = weight_powers[0] if n_classes > 2 else 0.0
    weight = _balanced_weights(y_train, n_classes, weight_power) if n_classes > 2 else None
    n_out = features.n_text_outputs
    text_prior = _fit_text_prior(train_matrix[:, :n_out], y_train, n_classes) if n_out else None
    init_train = init_valid = None
    if text_prior is not None:
        n_outputs = 1 if n_classes == 2 else n_classes
        init_train = linear_prior(text_prior, train_matrix, n_outputs)
        init_valid = linear_prior(text_prior, valid_matrix, n_outputs)
        if n_classes == 2:
            init_train, init_valid = init_train[:, 0], init_valid[:, 0]
    booster = BoosterModel(
        train_booster(
            train_matrix, y_train, num_class=n_classes,
            categorical=features.categorical_columns, feature_names=features.names,
            weight=weight, init_score=init_train,
            valid=(valid_matrix, y_valid, init_valid) if len(y_valid) else None,
            params=params, seed=seed,
        )
    )
    model = TaskModel(task, features, booster, np.zeros(booster.n_outputs), None, text_prior)
    model.weight_power = weight_power  # type: ignore[attr-defined]
    if len(y_valid):
        raw_valid = model.raw(valid_matrix)
        if n_classes > 2:
            prior = np.bincount(y_train, minlength=n_classes) / len(y_train)
            model.class_offset = _choose_offset(raw_valid, y_valid, prior)
        else:
            model.calibration = _platt(raw_valid[:, 0], y_valid)
    return model


def refit_task_model(
    selected: TaskModel,
    features: TaskFeatures,
    matrix: np.ndarray,
    y: np.ndarray,
    *,
    valid_fraction: float,
    params: dict[str, Any] | None = None,
    seed: int = 0,
) -> TaskModel:
    """Retrain a selected model on all training rows (training and validation together).

    The number of boosting rounds (scaled up for the larger data), the class weighting, the
    decision offsets and the calibration chosen on the validation split are kept: the latest
    tickets (with a time split, the validation rows) then also teach the model.
    """
    n_classes = len(features.labels)
    n_out = features.n_text_outputs
    text_prior = _fit_text_prior(matrix[:, :n_out], y, n_classes) if n_out else None
    n_outputs = 1 if n_classes == 2 else n_classes
    init = None
    if text_prior is not None:
        init = linear_prior(text_prior, matrix, n_outputs)
        init = init[:, 0] if n_classes == 2 else init
    rounds = selected.booster.booster.num_trees() // selected.booster.n_outputs
    rounds = max(1, round(rounds / (1.0 - valid_fraction)))
    power = getattr(selected, "weight_power", 0.0)
    weight = _balanced_weights(y, n_classes, power) if n_classes > 2 else None
    booster = BoosterModel(
        train_booster(
            matrix, y, num_class=n_classes, categorical=features.categorical_columns,
            feature_names=features.names, weight=weight, init_score=init, params=params,
            num_rounds=rounds, seed=seed,
        )
    )
    return TaskModel(selected.task, features, booster, selected.class_offset.copy(),
                     selected.calibration, text_prior)


def _fit_text_prior(scores: np.ndarray, y: np.ndarray, n_classes: int) -> tuple[float, ...]:
    """Scales per linear view (and for binary, a shift) that turn out-of-fold scores into log-odds.

    The trees then start from the linear model's calibrated opinion and learn where the
    metadata, queue state and keywords should correct it.
    """
    from scipy.optimize import minimize

    if n_classes == 2:
        return _platt(scores[:, 0], y)
    n_views = scores.shape[1] // n_classes
    views = [scores[:, v * n_classes : (v + 1) * n_classes] for v in range(n_views)]
    rows = np.arange(len(y))

    def nll(scales: np.ndarray) -> float:
        logits = sum(s * v for s, v in zip(scales, views, strict=True))
        logits = logits - logits.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(logits).sum(axis=1))
        return float(np.mean(log_norm - logits[rows, y]))

    best = minimize(nll, np.ones(n_views), method="L-BFGS-B", bounds=[(0.0, 50.0)] * n_views)
    return (*(float(s) for s in best.x), 0.0)
