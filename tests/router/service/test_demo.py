"""`ticket-router demo`: routes every ticket, summarises, and leaves no team behind."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from rich.console import Console

from queues import AgentStatus, QueueStore
from router.demo import DEMO_SUBDIR, demo_settings, run_demo
from router.settings import load_settings


async def test_the_demo_routes_every_ticket_then_sends_its_team_offline(
    redis_url: str, data_dir: Path, model_dir: Path
) -> None:
    settings = load_settings(None, data_dir=data_dir, port=0, metrics_port=0,
                             redis_url=redis_url, model_dir=model_dir)
    console = Console(record=True, width=120)

    stats = await run_demo(settings, tickets=40, rate=40.0, console=console)

    assert len(stats.submit_ms) == 40 and not stats.errors
    assert sum(stats.per_queue.values()) == 40 == sum(stats.by_reason.values())
    assert stats.accepted + stats.rejected + stats.ignored > 0
    summary = console.export_text()
    assert "tickets routed" in summary and "40 of 40" in summary
    store = QueueStore(redis.Redis.from_url(redis_url))
    team = [store.get_agent(f"billing-{n}") for n in (1, 2)]
    assert team and all(a is not None and a.status is AgentStatus.OFFLINE for a in team)
    assert all(a is not None and not a.offers for a in team)


def test_the_demo_keeps_to_a_directory_of_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert demo_settings(None).data_dir == tmp_path / "ticket-router" / DEMO_SUBDIR
    assert demo_settings(tmp_path / "mine").data_dir == tmp_path / "mine"
