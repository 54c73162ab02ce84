"""Honest evaluation: metrics on a held-out split next to baselines trained on the same split.

Baselines: the majority class (base rate for SLA risk) and logistic regression on the same
inputs the model sees: TF-IDF word and character n-grams of the text, one-hot categorical fields
and standardised numeric ones (time of day, queue state). For several classes also the
class-balanced logistic regression and a linear SVM, the strongest linear text classifiers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import sparse

from scoring.datasets import LabeledTickets
from scoring.features import field_value, ticket_text
from scoring.scorer import Scorer
from scoring.training import encode, task_labels

RELIABILITY_BINS = 10


def classification_metrics(
    y: np.ndarray, proba: np.ndarray | None, pred: np.ndarray, n_classes: int
) -> dict[str, float]:
    """accuracy, macro_f1, weighted_f1, top3_accuracy, log_loss (the last two need proba)."""
    from sklearn.metrics import f1_score, log_loss

    labels = np.arange(n_classes)
    out = {
        "accuracy": float(np.mean(pred == y)),
        "macro_f1": float(f1_score(y, pred, average="macro", labels=np.unique(y),
                                   zero_division=0)),
        "weighted_f1": float(f1_score(y, pred, average="weighted", zero_division=0)),
    }
    if proba is not None:
        top3 = np.argsort(-proba, axis=1)[:, :3]
        out["top3_accuracy"] = float(np.mean((top3 == y[:, None]).any(axis=1)))
        clipped = np.clip(proba, 1e-15, 1.0)
        out["log_loss"] = float(log_loss(y, clipped / clipped.sum(1, keepdims=True),
                                         labels=labels))
    return out


def binary_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """roc_auc, pr_auc, brier, log_loss, accuracy at 0.5 and the base rate."""
    from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

    both = len(np.unique(y)) == 2
    p = np.clip(p, 1e-15, 1 - 1e-15)
    return {
        "roc_auc": float(roc_auc_score(y, p)) if both else math.nan,
        "pr_auc": float(average_precision_score(y, p)) if both else math.nan,
        "brier": float(brier_score_loss(y, p)),
        "log_loss": float(log_loss(y, p, labels=[0, 1])),
        "accuracy": float(np.mean((p >= 0.5) == y)),
        "positive_rate": float(np.mean(y)),
    }


def reliability_curve(y: np.ndarray, p: np.ndarray, bins: int = RELIABILITY_BINS) -> list[dict]:
    """Mean predicted vs observed rate per equal-width probability bin."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    out = []
    for b in range(bins):
        members = which == b
        if members.any():
            out.append({"bin": [float(edges[b]), float(edges[b + 1])],
                        "mean_predicted": float(p[members].mean()),
                        "observed": float(y[members].mean()), "count": int(members.sum())})
    return out


def _baseline_design(
    data: LabeledTickets, train: np.ndarray, test: np.ndarray, task: str, has_queue: bool
) -> tuple[sparse.csr_matrix, sparse.csr_matrix]:
    """The inputs of the linear baselines: TF-IDF + one-hot categoricals + scaled numerics."""
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from scoring.text import TextVectorizer

    cleaned = [ticket_text(t) for t in data.tickets]
    blocks_train, blocks_test = [], []
    if any(cleaned[i] for i in train[:20000]):
        vectorizer = TextVectorizer.fit([cleaned[i] for i in train])
        blocks_train.append(vectorizer.transform([cleaned[i] for i in train]))
        blocks_test.append(vectorizer.transform([cleaned[i] for i in test]))
    cat_names = list(data.categorical_fields)

    def cats(rows: np.ndarray) -> list[list[str]]:
        out = []
        for i in rows:
            t = data.tickets[i]
            values = [field_value(t, name) for name in cat_names]
            if task == "sla_risk":
                q = data.queues[i]
                values.append(q.priority if q else "")
            out.append(values)
        return out

    if cat_names or task == "sla_risk":
        encoder = OneHotEncoder(handle_unknown="ignore", min_frequency=3)
        blocks_train.append(encoder.fit_transform(cats(train)).tocsr())
        blocks_test.append(encoder.transform(cats(test)).tocsr())

    def nums(rows: np.ndarray) -> np.ndarray:
        out = []
        for i in rows:
            t = data.tickets[i]
            values = []
            if t.created_at is not None:
                values += [t.created_at.hour, t.created_at.weekday()]
            else:
                values += [0.0, 0.0]
            for name in data.numeric_fields:
                try:
                    values.append(float(t.attributes.get(name, "nan")))
                except ValueError:
                    values.append(math.nan)
            if task == "sla_risk" and has_queue:
                q = data.queues[i]
                depth = float(q.queue_depth) if q else 0.0
                agents = float(q.agents_available) if q else 0.0
                values += [depth, agents, float(q.oldest_wait_s) if q else 0.0,
                           depth / max(agents, 0.5)]
            out.append(values)
        matrix = np.log1p(np.abs(np.nan_to_num(np.asarray(out, dtype=np.float64))))
        return matrix

    n_train, n_test = nums(train), nums(test)
    if n_train.shape[1]:
        scaler = StandardScaler().fit(n_train)
        blocks_train.append(sparse.csr_matrix(scaler.transform(n_train)))
        blocks_test.append(sparse.csr_matrix(scaler.transform(n_test)))
    return sparse.hstack(blocks_train).tocsr(), sparse.hstack(blocks_test).tocsr()


def baselines(
    data: LabeledTickets,
    train: np.ndarray,
    test: np.ndarray,
    task: str,
    *,
    labels: list[str],
    y_train: np.ndarray,
    y_test: np.ndarray,
    has_queue: bool,
) -> dict[str, dict[str, float]]:
    """Majority and linear baselines trained on `train`, measured on `test`."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC

    n_classes = len(labels)
    x_train, x_test = _baseline_design(data, train, test, task, has_queue)
    out: dict[str, dict[str, float]] = {}
    if task == "sla_risk":
        rate = float(np.mean(y_train))
        out["majority"] = binary_metrics(y_test, np.full(len(y_test), rate))
        lr = LogisticRegression(C=1.0, max_iter=3000).fit(x_train, y_train)
        out["logreg"] = binary_metrics(y_test, lr.predict_proba(x_test)[:, 1])
        return out
    majority = int(np.bincount(y_train, minlength=n_classes).argmax())
    prior = np.bincount(y_train, minlength=n_classes) / len(y_train)
    out["majority"] = classification_metrics(
        y_test, np.tile(prior, (len(y_test), 1)), np.full(len(y_test), majority), n_classes
    )
    for name, weight in (("logreg", None), ("logreg_balanced", "balanced")):
        lr = LogisticRegression(C=10.0, max_iter=2000, class_weight=weight).fit(x_train, y_train)
        proba = np.zeros((len(y_test), n_classes))
        proba[:, lr.classes_] = lr.predict_proba(x_test)
        out[name] = classification_metrics(y_test, proba, proba.argmax(1), n_classes)
    svc = LinearSVC(C=0.5).fit(x_train, y_train)
    out["linear_svc"] = classification_metrics(
        y_test, None, svc.classes_[svc.decision_function(x_test).argmax(1)], n_classes
    )
    return out


def evaluate_task(
    scorer: Scorer,
    task: str,
    data: LabeledTickets,
    train: np.ndarray,
    test: np.ndarray,
    *,
    with_baselines: bool = True,
) -> dict[str, Any]:
    """Metrics of one task on `test`, with baselines trained on `train`.

    Returns:
        ``{"task", "metrics", "baselines", "per_class", "labels", "confusion", "reliability"}``.
    """
    from sklearn.metrics import confusion_matrix

    model = scorer.models[task]
    spec = task_labels(data, task, train)
    spec.labels = list(model.labels)  # the model's classes decide the codes
    y_all = encode(data.labels[task], spec)
    test = test[y_all[test] >= 0]
    train = train[y_all[train] >= 0]
    y_test = y_all[test]
    probs = scorer.probabilities_batch(
        [data.tickets[i] for i in test], [data.queues[i] for i in test]
    )[task]
    result: dict[str, Any] = {"task": task, "labels": model.labels, "n_test": len(test)}
    if model.binary:
        result["metrics"] = binary_metrics(y_test, probs)
        result["reliability"] = reliability_curve(y_test, probs)
        result["confusion"] = confusion_matrix(y_test, probs >= 0.5, labels=[0, 1]).tolist()
    else:
        pred = probs.argmax(1)
        result["metrics"] = classification_metrics(y_test, probs, pred, len(model.labels))
        result["confusion"] = confusion_matrix(
            y_test, pred, labels=np.arange(len(model.labels))
        ).tolist()
        result["per_class"] = per_class_report(y_test, pred, model.labels)
    if with_baselines:
        has_queue = bool(model.features.use_queue)
        result["baselines"] = baselines(
            data, train, test, task, labels=model.labels, y_train=y_all[train], y_test=y_test,
            has_queue=has_queue,
        )
    return result


def per_class_report(y: np.ndarray, pred: np.ndarray, labels: Sequence[str]) -> dict[str, dict]:
    """Precision, recall, F1 and support per class."""
    from sklearn.metrics import precision_recall_fscore_support

    p, r, f, s = precision_recall_fscore_support(
        y, pred, labels=np.arange(len(labels)), zero_division=0
    )
    return {
        label: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
                "support": int(s[i])}
        for i, label in enumerate(labels)
    }
