"""Writes what neither the event stream nor the ticket records carry into the history: the rule
versions a router publishes or loads and the model version it runs.

Submissions (text, scores, decision) are stored by the history writer process, from the
tickets' records in Redis, in the transaction that stores their `enqueued` events
(`router.history.submissions`).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy.engine import Engine

from router.history.models import ModelVersionCreate, RuleVersionCreate
from router.history.records import record_model_version, record_rule_version
from router.rule_store import StoredRuleSet


class HistoryRecorder:
    """Records rule and model versions (each once; a repeat is ignored)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

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
