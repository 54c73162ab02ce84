"""The service's view of the scorer: proto tickets in, proto scores out.

The scorer (`scoring.scorer.Scorer`) works on `scoring.features.Ticket`; this module is the
one place that converts between the two, so the gRPC layer never sees LightGBM.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from router import convert
from router.api.ticket_router.v1 import ticket_pb2 as pb
from router.errors import InvalidArgument
from router.settings import Settings
from scoring.features import QueueState, Ticket
from scoring.scorer import Scorer, SlaBasis

EXPLAIN_TOP_K = 5
"""Contributions shown per task in an explanation."""


def scoring_ticket(ticket: pb.Ticket | Ticket) -> Ticket:
    """The scorer's ticket from the proto one (one already converted is returned as it is)."""
    if isinstance(ticket, Ticket):
        return ticket
    return Ticket(**convert.ticket_fields(ticket))


def queue_state(stats: Any, priority: str = "") -> QueueState:
    """The scorer's queue state from `queues.models.QueueStats`."""
    return QueueState(
        queue_depth=stats.depth,
        agents_available=stats.agents_available,
        oldest_wait_s=stats.oldest_wait_s,
        priority=priority,
    )


def _risk_state(stats: Any | None, priority: str) -> QueueState:
    """The queue state SLA risk is scored in (an unknown queue: empty, with the priority)."""
    return queue_state(stats, priority) if stats is not None else QueueState(priority=priority)


@dataclass
class ScoringAdapter:
    """Scores proto tickets with a loaded model."""

    scorer: Scorer

    @classmethod
    def load(cls, settings: Settings) -> ScoringAdapter:
        """The model in `settings.model_dir`, else the default model (trained on first use)."""
        if settings.model_dir is not None:
            return cls(Scorer.load(settings.model_dir))
        from scoring.default_model import load_or_train_default

        return cls(load_or_train_default(settings.data_dir))

    def score(
        self, ticket: pb.Ticket | Ticket, stats: Any | None, *, explain: bool = False,
        sla_risk: bool = True,
    ) -> pb.Scores:
        """All scores of a ticket (SLA risk given the queue state, when known).

        Args:
            sla_risk: False leaves the risk out (NaN), for a caller that scores it next in the
                state of the queue the other scores route the ticket to (`sla_risk`).
        """
        plain = scoring_ticket(ticket)
        state = queue_state(stats) if stats is not None else None
        tasks = None if sla_risk else [t for t in self.scorer.tasks if t != "sla_risk"]
        scores = self.scorer.score(plain, state, tasks)
        message = pb.Scores(
            category=scores.category,
            category_confidence=scores.category_confidence,
            category_probabilities=scores.category_probabilities,
            priority=convert.priority_value(scores.priority),
            priority_probabilities=scores.priority_probabilities,
            sla_risk=scores.sla_risk,
            model_version=scores.model_version,
        )
        if explain:
            explanation = self.scorer.explain(plain, state, top_k=EXPLAIN_TOP_K)
            for task, contributions in explanation.tasks.items():
                entry = message.explanation.tasks[task]
                for feature, value in contributions:
                    entry.contributions.add(feature=feature, contribution=value)
        return message

    def sla_risk(
        self, ticket: pb.Ticket | Ticket, stats: Any | None, priority: str = ""
    ) -> float:
        """The SLA-breach probability of a ticket joining a queue in the given state (None:
        unknown, as for a queue that does not exist yet)."""
        state = _risk_state(stats, priority)
        return float(self.scorer.sla_risk(scoring_ticket(ticket), state))

    def sla_risk_with_basis(
        self, ticket: pb.Ticket | Ticket, stats: Any | None, priority: str
    ) -> tuple[float, str | None]:
        """`sla_risk`, and the ticket's SLA basis to store with it (JSON) for
        `sla_risk_from_basis` to re-score it later without its text; no basis when the model
        has no SLA-risk task or needs the text to predict the priority (none given)."""
        plain = scoring_ticket(ticket)
        basis = self.scorer.sla_basis(plain) if priority else None
        if basis is None:
            return self.sla_risk(plain, stats, priority), None
        state = _risk_state(stats, priority)
        return self.scorer.sla_risk_from_basis(basis, state), basis.to_json()

    def sla_risk_from_basis(self, basis: str, stats: Any | None, priority: str) -> float | None:
        """`sla_risk` of the ticket whose `sla_basis` this is, the same value; None when the
        basis does not serve this model (another version's, or unreadable)."""
        state = _risk_state(stats, priority)
        try:
            return self.scorer.sla_risk_from_basis(SlaBasis.from_json(basis), state)
        except InvalidArgument:
            return None
