"""Writes what the event stream does not carry into the history: submitted tickets (text,
scores, decision), rule versions and model versions.

Submissions are written in batches by a background task, off the request path; a crash before
a batch is written loses nothing that matters, because Redis keeps each ticket's submission
until it is purged, and every write ignores rows that exist already.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

from sqlalchemy.engine import Engine

from router import convert
from router.api.ticket_router.v1 import ticket_pb2 as pb
from router.errors import Unavailable
from router.history.models import ModelVersionCreate, RuleVersionCreate, TicketCreate
from router.history.records import record_model_version, record_rule_version, record_tickets
from router.rule_store import StoredRuleSet

logger = logging.getLogger(__name__)

BATCH = 200
"""Most submissions written in one transaction."""

GATHER_S = 0.25
"""After a batch short of full, submissions gather this long before the next transaction: a
transaction costs far more than its rows (at 120 tickets/s, flushing each row at once kept
two executor threads busy for ~13 % of a core; gathered, ~5 %)."""


def ticket_row(
    ticket: pb.Ticket, scores: pb.Scores, decision: pb.RoutingDecision, submitted_at: float
) -> TicketCreate:
    """The history row of a submission."""
    return TicketCreate(
        id=ticket.id,
        **convert.ticket_fields(ticket),
        category=scores.category,
        category_confidence=scores.category_confidence,
        category_probabilities=dict(scores.category_probabilities),
        priority=convert.PRIORITY_NAMES.get(decision.priority, ""),  # type: ignore[call-overload]
        priority_probabilities=dict(scores.priority_probabilities),
        sla_risk=scores.sla_risk if scores.sla_risk == scores.sla_risk else 0.0,  # NaN: none
        model_version=scores.model_version,
        queue=decision.queue,
        required_skills=dict(decision.required_skills),
        tags=list(decision.tags),
        rule_id=decision.rule_id,
        rule_version=decision.rule_version,
        routing_reason=pb.RoutingReason.Name(decision.reason)
        .removeprefix("ROUTING_REASON_")
        .lower(),
        submitted_at=datetime.fromtimestamp(submitted_at, UTC),
    )


class HistoryRecorder:
    """Queues rows for the history and writes them from one background task."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._pending: asyncio.Queue[TicketCreate] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._write_forever(), name="history-recorder")

    async def stop(self) -> None:
        """Write what is pending, then stop."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Unavailable):
            while await self._flush():  # every pending row, not one batch
                pass

    def submitted(self, row: TicketCreate) -> None:
        """Queue a submission for the history (never blocks the caller)."""
        self._pending.put_nowait(row)

    async def rule_version(self, stored: StoredRuleSet) -> None:
        """Record a published rule set (once per version)."""
        row = RuleVersionCreate(
            version=stored.version, text=stored.text, format=stored.fmt, sha256=stored.sha256,
            published_by=stored.author,
            published_at=datetime.fromtimestamp(stored.published_at, UTC),
        )
        await asyncio.to_thread(record_rule_version, self.engine, row)

    async def model_version(self, version: str, path: str, metrics: dict[str, object]) -> None:
        """Record the model artefact this router loaded (once per version)."""
        row = ModelVersionCreate(
            version=version, path=path, metrics=metrics, created_at=datetime.now(UTC)
        )
        await asyncio.to_thread(record_model_version, self.engine, row)

    async def _flush(self) -> int:
        rows: list[TicketCreate] = []
        while not self._pending.empty() and len(rows) < BATCH:
            rows.append(self._pending.get_nowait())
        if rows:
            try:
                await asyncio.to_thread(record_tickets, self.engine, rows)
            except Unavailable:
                for row in rows:  # keep them for the next attempt
                    self._pending.put_nowait(row)
                raise
        return len(rows)

    async def _write_forever(self) -> None:
        while True:
            row = await self._pending.get()
            self._pending.put_nowait(row)
            try:
                written = await self._flush()
            except Unavailable as error:
                logger.warning("history unavailable, will retry: %s", error)
                await asyncio.sleep(1.0)
                continue
            if written < BATCH:  # let the next rows gather: one transaction for many
                await asyncio.sleep(GATHER_S)
