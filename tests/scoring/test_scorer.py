"""The scorer: save/load, the fast path, explanations, and bad input."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from router.errors import FailedPrecondition, InvalidArgument, NotFound
from scoring.datasets import LabeledTickets
from scoring.features import QueueState, Ticket
from scoring.scorer import Scorer, SlaBasis


def _sample(data: LabeledTickets, n: int = 150) -> tuple[list[Ticket], list[QueueState | None]]:
    rows = range(0, len(data), max(1, len(data) // n))
    return [data.tickets[i] for i in rows], [data.queues[i] for i in rows]


def test_save_and_load_give_identical_predictions(
    scorer: Scorer, saved_model: Path, demo_data: LabeledTickets
) -> None:
    loaded = Scorer.load(saved_model)
    tickets, queues = _sample(demo_data)
    assert loaded.tasks == scorer.tasks == ("category", "priority", "sla_risk")
    assert loaded.version == scorer.version
    for before, after in zip(scorer.score_batch(tickets, queues),
                             loaded.score_batch(tickets, queues), strict=True):
        assert before == after


def test_single_ticket_scores_equal_batch_scores(
    scorer: Scorer, demo_data: LabeledTickets
) -> None:
    tickets, queues = _sample(demo_data)
    batch = scorer.score_batch(tickets, queues)
    for ticket, queue, expected in zip(tickets, queues, batch, strict=True):
        one = scorer.score(ticket, queue)
        assert one.category == expected.category
        assert one.priority == expected.priority
        assert one.sla_risk == pytest.approx(expected.sla_risk, abs=1e-9)
        for label, p in expected.category_probabilities.items():
            assert one.category_probabilities[label] == pytest.approx(p, abs=1e-9)


def test_sla_risk_from_a_stored_basis_is_the_risk_of_the_ticket_itself(
    scorer: Scorer, demo_data: LabeledTickets
) -> None:
    tickets, queues = _sample(demo_data, 100)
    risks = set()
    for ticket, queue in zip(tickets, queues, strict=True):
        stored = scorer.sla_basis(ticket)
        assert stored is not None
        basis = SlaBasis.from_json(stored.to_json())  # as kept with the ticket in Redis
        for priority in ("P1", "P4", "P7"):  # P7: a priority the model never saw
            state = replace(queue or QueueState(), priority=priority)
            risk = scorer.sla_risk_from_basis(basis, state)
            assert risk == scorer.sla_risk(ticket, state)  # exactly
            risks.add(risk)
        deeper = QueueState(queue_depth=400, agents_available=0, oldest_wait_s=9e4, priority="P4")
        assert scorer.sla_risk_from_basis(basis, deeper) == scorer.sla_risk(ticket, deeper)
    assert len(risks) > 50  # the priority and the queue state change the values

    basis = scorer.sla_basis(tickets[0])
    assert basis is not None
    other = SlaBasis("another-model", basis.row)
    with pytest.raises(InvalidArgument, match="another-model"):
        scorer.sla_risk_from_basis(other, QueueState(priority="P3"))
    with pytest.raises(InvalidArgument, match="priority"):  # the model would predict it
        scorer.sla_risk_from_basis(basis, QueueState())
    for text in ("{}", "[1]", "not json", '{"model": "m", "text": "x", "middle": [1]}'):
        with pytest.raises(InvalidArgument, match="not an SLA basis"):
            SlaBasis.from_json(text)


def test_fast_single_row_path_equals_lightgbm_predict(
    scorer: Scorer, demo_data: LabeledTickets
) -> None:
    tickets, queues = _sample(demo_data, 300)
    from scoring.features import ticket_text

    cleaned = [ticket_text(t) for t in tickets]
    text = scorer.vectorizer.transform(cleaned)
    for task, model in scorer.models.items():
        matrix = model.features.matrix(tickets, cleaned, text, queues)
        expected = model.booster.booster.predict(matrix, raw_score=True).reshape(len(matrix), -1)
        fast = np.array([model.booster.raw_one(row) for row in matrix])
        np.testing.assert_array_equal(fast, expected, err_msg=task)


def test_explanations_add_up_to_the_raw_score(scorer: Scorer, demo_data: LabeledTickets) -> None:
    tickets, queues = _sample(demo_data, 20)
    for ticket, queue in zip(tickets, queues, strict=True):
        explanation = scorer.explain(ticket, queue, top_k=4)
        __, raws = scorer._raw_scores(ticket, queue)
        scores = scorer.score(ticket, queue)
        assert set(explanation.tasks) == set(scorer.tasks)
        for task, part in explanation.tasks.items():
            total = part.bias + sum(c.contribution for c in part.contributions) + part.rest
            assert total == pytest.approx(part.raw_score, abs=1e-9)
            model = scorer.models[task]
            if model.binary:
                assert part.raw_score == pytest.approx(raws[task][0], abs=1e-9)
            else:
                index = model.labels.index(part.chosen)
                decision = model.decision_scores(raws[task])
                assert part.raw_score == pytest.approx(decision[index], abs=1e-9)
            assert len(part.contributions) <= 4
            assert all(isinstance(name, str) and name for name, _ in part)
        assert explanation.category.chosen == scores.category
        assert explanation.priority.chosen == scores.priority


def test_explanations_name_words_and_fields(scorer: Scorer) -> None:
    ticket = Ticket("Invoice wrong", "I was charged twice, please refund the invoice",
                    channel="email", customer_tier="premium", created_at=datetime(2024, 3, 5, 10))
    explanation = scorer.explain(ticket, QueueState(30, 0, 3600.0), top_k=8)
    assert explanation.category.chosen == "billing"
    text_parts = [c for c in explanation.category.contributions if c.detail]
    assert any('"invoice"' in c.detail or '"refund' in c.detail for c in text_parts)
    sla_names = {c.feature for c in explanation.sla_risk.contributions}
    assert sla_names & {"queue_depth", "agents_available", "oldest_wait_s", "depth_per_agent"}


BAD_TICKETS = {
    "empty text": Ticket("", ""),
    "unknown categories": Ticket("hello", "world", channel="pigeon", customer_tier="platinum",
                                 product="???", language="xx"),
    "missing fields": Ticket(subject=None, body=None),  # type: ignore[arg-type]
    "nan values": Ticket("x", float("nan"), channel=float("nan"),  # type: ignore[arg-type]
                         attributes={"n": "nan"}),
    "one megabyte body": Ticket("log", "error at line 42 " * 62_000),
    "bad date": Ticket("a", "b", created_at="yesterday"),  # type: ignore[arg-type]
    "bad attributes": Ticket("a", "b", attributes=None),  # type: ignore[arg-type]
}


@pytest.mark.parametrize("name", list(BAD_TICKETS))
def test_bad_input_is_scored_without_a_crash(scorer: Scorer, name: str) -> None:
    ticket = BAD_TICKETS[name]
    queue = QueueState(queue_depth=float("nan"), agents_available=-3,  # type: ignore[arg-type]
                       oldest_wait_s=float("inf"))
    for state in (None, queue):
        scores = scorer.score(ticket, state)
        assert scores.category in scorer.models["category"].labels
        assert sum(scores.category_probabilities.values()) == pytest.approx(1.0)
        assert 0.0 <= scores.sla_risk <= 1.0
        assert scorer.explain(ticket, state).category is not None
    assert len(scorer.score_batch([ticket, ticket], [None, queue])) == 2


def test_non_tickets_are_refused(scorer: Scorer) -> None:
    with pytest.raises(InvalidArgument, match="Ticket"):
        scorer.score({"subject": "x"})  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="queue states"):
        scorer.score_batch([Ticket("a", "b")], [None, None])
    with pytest.raises(InvalidArgument, match="top_k"):
        scorer.explain(Ticket("a", "b"), top_k=0)


def test_loading_refuses_missing_and_foreign_artefacts(saved_model: Path, tmp_path: Path) -> None:
    with pytest.raises(NotFound, match=r"metadata\.json"):
        Scorer.load(tmp_path / "nowhere")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    meta: dict[str, Any] = json.loads((saved_model / "metadata.json").read_text())
    meta["format_version"] = 999
    (foreign / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(FailedPrecondition, match="retrain"):
        Scorer.load(foreign)


def test_a_model_without_some_tasks_scores_with_empties(
    demo_data: LabeledTickets, tmp_path: Path
) -> None:
    from scoring.training import train_scorer

    only_category, _ = train_scorer(demo_data.subset(range(600)), ["category"])
    loaded = Scorer.load(only_category.save(tmp_path / "cat"))
    assert loaded.tasks == ("category",)
    scores = loaded.score(Ticket("refund", "please refund my invoice"))
    assert scores.category
    assert scores.priority == "" and scores.priority_probabilities == {}
    assert math.isnan(scores.sla_risk)
    assert math.isnan(loaded.sla_risk(Ticket("a", "b")))
    assert set(loaded.explain(Ticket("a", "b")).tasks) == {"category"}
