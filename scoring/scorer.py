"""The scorer the service calls: category, priority and SLA risk per ticket, with explanations.

A scorer is loaded from a versioned artefact directory::

    DIR/metadata.json        labels, feature schema, metrics, baselines, data fingerprint, versions
    DIR/vectorizer.npz       text vocabulary and idf (absent when the data had no text)
    DIR/<task>/booster.txt   LightGBM model (category, priority, sla_risk: whichever were trained)
    DIR/<task>/features.json feature settings; DIR/<task>/arrays.npz linear text weights, offsets
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from router.errors import FailedPrecondition, InvalidArgument, NotFound
from scoring.features import QueueFreeRow, QueueState, Ticket, ticket_text
from scoring.models import TASKS, TaskModel
from scoring.text import TextVectorizer, readable_term

FORMAT_VERSION = 2
"""Artefact layout version; a scorer refuses artefacts of another version."""

TEXT_CACHE_SIZE = 4096
"""Tickets whose cleaned text and vector a scorer keeps (see `Scorer._text`)."""

TEXT_PRIOR_NAME = "linear model (words, character n-grams, fields)"
"""Explanation name of the linear text scores the trees start from."""


@dataclass(frozen=True)
class Scores:
    """The three scores of one ticket. Tasks the model lacks give '' / {} / NaN."""

    category: str
    category_confidence: float
    category_probabilities: dict[str, float]
    priority: str
    priority_probabilities: dict[str, float]
    sla_risk: float
    model_version: str


@dataclass(frozen=True)
class SlaBasis:
    """What re-scoring a ticket's SLA risk in a new queue state needs, without its text: the
    risk task's queue-free feature row, for one model version (`Scorer.sla_basis`).

    Its JSON form (`to_json`) is exact, so a basis stored with a ticket gives every process
    the same risk as scoring the ticket itself.
    """

    model_version: str
    row: QueueFreeRow

    def to_json(self) -> str:
        text = None if self.row.text is None else self.row.text.tolist()
        return json.dumps({"model": self.model_version, "text": text,
                           "middle": self.row.middle.tolist()})

    @classmethod
    def from_json(cls, text: str) -> SlaBasis:
        """Raises: InvalidArgument: not a basis's JSON."""
        try:
            data = json.loads(text)
            scores = data["text"]
            row = QueueFreeRow(None if scores is None else np.asarray(scores, dtype=np.float64),
                               np.asarray(data["middle"], dtype=np.float64))
            return cls(str(data["model"]), row)
        except (TypeError, ValueError, KeyError) as error:
            raise InvalidArgument(f"not an SLA basis: {error}", field="sla_basis") from error


@dataclass(frozen=True)
class Contribution:
    """One feature's signed push on the chosen class's raw score."""

    feature: str
    contribution: float
    detail: str = ""


@dataclass(frozen=True)
class TaskExplanation:
    """Why one task chose its class: ``bias + sum(contributions) + rest == raw_score``.

    For sla_risk the raw score is the log-odds before calibration; the chosen class is the
    positive one ("breach").
    """

    task: str
    chosen: str
    raw_score: float
    bias: float
    contributions: tuple[Contribution, ...]
    rest: float  # the sum of the contributions not among the top k

    def __iter__(self) -> Iterator[tuple[str, float]]:
        """(feature, contribution) pairs, largest first."""
        return iter([(c.feature, c.contribution) for c in self.contributions])


@dataclass(frozen=True)
class Explanation:
    """Explanations of every task the model has."""

    model_version: str
    tasks: dict[str, TaskExplanation] = field(default_factory=dict)

    @property
    def category(self) -> TaskExplanation | None:
        """The category explanation, if the model has the task."""
        return self.tasks.get("category")

    @property
    def priority(self) -> TaskExplanation | None:
        """The priority explanation, if the model has the task."""
        return self.tasks.get("priority")

    @property
    def sla_risk(self) -> TaskExplanation | None:
        """The SLA-risk explanation, if the model has the task."""
        return self.tasks.get("sla_risk")


def _normalise(ticket: Ticket) -> Ticket:
    """Accept sloppy tickets (None text, non-dict attributes, bad dates) instead of crashing."""
    if not isinstance(ticket, Ticket):
        raise InvalidArgument(f"expected a Ticket, got {type(ticket).__name__}", field="ticket")
    changes: dict[str, Any] = {}
    if not isinstance(ticket.subject, str):
        changes["subject"] = "" if ticket.subject is None else str(ticket.subject)
    if not isinstance(ticket.body, str):
        changes["body"] = "" if ticket.body is None else str(ticket.body)
    if not isinstance(ticket.attributes, dict):
        changes["attributes"] = {}
    if ticket.created_at is not None and not isinstance(ticket.created_at, datetime):
        changes["created_at"] = None
    return replace(ticket, **changes) if changes else ticket


class Scorer:
    """Scores tickets with the task models of one artefact."""

    def __init__(
        self,
        vectorizer: TextVectorizer | None,
        models: dict[str, TaskModel],
        metadata: dict[str, Any],
    ) -> None:
        self.vectorizer = vectorizer
        # priority first: SLA risk uses the predicted priority when the queue state has none
        self.models = {task: models[task] for task in TASKS if task in models}
        self.metadata = metadata
        self._texts: dict[tuple[str, str], tuple[str, Any]] = {}

    def _text(self, ticket: Ticket) -> tuple[str, Any]:
        """A ticket's cleaned text and its vector, remembered for the last few thousand texts.

        A submission scores its text twice (scores, then SLA risk in the chosen queue's state)
        and the live SLA sweep re-scores open tickets: cleaning and vectorizing is the costly
        part, and a ticket's text never changes.
        """
        key = (ticket.subject, ticket.body)
        found = self._texts.get(key)
        if found is None:
            clean = ticket_text(ticket)
            found = (clean, self._vector(clean))
            if len(self._texts) >= TEXT_CACHE_SIZE:
                with contextlib.suppress(StopIteration, KeyError, RuntimeError):
                    del self._texts[next(iter(self._texts))]  # oldest first
            self._texts[key] = found
        return found

    def forget_texts(self) -> None:
        """Drop the remembered texts (benchmarks measure scoring from raw text)."""
        self._texts.clear()

    @property
    def tasks(self) -> tuple[str, ...]:
        """The tasks this scorer has, e.g. ("category", "priority", "sla_risk")."""
        return tuple(self.models)

    @property
    def version(self) -> str:
        """The artefact's version string."""
        return str(self.metadata.get("version", "unversioned"))

    # -- loading and saving -------------------------------------------------------------------

    def save(self, directory: Path) -> Path:
        """Write the artefact to `directory` (created) and return it."""
        directory.mkdir(parents=True, exist_ok=True)
        if self.vectorizer is not None:
            np.savez_compressed(
                directory / "vectorizer.npz",
                terms=np.asarray(self.vectorizer.terms(), dtype=str),
                idf=self.vectorizer.idf,
                n_word_terms=np.asarray(self.vectorizer.n_word_terms),
            )
        for task, model in self.models.items():
            model.save(directory / task)
        meta = dict(self.metadata, format_version=FORMAT_VERSION, tasks=list(self.models))
        meta.setdefault("models", {})
        (directory / "metadata.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False))
        return directory

    @classmethod
    def load(cls, path: Path | str) -> Scorer:
        """Load an artefact directory.

        Raises:
            NotFound: there is no artefact at `path`.
            FailedPrecondition: the artefact is of another format version or damaged.
        """
        directory = Path(path)
        meta_file = directory / "metadata.json"
        if not meta_file.is_file():
            raise NotFound(
                f"no model artefact at {directory} (metadata.json missing)", field="model"
            )
        try:
            metadata = json.loads(meta_file.read_text())
        except json.JSONDecodeError as error:
            raise FailedPrecondition(f"{meta_file} is not valid JSON: {error}") from error
        if metadata.get("format_version") != FORMAT_VERSION:
            raise FailedPrecondition(
                f"model at {directory} has format {metadata.get('format_version')}, this version "
                f"reads {FORMAT_VERSION}: retrain it with `ticket-router train`"
            )
        vectorizer = None
        if (directory / "vectorizer.npz").is_file():
            with np.load(directory / "vectorizer.npz") as npz:
                terms = npz["terms"].tolist()
                vectorizer = TextVectorizer(
                    {t: i for i, t in enumerate(terms)}, npz["idf"], int(npz["n_word_terms"])
                )
        try:
            models = {task: TaskModel.load(directory / task) for task in metadata["tasks"]}
        except (OSError, KeyError, ValueError) as error:
            raise FailedPrecondition(f"model at {directory} is damaged: {error}") from error
        return cls(vectorizer, models, metadata)

    # -- scoring --------------------------------------------------------------------------------

    def _vector(self, clean: str) -> tuple[np.ndarray, np.ndarray] | None:
        return None if self.vectorizer is None else self.vectorizer.transform_one(clean)

    def _queue_for_sla(self, queue_state: QueueState | None, priority: str) -> QueueState | None:
        if priority and (queue_state is None or not queue_state.priority):
            return replace(queue_state or QueueState(), priority=priority)
        return queue_state

    def _raw_scores(
        self,
        ticket: Ticket,
        queue_state: QueueState | None,
        tasks: Sequence[str] | None = None,
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Per task (all, or `tasks`): (feature row, raw booster scores)."""
        clean, vector = self._text(ticket)
        rows: dict[str, np.ndarray] = {}
        raws: dict[str, np.ndarray] = {}
        for task, model in self.models.items():
            if tasks is not None and task not in tasks:
                continue
            queue = queue_state
            if task == "sla_risk" and "priority" in raws:
                predicted = self.models["priority"].decision_scores(raws["priority"])
                queue = self._queue_for_sla(
                    queue_state, self.models["priority"].labels[int(np.argmax(predicted))]
                )
            row = model.features.row(ticket, clean, vector, queue)
            rows[task] = row
            raws[task] = model.raw_one(row)
        return rows, raws

    def _scores_from_raw(self, raws: dict[str, np.ndarray]) -> Scores:
        category, confidence, category_probs = "", 0.0, {}
        priority, priority_probs = "", {}
        sla_risk = math.nan
        for task, raw in raws.items():
            model = self.models[task]
            probs = model.probabilities(raw)
            if task == "sla_risk":
                sla_risk = float(probs)
                continue
            best = int(np.argmax(probs))
            as_dict = {label: float(p) for label, p in zip(model.labels, probs, strict=True)}
            if task == "category":
                category, category_probs = model.labels[best], as_dict
                confidence = float(probs[best])
            else:
                priority, priority_probs = model.labels[best], as_dict
        return Scores(
            category=category,
            category_confidence=confidence,
            category_probabilities=category_probs,
            priority=priority,
            priority_probabilities=priority_probs,
            sla_risk=sla_risk,
            model_version=self.version,
        )

    def score(
        self,
        ticket: Ticket,
        queue_state: QueueState | None = None,
        tasks: Sequence[str] | None = None,
    ) -> Scores:
        """Score one ticket.

        Args:
            ticket: the ticket; missing fields, empty or huge text and unknown values are fine.
            queue_state: the target queue's state at arrival (used by SLA risk).
            tasks: only these tasks (default all); the others' scores stay empty (NaN risk),
                e.g. category and priority first, then `sla_risk` once the queue is known.

        Raises:
            InvalidArgument: `ticket` is not a Ticket.
        """
        _, raws = self._raw_scores(_normalise(ticket), queue_state, tasks)
        return self._scores_from_raw(raws)

    def sla_risk(self, ticket: Ticket, queue_state: QueueState | None = None) -> float:
        """Only the SLA-breach probability (for re-scoring as the queue state changes).

        Returns:
            P(breach), or NaN when the model has no sla_risk task.

        Raises:
            InvalidArgument: `ticket` is not a Ticket.
        """
        if "sla_risk" not in self.models:
            return math.nan
        needed = ["sla_risk"]
        if "priority" in self.models and not (queue_state and queue_state.priority):
            needed.append("priority")
        _, raws = self._raw_scores(_normalise(ticket), queue_state, needed)
        return float(self.models["sla_risk"].probabilities(raws["sla_risk"]))

    def sla_basis(self, ticket: Ticket) -> SlaBasis | None:
        """What `sla_risk_from_basis` needs to re-score this ticket in any queue state without
        its text; None when the model has no sla_risk task.

        Raises:
            InvalidArgument: `ticket` is not a Ticket.
        """
        model = self.models.get("sla_risk")
        if model is None:
            return None
        ticket = _normalise(ticket)
        clean, vector = self._text(ticket)
        return SlaBasis(self.version, model.features.queue_free_row(ticket, clean, vector))

    def sla_risk_from_basis(self, basis: SlaBasis, queue_state: QueueState) -> float:
        """`sla_risk(ticket, queue_state)` from the ticket's `sla_basis`: the same value, at a
        fraction of the cost (no text, one feature row); NaN without an sla_risk task.

        Raises:
            InvalidArgument: the basis is another model version's, or the queue state has no
                priority while the model predicts one (that prediction needs the text).
        """
        if basis.model_version != self.version:
            raise InvalidArgument(
                f"the SLA basis is model {basis.model_version!r}'s, this is {self.version!r}",
                field="sla_basis",
            )
        if "priority" in self.models and not queue_state.priority:
            raise InvalidArgument("give the priority the ticket is queued with",
                                  field="queue_state.priority")
        model = self.models.get("sla_risk")
        if model is None:
            return math.nan
        row = model.features.in_queue(basis.row, queue_state)
        return float(model.probabilities(model.raw_one(row)))

    def score_batch(
        self,
        tickets: Sequence[Ticket],
        queue_states: Sequence[QueueState | None] | None = None,
    ) -> list[Scores]:
        """Score many tickets at once (vectorized; same results as `score` one by one).

        Raises:
            InvalidArgument: an item is not a Ticket, or queue_states has another length.
        """
        tickets = [_normalise(t) for t in tickets]
        if queue_states is None:
            queue_states = [None] * len(tickets)
        if len(queue_states) != len(tickets):
            raise InvalidArgument(
                f"{len(queue_states)} queue states for {len(tickets)} tickets", field="queue_states"
            )
        if not tickets:
            return []
        raws = self.raw_batch(tickets, queue_states)
        n = len(tickets)
        sla: list[float] = [math.nan] * n
        # per classifier task, per ticket: chosen class, its probability, all probabilities
        columns: dict[str, tuple[list[str], list[float], list[dict[str, float]]]] = {}
        for task, raw in raws.items():
            model = self.models[task]
            probs = model.probabilities(raw)
            if task == "sla_risk":
                sla = probs.tolist()
                continue
            labels, rows = model.labels, probs.tolist()
            best = np.argmax(probs, axis=1).tolist()
            columns[task] = (
                [labels[b] for b in best],
                [row[b] for row, b in zip(rows, best, strict=True)],
                [dict(zip(labels, row, strict=True)) for row in rows],
            )
        for task in ("category", "priority"):
            columns.setdefault(task, ([""] * n, [0.0] * n, [{} for _ in range(n)]))
        category, confidence, category_probs = columns["category"]
        priority, _, priority_probs = columns["priority"]
        version = self.version
        return [
            Scores(*fields, version)
            for fields in zip(
                category, confidence, category_probs, priority, priority_probs, sla, strict=True
            )
        ]

    def raw_batch(
        self, tickets: Sequence[Ticket], queue_states: Sequence[QueueState | None]
    ) -> dict[str, np.ndarray]:
        """Raw booster scores per task for many (normalised) tickets, shape (n, n_outputs)."""
        cleaned = [ticket_text(t) for t in tickets]
        text_matrix = None if self.vectorizer is None else self.vectorizer.transform(cleaned)
        raws: dict[str, np.ndarray] = {}
        for task, model in self.models.items():
            queues = list(queue_states)
            if task == "sla_risk" and "priority" in raws:
                prio = self.models["priority"]
                best = np.argmax(prio.decision_scores(raws["priority"]), axis=1)
                queues = [
                    self._queue_for_sla(q, prio.labels[int(b)])
                    for q, b in zip(queues, best, strict=True)
                ]
            matrix = model.features.matrix(tickets, cleaned, text_matrix, queues)
            raws[task] = model.raw(matrix)
        return raws

    def probabilities_batch(
        self, tickets: Sequence[Ticket], queue_states: Sequence[QueueState | None] | None = None
    ) -> dict[str, np.ndarray]:
        """Per task: class probabilities (n, n_classes), or P(breach) (n,) for sla_risk."""
        tickets = [_normalise(t) for t in tickets]
        queues = list(queue_states) if queue_states is not None else [None] * len(tickets)
        raws = self.raw_batch(tickets, queues)
        return {task: self.models[task].probabilities(raw) for task, raw in raws.items()}

    # -- explanations ---------------------------------------------------------------------------

    def explain(
        self, ticket: Ticket, queue_state: QueueState | None = None, top_k: int = 5
    ) -> Explanation:
        """Explain each task's decision with LightGBM's exact per-feature contributions.

        Args:
            ticket: the ticket.
            queue_state: the target queue's state at arrival.
            top_k: how many contributions (largest by absolute value) to list per task.

        Raises:
            InvalidArgument: `ticket` is not a Ticket or top_k < 1.
        """
        if top_k < 1:
            raise InvalidArgument("top_k must be at least 1", field="top_k")
        ticket = _normalise(ticket)
        rows, raws = self._raw_scores(ticket, queue_state)
        clean = ticket_text(ticket)
        vector = self._vector(clean)
        explained = {}
        for task, model in self.models.items():
            contrib = model.booster.contributions(rows[task])
            if model.binary:
                out, chosen, offset = 0, model.labels[1], 0.0
            else:
                decision = model.decision_scores(raws[task])
                out = int(np.argmax(decision))
                chosen, offset = model.labels[out], float(model.class_offset[out])
            # the trees' exact contributions, then the linear text prior they start from
            n_features = model.booster.n_features
            values = np.append(contrib[out, :-1], model.prior(rows[task])[out])
            names = [*model.features.readable, TEXT_PRIOR_NAME]
            bias = float(contrib[out, -1]) + offset
            order = np.argsort(-np.abs(values), kind="stable")[:top_k]
            items = tuple(
                Contribution(
                    names[i], float(values[i]),
                    self._text_detail(model, self._text_output(model, i, out, n_features), vector),
                )
                for i in order
                if values[i] != 0.0
            )
            shown = sum(c.contribution for c in items)
            explained[task] = TaskExplanation(
                task=task,
                chosen=chosen,
                raw_score=float(values.sum()) + bias,
                bias=bias,
                contributions=items,
                rest=float(values.sum()) - shown,
            )
        return Explanation(model_version=self.version, tasks=explained)

    @staticmethod
    def _text_output(model: TaskModel, column: int, out: int, n_features: int) -> int | None:
        """Which linear text score a contribution column stands for (None: not a text one)."""
        n_cols = model.features.n_text_outputs
        if column == n_features:
            return out if n_cols else None
        if column < n_cols:
            return column
        n_classes = len(model.labels)
        if n_cols > 1 and column < n_cols + n_classes:
            return column - n_cols
        return None

    def _text_detail(
        self, model: TaskModel, k: int | None, vector: tuple[np.ndarray, np.ndarray] | None
    ) -> str:
        """For a text score: the terms that pushed linear text score `k` most."""
        text_model = model.features.text_model
        if k is None or text_model is None or vector is None or self.vectorizer is None:
            return ""
        if len(vector[0]) == 0 or model.features.n_terms == 0:
            return ""
        idx, val = vector
        pushes = val * text_model.weights[idx, k]
        terms = self.vectorizer.terms_at(idx[np.argsort(-pushes)[:3]])
        return "; ".join(readable_term(t) for t in terms)
