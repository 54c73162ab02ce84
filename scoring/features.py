"""The one place features are built, for training and serving alike.

A ticket becomes one dense row per task:

* **text scores**: a linear model (LinearSVC) over the TF-IDF word and character n-grams of the
  cleaned subject and body gives one score per class (and, for several classes, each class's
  margin over the best other class, which trees split on directly). At training time these are
  out-of-fold scores, so the trees see scores as noisy as at serving time;
* **keywords**: presence of a few words selected by chi-squared, which explanations can name;
* **metadata**: channel, customer tier, product, language and any other categorical fields as
  LightGBM categorical codes (unseen values become missing), hour of day and weekday, text length,
  and numeric fields;
* **queue state** (SLA risk): depth of the target queue, agents available, oldest wait, depth per
  agent and the priority the ticket joins the queue with.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from operator import attrgetter
from typing import Any

import numpy as np
from scipy import sparse

from scoring.text import TextVectorizer, clean_text, readable_term


@dataclass(frozen=True)
class Ticket:
    """A ticket as the scorer sees it. Every field but the text is optional."""

    subject: str
    body: str
    channel: str = ""
    customer_id: str = ""
    customer_tier: str = ""
    product: str = ""
    language: str = ""
    created_at: datetime | None = None
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class QueueState:
    """The state of the target queue when the ticket arrives (inputs of SLA risk).

    `priority` is the priority the ticket is queued with; left empty, the scorer uses its own
    predicted priority.
    """

    queue_depth: int = 0
    agents_available: int = 0
    oldest_wait_s: float = 0.0
    priority: str = ""


@dataclass(frozen=True, slots=True)
class QueueFreeRow:
    """A ticket's feature row for one task without the queue state (`TaskFeatures.in_queue`
    completes it), so that a ticket can be re-scored in a new queue state without its text.

    `text` holds the linear model's scores without the priority the ticket is queued with
    (`in_queue` adds that column's weights; None: the task has no text model), `middle` the
    keywords, categorical codes, time, text length and numeric fields.
    """

    text: np.ndarray | None
    middle: np.ndarray


TICKET_CATEGORICALS = ("channel", "customer_tier", "product", "language")
"""Ticket fields used as categorical features when they vary in the training data."""

QUEUE_NUMERICS = ("queue_depth", "agents_available", "oldest_wait_s", "depth_per_agent")

_TICKET_FIELDS = {f.name for f in fields(Ticket)}
_MIN_CATEGORY_COUNT = 3  # rarer values are "unknown": too few rows to learn them
_MAX_CATEGORY_CODES = 250  # LightGBM categorical splits overfit on very wide fields
_N_KEYWORDS = 30
_OOF_FOLDS = 5


def ticket_text(ticket: Ticket) -> str:
    """The cleaned text of a ticket: subject and body together."""
    subject = ticket.subject if isinstance(ticket.subject, str) else ""
    body = ticket.body if isinstance(ticket.body, str) else ""
    return clean_text(f"{subject}\n{body}" if subject else body)


def field_value(ticket: Ticket, name: str) -> str:
    """A categorical field of a ticket (a Ticket field or an attribute), '' when absent."""
    value = getattr(ticket, name) if name in _TICKET_FIELDS else ticket.attributes.get(name, "")
    # the common case first: this runs per field, ticket and task
    return value.strip() if type(value) is str else _field_text(value)


def field_values(tickets: Sequence[Ticket], name: str) -> list[str]:
    """`field_value` of many tickets (one field at a time: a third of the cost)."""
    if name in _TICKET_FIELDS:
        values = list(map(attrgetter(name), tickets))
    else:
        values = [t.attributes.get(name, "") for t in tickets]
    return [v.strip() if type(v) is str else _field_text(v) for v in values]


def _field_text(value: Any) -> str:
    """A field value that is not a string, as text ('' for None and NaN)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


def _number(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number if math.isfinite(number) else math.nan


def _time_parts(created_at: Any) -> tuple[float, float]:
    if not isinstance(created_at, datetime):
        return math.nan, math.nan
    return created_at.hour + created_at.minute / 60.0, float(created_at.weekday())


@dataclass
class LinearTextModel:
    """Per-class linear scores: ``scores = x @ weights + bias``.

    ``x`` is the TF-IDF row of the text followed by one-hot columns of the categorical fields.
    """

    weights: np.ndarray  # (n_terms, n_outputs)
    bias: np.ndarray  # (n_outputs,)

    def scores_one(self, idx: np.ndarray, val: np.ndarray) -> np.ndarray:
        """Scores for one vectorized text."""
        return val @ self.weights[idx] + self.bias

    def scores(self, matrix: sparse.csr_matrix) -> np.ndarray:
        """Scores for many vectorized texts."""
        return np.asarray(matrix @ self.weights) + self.bias


def fit_linear_text_model(
    matrix: sparse.csr_matrix, y: np.ndarray, n_classes: int, seed: int = 0
) -> LinearTextModel:
    """Train the linear model: one output for two classes, else two views of K scores each.

    Two classes: logistic regression. More: one-vs-rest LinearSVCs, plain and class-balanced
    (two views): the plain one is the most
    accurate linear classifier of ticket text, the balanced one the best at small classes, and
    the trees and the prior weigh them.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC

    coefs, biases = [], []
    for class_weight in (None, "balanced") if n_classes > 2 else (None,):
        model: Any = LinearSVC(C=0.5, random_state=seed, class_weight=class_weight)
        if n_classes == 2:
            # for a probability, log-loss ranks better than the hinge loss
            model = LogisticRegression(C=1.0, max_iter=2000)
        model.fit(matrix, y)
        coef = model.coef_.T.astype(np.float64)
        bias = np.asarray(model.intercept_, dtype=np.float64)
        if n_classes > 2 and coef.shape[1] != n_classes:
            # a fold can miss a class: give it a score that never wins
            full = np.zeros((coef.shape[0], n_classes))
            full_bias = np.full(n_classes, -10.0)
            full[:, model.classes_] = coef
            full_bias[model.classes_] = bias
            coef, bias = full, full_bias
        coefs.append(coef)
        biases.append(bias)
    return LinearTextModel(np.ascontiguousarray(np.hstack(coefs)), np.concatenate(biases))


@dataclass
class TaskFeatures:
    """Turns tickets (+ queue states) into the dense rows of one task's LightGBM model."""

    labels: list[str]
    text_model: LinearTextModel | None
    keyword_ids: list[int]
    keyword_terms: list[str]
    categoricals: dict[str, dict[str, int]]  # field -> value -> code
    numerics: list[str]  # attribute names parsed as numbers
    use_time: bool
    use_queue: bool
    use_queue_priority: dict[str, int] | None  # priority value -> code, when the task uses it
    n_terms: int = 0  # text columns of the linear model's input; one-hot fields follow
    names: list[str] = field(default_factory=list)
    readable: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.names:
            self.names, self.readable = self._describe()
        self._cat_offsets = []
        start = self.n_terms
        fields = list(self.categoricals.values())
        if self.use_queue_priority is not None:
            fields.append(self.use_queue_priority)
        for codes in fields:
            self._cat_offsets.append(start)
            start += len(codes)
        self.n_linear_inputs = start

    def _codes(self, ticket: Ticket, queue: QueueState | None) -> list[int | None]:
        """The code of each categorical field, then of the queue priority if used (None: unseen)."""
        codes = [codes.get(field_value(ticket, name)) for name, codes in self.categoricals.items()]
        if self.use_queue_priority is not None:
            codes.append(self._priority_code(queue))
        return codes

    def _priority_code(self, queue: QueueState | None) -> int | None:
        """The queue priority's code (None: unseen, or the task does not use it)."""
        if self.use_queue_priority is None:
            return None
        return self.use_queue_priority.get(queue.priority if queue else "")

    def linear_input_one(
        self, text_vector: tuple[np.ndarray, np.ndarray] | None, codes: list[int | None]
    ) -> tuple[np.ndarray, np.ndarray]:
        """The linear model's sparse input of one ticket: TF-IDF terms, then one-hot fields."""
        extra = [off + c for off, c in zip(self._cat_offsets, codes, strict=True) if c is not None]
        if text_vector is None:
            return np.asarray(extra, dtype=np.int32), np.ones(len(extra))
        if not extra:
            return text_vector
        idx, val = text_vector
        return (np.concatenate([idx, np.asarray(extra, dtype=np.int32)]),
                np.concatenate([val, np.ones(len(extra))]))

    def code_matrix(
        self, tickets: Sequence[Ticket], queues: Sequence[QueueState | None]
    ) -> np.ndarray:
        """`_codes` of many tickets as an (n, fields) int matrix, -1 for unseen values."""
        columns = []
        for name, codes in self.categoricals.items():
            get = codes.get
            columns.append([get(v, -1) for v in field_values(tickets, name)])
        if self.use_queue_priority is not None:
            get = self.use_queue_priority.get
            columns.append([get(q.priority if q else "", -1) for q in queues])
        matrix = np.array(columns, dtype=np.int64).reshape(len(columns), len(tickets))
        return matrix.T

    def linear_input(
        self, text_matrix: sparse.csr_matrix | None, codes: np.ndarray
    ) -> sparse.csr_matrix:
        """The linear model's input of many tickets (CSR); `codes` from `code_matrix`."""
        n_rows = len(codes)
        present = codes >= 0
        # fields in column order, codes within each field's range: every row comes out sorted
        columns = (codes + np.asarray(self._cat_offsets, dtype=np.int64))[present]
        indptr = np.concatenate([[0], np.cumsum(present.sum(axis=1))])
        onehot = sparse.csr_matrix(
            (np.ones(len(columns)), columns.astype(np.int32), indptr.astype(np.int32)),
            shape=(n_rows, self.n_linear_inputs),
        )
        if text_matrix is None or self.n_terms == 0:
            return onehot
        text = sparse.csr_matrix(
            (text_matrix.data, text_matrix.indices, text_matrix.indptr),
            shape=(n_rows, self.n_linear_inputs),
        )
        return (text + onehot).tocsr()

    @property
    def n_text_outputs(self) -> int:
        """Columns of the linear text scores (0 without text)."""
        return 0 if self.text_model is None else len(self.text_model.bias)

    def _describe(self) -> tuple[list[str], list[str]]:
        names: list[str] = []
        readable: list[str] = []
        n_out = self.n_text_outputs
        says = {(True, True): "text and fields say", (True, False): "text says",
                (False, True): "fields say"}.get((self.n_terms > 0, bool(self.categoricals)), "")
        if n_out == 1:
            names.append("linear_score")
            readable.append(f'{says} "{self.labels[1]}"')
        elif n_out:
            for label in self.labels:
                names.append(f"linear_score[{label}]")
                readable.append(f'{says} "{label}"')
            for label in self.labels:
                names.append(f"linear_balanced[{label}]")
                readable.append(f'{says} "{label}" (class-balanced)')
            for label in self.labels:
                names.append(f"linear_margin[{label}]")
                readable.append(f'{says} "{label}" more than the rest')
        for term in self.keyword_terms:
            names.append(f"kw[{term}]")
            readable.append(readable_term(term))
        for name in self.categoricals:
            names.append(f"cat[{name}]")
            readable.append(name)
        if self.use_time:
            names += ["hour", "weekday"]
            readable += ["hour of day", "weekday"]
        names.append("text_chars")
        readable.append("text length")
        for name in self.numerics:
            names.append(f"num[{name}]")
            readable.append(name)
        if self.use_queue:
            names += list(QUEUE_NUMERICS)
            readable += list(QUEUE_NUMERICS)
        if self.use_queue_priority is not None:
            names.append("queue_priority")
            readable.append("priority")
        return names, readable

    @property
    def categorical_columns(self) -> list[int]:
        """Column indices LightGBM treats as categorical."""
        cols = [i for i, n in enumerate(self.names) if n.startswith("cat[")]
        if self.use_queue_priority is not None:
            cols.append(self.names.index("queue_priority"))
        return cols

    def _numbers(self, ticket: Ticket, clean_chars: int, queue: QueueState | None) -> list[float]:
        """The features between the categorical codes and the queue priority code."""
        return self._ticket_numbers(ticket, clean_chars) + self._queue_numbers(queue)

    def _ticket_numbers(self, ticket: Ticket, clean_chars: int) -> list[float]:
        """Time of day and week, text length and numeric fields."""
        row: list[float] = []
        if self.use_time:
            row.extend(_time_parts(ticket.created_at))
        row.append(float(clean_chars))
        attributes = ticket.attributes
        for name in self.numerics:
            row.append(_number(attributes.get(name)))
        return row

    def _queue_numbers(self, queue: QueueState | None) -> list[float]:
        """Depth, agents available, oldest wait and depth per agent, if the task uses them."""
        if not self.use_queue:
            return []
        q = queue or QueueState()
        depth = _number(q.queue_depth)
        agents = _number(q.agents_available)
        per_agent = depth / max(agents, 0.5) if not math.isnan(depth + agents) else math.nan
        return [depth, agents, _number(q.oldest_wait_s), per_agent]

    def _text_part(self, scores: np.ndarray) -> np.ndarray:
        if scores.shape[-1] <= 1:
            return scores
        # margin of each class over the best other class: "is k the argmax" is one split
        plain = scores[..., : len(self.labels)]
        top2 = np.sort(plain, axis=-1)[..., -2:]
        best_other = np.where(plain == top2[..., 1:2], top2[..., 0:1], top2[..., 1:2])
        return np.concatenate([scores, plain - best_other], axis=-1)

    def row(
        self,
        ticket: Ticket,
        clean: str,
        text_vector: tuple[np.ndarray, np.ndarray] | None,
        queue: QueueState | None,
    ) -> np.ndarray:
        """The feature row of one ticket (float64, NaN for missing)."""
        return self.in_queue(self.queue_free_row(ticket, clean, text_vector), queue)

    def queue_free_row(
        self, ticket: Ticket, clean: str, text_vector: tuple[np.ndarray, np.ndarray] | None
    ) -> QueueFreeRow:
        """A ticket's row without the queue state, for `in_queue` to complete."""
        codes = self._codes(ticket, None)
        n_cats = len(self.categoricals)
        text = None
        if self.text_model is not None:
            vector = text_vector if self.n_terms else None
            no_priority = [None] if self.use_queue_priority is not None else []
            idx, val = self.linear_input_one(vector, codes[:n_cats] + no_priority)
            text = self.text_model.scores_one(idx, val)
        middle: list[float] = []
        if self.keyword_ids:
            present = set(text_vector[0].tolist()) if text_vector is not None else set()
            middle.extend(1.0 if k in present else 0.0 for k in self.keyword_ids)
        middle.extend(math.nan if code is None else float(code) for code in codes[:n_cats])
        middle.extend(self._ticket_numbers(ticket, len(clean)))
        return QueueFreeRow(text, np.asarray(middle, dtype=np.float64))

    def in_queue(self, base: QueueFreeRow, queue: QueueState | None) -> np.ndarray:
        """The feature row of a ticket (its `queue_free_row`) joining a queue in this state:
        `row` is this, so both give the same values."""
        code = self._priority_code(queue)
        tail = self._queue_numbers(queue)
        if self.use_queue_priority is not None:
            tail.append(math.nan if code is None else float(code))
        if self.text_model is None or base.text is None:
            return np.concatenate([base.middle, tail])
        scores = base.text
        if code is not None:  # the priority's one-hot column of the linear input
            scores = scores + self.text_model.weights[self._cat_offsets[-1] + code]
        return np.concatenate([self._text_part(scores), base.middle, tail])

    def matrix(
        self,
        tickets: Sequence[Ticket],
        cleaned: Sequence[str],
        text_matrix: sparse.csr_matrix | None,
        queues: Sequence[QueueState | None],
        text_scores: np.ndarray | None = None,
    ) -> np.ndarray:
        """Feature rows of many tickets; `text_scores` overrides the model's (out-of-fold)."""
        blocks = []
        codes = self.code_matrix(tickets, queues)
        if self.text_model is not None:
            if text_scores is None:
                text_in = text_matrix if self.n_terms else None
                text_scores = self.text_model.scores(self.linear_input(text_in, codes))
            blocks.append(self._text_part(text_scores))
        if self.keyword_ids and text_matrix is not None:
            blocks.append((text_matrix[:, self.keyword_ids] > 0).toarray().astype(np.float64))
        code_values = np.where(codes >= 0, codes, np.nan)
        n_cats = len(self.categoricals)
        numbers = [
            self._numbers(t, len(c), q) for t, c, q in zip(tickets, cleaned, queues, strict=True)
        ]
        blocks.append(code_values[:, :n_cats])
        blocks.append(np.asarray(numbers, dtype=np.float64).reshape(len(tickets), -1))
        blocks.append(code_values[:, n_cats:])
        return np.hstack(blocks)

    def to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """JSON-able settings and numpy arrays, for saving."""
        meta = {
            "labels": self.labels,
            "keyword_ids": self.keyword_ids,
            "keyword_terms": self.keyword_terms,
            "categoricals": self.categoricals,
            "numerics": self.numerics,
            "use_time": self.use_time,
            "use_queue": self.use_queue,
            "use_queue_priority": self.use_queue_priority,
            "n_terms": self.n_terms,
            "names": self.names,
            "readable": self.readable,
        }
        arrays = {}
        if self.text_model is not None:
            arrays = {"text_weights": self.text_model.weights, "text_bias": self.text_model.bias}
        return meta, arrays

    @classmethod
    def from_state(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> TaskFeatures:
        """Rebuild from `to_state` output."""
        text_model = None
        if "text_weights" in arrays:
            text_model = LinearTextModel(
                np.ascontiguousarray(arrays["text_weights"], dtype=np.float64),
                np.asarray(arrays["text_bias"], dtype=np.float64),
            )
        return cls(text_model=text_model, **meta)


def _category_codes(values: Sequence[str]) -> dict[str, int]:
    counts = Counter(v for v in values if v)
    kept = [v for v, c in counts.most_common(_MAX_CATEGORY_CODES) if c >= _MIN_CATEGORY_COUNT]
    return {v: i for i, v in enumerate(sorted(kept))}


def _select_keywords(
    text_matrix: sparse.csr_matrix, y: np.ndarray, terms: Sequence[str], k: int
) -> list[int]:
    """The k word unigrams most associated with the label (chi-squared on presence)."""
    from sklearn.feature_selection import chi2

    word_cols = np.array([i for i, t in enumerate(terms) if t.startswith("w:")], dtype=np.int64)
    if len(word_cols) == 0 or len(np.unique(y)) < 2:
        return []
    presence = (text_matrix[:, word_cols] > 0).astype(np.float64)
    scores, _ = chi2(presence, y)
    scores = np.nan_to_num(scores, nan=0.0)
    order = np.argsort(-scores, kind="stable")[:k]
    return sorted(int(word_cols[i]) for i in order if scores[i] > 0)


def fit_task_features(
    tickets: Sequence[Ticket],
    cleaned: Sequence[str],
    text_matrix: sparse.csr_matrix | None,
    vectorizer: TextVectorizer | None,
    queues: Sequence[QueueState | None],
    *,
    y: np.ndarray,
    labels: list[str],
    categorical_fields: Sequence[str],
    numeric_fields: Sequence[str],
    use_queue: bool,
    use_queue_priority: bool | None = None,
    seed: int = 0,
) -> tuple[TaskFeatures, np.ndarray]:
    """Fit one task's features on its training rows.

    Args:
        tickets: training tickets.
        cleaned: their cleaned texts (`ticket_text`).
        text_matrix: their TF-IDF rows, or None when the data has no text.
        vectorizer: the vectorizer that made `text_matrix`.
        queues: queue state per ticket (None entries allowed).
        y: label codes (indices into `labels`).
        labels: class names.
        categorical_fields: candidate categorical fields (kept when they vary).
        numeric_fields: candidate numeric attributes (kept when they vary).
        use_queue: add the queue-state features (depth, agents, oldest wait).
        use_queue_priority: add the priority the ticket is queued with (default: use_queue).
        seed: random seed of the out-of-fold split.

    Returns:
        The fitted features and the training matrix (with out-of-fold text scores).
    """
    from sklearn.model_selection import StratifiedKFold

    n_classes = len(labels)
    categoricals = {}
    for name in categorical_fields:
        codes = _category_codes([field_value(t, name) for t in tickets])
        if len(codes) >= 2:
            categoricals[name] = codes
    queue_priority = None
    if use_queue if use_queue_priority is None else use_queue_priority:
        priority_codes = _category_codes([q.priority if q else "" for q in queues])
        queue_priority = priority_codes if priority_codes else None
    has_text = text_matrix is not None and text_matrix.nnz > 0 and vectorizer is not None
    shell = TaskFeatures(labels, None, [], [], categoricals, [], False, False, queue_priority,
                         n_terms=vectorizer.n_features if has_text and vectorizer else 0)
    linear_input = shell.linear_input(
        text_matrix if has_text else None, shell.code_matrix(tickets, queues)
    )
    text_model = None
    oof = None
    keyword_ids: list[int] = []
    keyword_terms: list[str] = []
    if linear_input.nnz:
        text_model = fit_linear_text_model(linear_input, y, n_classes, seed)
        oof = np.zeros((len(y), len(text_model.bias)))
        folds = min(_OOF_FOLDS, int(np.bincount(y).max()))
        min_class = int(np.bincount(y, minlength=n_classes).min())
        if min_class < folds:
            # folds with a missing class are handled by fit_linear_text_model
            from sklearn.model_selection import KFold

            splitter: Any = KFold(folds, shuffle=True, random_state=seed)
        else:
            splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
        for train_idx, test_idx in splitter.split(np.zeros(len(y)), y):
            fold_model = fit_linear_text_model(
                linear_input[train_idx], y[train_idx], n_classes, seed
            )
            oof[test_idx] = fold_model.scores(linear_input[test_idx])
    if has_text:
        assert text_matrix is not None and vectorizer is not None
        terms = vectorizer.terms()
        keyword_ids = _select_keywords(text_matrix, y, terms, _N_KEYWORDS)
        keyword_terms = [terms[i] for i in keyword_ids]
    numerics = []
    for name in numeric_fields:
        values = {_number(t.attributes.get(name)) for t in tickets[:5000]}
        if len({v for v in values if not math.isnan(v)}) >= 2:
            numerics.append(name)
    times = [t.created_at for t in tickets if isinstance(t.created_at, datetime)]
    use_time = len({(d.hour, d.weekday()) for d in times[:5000]}) >= 2
    features = TaskFeatures(
        labels=labels,
        text_model=text_model,
        keyword_ids=keyword_ids,
        keyword_terms=keyword_terms,
        categoricals=categoricals,
        numerics=numerics,
        use_time=use_time,
        use_queue=use_queue,
        use_queue_priority=queue_priority,
        n_terms=shell.n_terms,
    )
    matrix = features.matrix(tickets, cleaned, text_matrix, queues, text_scores=oof)
    return features, matrix
