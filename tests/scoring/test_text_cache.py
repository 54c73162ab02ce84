"""Remembering a ticket's cleaned text changes no score, and is bounded."""

from __future__ import annotations

from scoring import scorer as scorer_module
from scoring.datasets import LabeledTickets
from scoring.features import QueueState
from scoring.scorer import Scorer


def test_remembered_text_gives_the_same_scores(scorer: Scorer, demo_data: LabeledTickets) -> None:
    tickets = demo_data.tickets[:50]
    queue = QueueState(queue_depth=12, agents_available=1, oldest_wait_s=900.0)
    scorer.forget_texts()
    fresh = [(scorer.score(t, queue), scorer.sla_risk(t, queue)) for t in tickets]
    scorer.forget_texts()
    for ticket in tickets:
        scorer.score(ticket, None)  # remembers the texts
    again = [(scorer.score(t, queue), scorer.sla_risk(t, queue)) for t in tickets]
    assert again == fresh


def test_the_memory_is_bounded(scorer: Scorer, demo_data: LabeledTickets, monkeypatch) -> None:
    monkeypatch.setattr(scorer_module, "TEXT_CACHE_SIZE", 10)
    scorer.forget_texts()
    for ticket in demo_data.tickets[:40]:
        scorer.sla_risk(ticket)
    assert len(scorer._texts) <= 10
