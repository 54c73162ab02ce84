"""What-if: past tickets replayed through a draft rule set, before it goes live.

Each ticket in the history, with the scores the model gave it at submission, is routed again by
the draft rule set and set against where it went. Per queue the result gives the tickets before
and after, the agents available to serve it, and the predicted SLA breaches: the sum of the
tickets' SLA risks, each scored by the router's model in the queue it joins, at the priority
it joins with, in that queue's state when it arrived. The state is replayed from the history:
the tickets waiting in the queue then, each waiting as long as it really waited, since how
long a moved ticket would wait elsewhere is unknown. Both sides are scored the same way by
the same model, so any difference comes from the rules.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from router import convert
from router.api.ticket_router.v1 import ticket_pb2 as pb
from router.history.models import Agent, Ticket, TicketProjection
from router.live_rules import RuleScores, ticket_values
from router.rules import Decision, RuleSet
from router.scoring_adapter import scoring_ticket
from scoring.features import QueueState
from scoring.scorer import Scorer

DEFAULT_LIMIT = 10_000
"""Tickets replayed when the caller does not say (the latest in the window)."""
MAX_LIMIT = 100_000
"""At most this many: a replay makes each ticket's SLA basis from its text and scores its risk
twice, 0.18-0.22 ms a ticket on demo tickets (about 20 s of a router's CPU for 100,000)."""
DEFAULT_EXAMPLES = 10
MAX_EXAMPLES = 1_000


@dataclass(frozen=True)
class PastTicket:
    """A submitted ticket as the history recorded it.

    Attributes:
        ticket: its fields, as submitted.
        scores: the model's category, confidence and priority at submission.
        queue, priority: where it went and at what priority ("P1".."P4").
        submitted_at: seconds since the epoch.
        left_at: when it stopped waiting (first offer, cancellation or resolution); None while
            it waits.
    """

    ticket: pb.Ticket
    scores: pb.Scores
    queue: str
    priority: str
    submitted_at: float
    left_at: float | None


@dataclass(frozen=True)
class ChangedTicket:
    """A ticket the draft routes elsewhere or at another priority."""

    ticket_id: str
    queue_before: str
    queue_after: str
    priority_before: str
    priority_after: str
    decision: Decision


@dataclass
class QueueImpact:
    """One queue before (as routed) and after (the draft)."""

    queue: str
    agents_available: int
    tickets_before: int = 0
    tickets_after: int = 0
    predicted_breaches_before: float = 0.0
    predicted_breaches_after: float = 0.0


@dataclass
class WhatIf:
    """The outcome of replaying past tickets through a draft rule set."""

    tickets: int
    first_submitted_at: float | None
    last_submitted_at: float | None
    queue_changed: int
    priority_changed: int
    risk_scored: bool
    """False when the model has no SLA-risk task: predicted breaches are then 0."""
    queues: list[QueueImpact]
    moves: list[tuple[str, str, int]]
    """(from queue, to queue, tickets), most tickets first."""
    rule_hits: list[tuple[str, int | None, int]]
    """(draft rule id, its line, tickets it decided), most first."""
    reasons: dict[str, int]
    """Draft decisions by reason: rule, category_map, triage, default."""
    changed: list[ChangedTicket]
    warnings: list[str] = field(default_factory=list)

    @property
    def predicted_breaches_before(self) -> float:
        return sum(q.predicted_breaches_before for q in self.queues)

    @property
    def predicted_breaches_after(self) -> float:
        return sum(q.predicted_breaches_after for q in self.queues)


def _seconds(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


def past_ticket(row: Ticket, projection: TicketProjection | None) -> PastTicket:
    """A history row (and its projection) as a `PastTicket`."""
    ticket = pb.Ticket(
        id=row.id,
        subject=row.subject,
        body=row.body,
        channel=convert.CHANNEL_VALUES.get(row.channel, pb.CHANNEL_UNSPECIFIED),
        customer_id=row.customer_id,
        customer_tier=row.customer_tier,
        product=row.product,
        language=row.language,
        attributes=row.attributes,
        created_at=convert.timestamp(_seconds(row.created_at)),
    )
    # the model's priority; a row without its probabilities: the priority it was queued with
    probabilities = row.priority_probabilities or {}
    predicted = max(probabilities, key=probabilities.__getitem__) if probabilities else row.priority
    scores = pb.Scores(
        category=row.category,
        category_confidence=row.category_confidence,
        priority=convert.PRIORITY_VALUES.get(predicted, pb.PRIORITY_UNSPECIFIED),
    )
    left = None
    if projection is not None:
        moments = (projection.first_offered_at, projection.cancelled_at, projection.resolved_at)
        left = min((m.timestamp() for m in moments if m is not None), default=None)
    submitted = _seconds(row.submitted_at)
    assert submitted is not None, "past_submissions returns submitted tickets only"
    return PastTicket(ticket, scores, row.queue, row.priority, submitted, left)


def available_agents(agents: Iterable[Agent]) -> dict[str, int]:
    """Per queue, the agents now available that serve it."""
    counts: Counter[str] = Counter()
    for agent in agents:
        if agent.status == "available":
            counts.update(set(agent.queues))
    return dict(counts)


def replay_queue_states(
    arrivals: Sequence[tuple[str, float, float | None]],
) -> list[tuple[int, float]]:
    """Each arrival's queue (depth, oldest wait in seconds) just before it joins; the queues
    start empty (tickets that arrived before the first one are not counted).

    Args:
        arrivals: (queue, arrived, left or None while waiting), in arrival order.
    """
    leaving: dict[str, list[tuple[float, int]]] = {}  # per queue: heap of (left, index)
    oldest: dict[str, list[tuple[float, int]]] = {}  # per queue: heap of (arrived, index)
    gone: set[int] = set()
    states = []
    for index, (queue, arrived, left) in enumerate(arrivals):
        waiting = leaving.setdefault(queue, [])
        while waiting and waiting[0][0] <= arrived:
            gone.add(heapq.heappop(waiting)[1])
        first = oldest.setdefault(queue, [])
        while first and first[0][1] in gone:
            heapq.heappop(first)
        states.append((len(waiting), arrived - first[0][0] if first else 0.0))
        heapq.heappush(waiting, (math.inf if left is None else max(left, arrived), index))
        heapq.heappush(first, (arrived, index))
    return states


def _risks(
    tickets: Sequence[PastTicket],
    routes: Sequence[tuple[str, str]],
    agents: Mapping[str, int],
    risk: Callable[[int, QueueState], float],
) -> list[float]:
    """Each ticket's SLA risk when it joins `routes[i]` = (queue, priority)."""
    arrivals = [(queue, t.submitted_at, t.left_at) for t, (queue, _) in zip(tickets, routes,
                                                                            strict=True)]
    states = replay_queue_states(arrivals)
    return [
        risk(i, QueueState(queue_depth=depth, agents_available=agents.get(queue, 0),
                           oldest_wait_s=wait, priority=priority))
        for i, ((queue, priority), (depth, wait)) in enumerate(zip(routes, states, strict=True))
    ]


def simulate(
    tickets: Sequence[PastTicket],
    draft: RuleSet,
    scorer: Scorer,
    agents: Mapping[str, int],
    *,
    max_examples: int = DEFAULT_EXAMPLES,
) -> WhatIf:
    """Route past tickets with `draft` and compare with where they went.

    Args:
        tickets: in submission order (`past_ticket` of `past_submissions`).
        draft: the compiled draft rule set.
        scorer: the model that scores the SLA risks (the router's).
        agents: per queue, the agents available to serve it (`available_agents`).
        max_examples: changed tickets listed at most.
    """
    bases = [scorer.sla_basis(scoring_ticket(t.ticket)) for t in tickets]
    risk_scored = all(basis is not None for basis in bases) and bool(tickets)

    def risk(index: int, state: QueueState) -> float:
        """NaN without a basis (no SLA-risk task), as live: every comparison with it fails."""
        basis = bases[index]
        return scorer.sla_risk_from_basis(basis, state) if basis is not None else math.nan

    decisions = []
    for index, past in enumerate(tickets):
        model_priority = convert.PRIORITY_NAMES.get(past.scores.priority, "")
        scores = RuleScores(past.scores, lambda i=index, p=model_priority: risk(
            i, QueueState(priority=p)))
        decisions.append(draft.decide(ticket_values(past.ticket), scores))

    before = [(t.queue, t.priority) for t in tickets]
    after = [(d.queue, d.priority.name) for d in decisions]
    risks_before = _risks(tickets, before, agents, risk) if risk_scored else [0.0] * len(tickets)
    risks_after = _risks(tickets, after, agents, risk) if risk_scored else [0.0] * len(tickets)

    impacts: dict[str, QueueImpact] = {}

    def impact(queue: str) -> QueueImpact:
        if queue not in impacts:
            impacts[queue] = QueueImpact(queue, agents.get(queue, 0))
        return impacts[queue]

    moves: Counter[tuple[str, str]] = Counter()
    changed: list[ChangedTicket] = []
    priority_changed = 0
    for past, decision, (queue, priority), (new_queue, new_priority), r0, r1 in zip(
        tickets, decisions, before, after, risks_before, risks_after, strict=True
    ):
        old, new = impact(queue), impact(new_queue)
        old.tickets_before += 1
        old.predicted_breaches_before += r0
        new.tickets_after += 1
        new.predicted_breaches_after += r1
        if queue != new_queue:
            moves[(queue, new_queue)] += 1
        priority_changed += priority != new_priority
        if (queue != new_queue or priority != new_priority) and len(changed) < max_examples:
            changed.append(ChangedTicket(past.ticket.id, queue, new_queue, priority,
                                         new_priority, decision))

    lines = {rule.id: rule.line for rule in draft.rules}
    queues = sorted(impacts.values(), key=lambda q: (-q.tickets_after, q.queue))
    warnings = [
        f"queue {q.queue!r} would get {q.tickets_after} tickets and no available agent serves "
        f"it: register agents for it before publishing"
        for q in queues if not q.agents_available and q.tickets_after > q.tickets_before
    ]
    if not tickets:
        warnings.append("no submitted tickets in the history for this window: nothing to replay")
    return WhatIf(
        tickets=len(tickets),
        first_submitted_at=tickets[0].submitted_at if tickets else None,
        last_submitted_at=tickets[-1].submitted_at if tickets else None,
        queue_changed=sum(moves.values()),
        priority_changed=priority_changed,
        risk_scored=risk_scored,
        queues=queues,
        moves=[(a, b, n) for (a, b), n in moves.most_common()],
        rule_hits=[(rule, lines.get(rule), n) for rule, n in
                   Counter(d.rule_id for d in decisions if d.rule_id).most_common()],
        reasons=dict(Counter(d.reason for d in decisions)),
        changed=changed,
        warnings=warnings,
    )
