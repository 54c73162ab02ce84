"""The live SLA-risk and escalation sweep: before the breach, once per level across real router
processes, shared work (each ticket scored at most once per interval), no flapping."""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import os
import re
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.asyncio
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from clients.client import RouterClient
from clients.requests import make_ticket
from queues import AsyncQueueStore, EventReader, QueueStore, SlaCheck
from queues.events import Event
from router import convert
from router.api.ticket_router.v1 import ticket_pb2 as pb
from router.config_document import ConfigDocument
from router.metrics import RouterMetrics
from router.rule_store import RuleStore
from router.scoring_adapter import ScoringAdapter
from router.sla.escalation import EscalationPolicy, load_escalation_policy
from router.sla.policy import SlaPolicy, load_sla_policy
from router.sla.sweep import SlaSweep, live_risk
from scoring.scorer import Scorer

REPO = Path(__file__).resolve().parents[3]
READY_LINE = re.compile(r"ticket-router serving gRPC on \S+:(\d+)")

SUBJECTS = ("Invoice charged twice", "Cannot log in since the update", "Parcel never arrived",
            "How do I export my data?", "Refund for a cancelled order", "App crashes on start")


def rules_text(target: str, soon: str, late: str) -> str:
    """A rule set: everything to `support`, one first-response target for every priority,
    three escalation levels (two on time left, one on the live risk)."""
    targets = "\n".join(f"    {p}: {{first_response: {target}, resolution: 1h}}"
                        for p in ("P1", "P2", "P3", "P4"))
    return f"""\
default_queue: support
default_priority: P3
sla_policy:
  targets:
{targets}
escalation:
  levels:
    - name: soon
      when: {{time_left_at_most: {soon}}}
      actions: {{raise_priority: 1, move_to_queue: escalations, relax_skills: [german]}}
    - name: late
      when: {{time_left_at_most: {late}}}
      actions: {{raise_priority: P1}}
    - name: risky
      when: {{sla_risk_at_least: 0.97}}
"""


@pytest.fixture(scope="session")
def risk_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small real model (category, priority, SLA risk) trained on 400 demo tickets."""
    from scoring.datasets import demo_dataset
    from scoring.training import train_scorer

    scorer, _ = train_scorer(demo_dataset(n=400, seed=7))
    directory = tmp_path_factory.mktemp("sla-model")
    scorer.save(directory)
    return directory


def escalations(events: list[Event]) -> Counter[tuple[str, str]]:
    return Counter((e.ticket_id, e.data["level"]) for e in events if e.type == "escalated")


# --- two `ticket-router serve` processes ----------------------------------------------------


@pytest.fixture
def two_routers(
    redis_url: str, tmp_path: Path, risk_model_dir: Path
) -> Iterator[list[str]]:
    """Two router processes on one Redis, following a rule set with a 20 s response target."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(rules_text("20s", "15s", "8s"))
    routers: list[tuple[subprocess.Popen[bytes], Path]] = []
    try:
        for n in range(2):
            data = tmp_path / f"router-{n}"
            data.mkdir()
            out = data / "stdout.log"
            with out.open("wb") as stdout, (data / "stderr.log").open("wb") as stderr:
                process = subprocess.Popen(
                    [sys.executable, "-m", "router", "serve", "--port", "0", "--metrics-port",
                     "0", "--data-dir", str(data), "--model", str(risk_model_dir)],
                    stdout=stdout, stderr=stderr, cwd=REPO,
                    env=_router_env(redis_url, rules))
            routers.append((process, data))
        yield [_ready_target(process, data) for process, data in routers]
    finally:
        for process, _ in routers:
            process.terminate()
        for process, _ in routers:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _router_env(redis_url: str, rules: Path) -> dict[str, str]:
    inherited = {key: value for key, value in os.environ.items()
                 if not key.startswith("TICKET_ROUTER_") and key != "DATABASE_URL"}
    return inherited | {"REDIS_URL": redis_url, "PYTHONUNBUFFERED": "1",
                        "TICKET_ROUTER_RULES_FILE": str(rules)}


def _ready_target(process: subprocess.Popen[bytes], data: Path, timeout: float = 90) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = READY_LINE.search((data / "stdout.log").read_text())
        if found:
            return f"127.0.0.1:{found.group(1)}"
        if process.poll() is not None:
            raise AssertionError((data / "stderr.log").read_text()[-3000:])
        time.sleep(0.1)
    raise AssertionError(f"router not ready in {timeout} s")


@pytest.mark.slow
def test_two_routers_escalate_each_level_once_and_before_the_breach(
    two_routers: list[str], redis_client: redis.Redis
) -> None:
    count = 8
    clients = [RouterClient(target) for target in two_routers]
    try:
        for n in range(count):
            ticket = make_ticket(f"t{n}", SUBJECTS[n % len(SUBJECTS)], "Please help.")
            assert clients[n % 2].submit_ticket(ticket).created
    finally:
        for client in clients:
            client.close()
    reader = EventReader(redis_client)
    deadline = time.time() + 25
    while len(escalations(reader.read(count=100_000))) < 3 * count and time.time() < deadline:
        time.sleep(0.5)

    events = reader.read(count=100_000)
    fired = escalations(events)
    assert set(fired.values()) == {1}, fired  # never twice, whichever router checked it
    assert {level for _, level in fired} == {"soon", "late", "risky"}
    assert len(fired) == 3 * count
    due = {e.ticket_id: e.data["deadline_ms"] / 1000 for e in events if e.type == "enqueued"}
    for event in events:
        if event.type == "escalated" and event.data["level"] in ("soon", "late"):
            bound = 15 if event.data["level"] == "soon" else 8
            assert due[event.ticket_id] - bound - 0.1 <= event.ts < due[event.ticket_id], event
    store = QueueStore(redis_client)
    for n in range(count):
        state = store.get_ticket(f"t{n}")
        assert state is not None
        assert (state.queue, state.priority) == ("escalations", 1)
        assert state.deadline_ts == due[f"t{n}"]  # the same 20 s target at every priority


# --- two sweep processes: shared work, each ticket scored at most once per interval --------


def _publish(url: str, text: str) -> None:
    async def publish() -> None:
        client = redis.asyncio.Redis.from_url(url)
        try:
            await RuleStore(client).publish(text, "yaml", "test")
        finally:
            await client.aclose()

    asyncio.run(publish())


def _enqueue(store: QueueStore, count: int, target_s: float) -> dict[str, float]:
    store.set_queue_policy("support")
    submitted = time.time()
    for n in range(count):
        ticket = make_ticket(f"t{n}", SUBJECTS[n % len(SUBJECTS)], "Please help.")
        store.enqueue(f"t{n}", "support", 3, "email", skills={"german": 1},
                      deadline_ts=submitted + target_s,
                      data={"ticket": convert.pack(ticket), "submitted_at": submitted})
    return {f"t{n}": submitted + target_s for n in range(count)}


@pytest.mark.slow
def test_two_sweeping_processes_share_the_work(
    redis_url: str, redis_client: redis.Redis, tmp_path: Path, risk_model_dir: Path
) -> None:
    interval_s, count = 1.5, 60
    _publish(redis_url, rules_text("7s", "5s", "2s"))
    logs = [tmp_path / f"sweep{n}.log" for n in range(2)]
    workers = [
        subprocess.Popen([sys.executable, "-m", "tests.router.sla.sweep_worker", redis_url,
                          str(risk_model_dir), str(log), str(interval_s), "10", "0.1"],
                         cwd=REPO, stderr=subprocess.PIPE)
        for log in logs
    ]
    try:
        started = time.monotonic()
        while not all(log.exists() and log.read_text().startswith("ready") for log in logs):
            assert time.monotonic() - started < 60, "sweep workers did not start"
            assert all(w.poll() is None for w in workers), workers[0].stderr
            time.sleep(0.1)
        due = _enqueue(QueueStore(redis_client), count, 7.0)
        time.sleep(7.5)
    finally:
        for worker in workers:
            worker.kill()
            worker.wait()

    scorings: dict[str, list[float]] = defaultdict(list)
    per_worker = []
    escalated_by_workers: Counter[tuple[str, str]] = Counter()
    for log in logs:
        reports = [json.loads(line) for line in log.read_text().splitlines()[1:]]
        per_worker.append(sum(len(r["scored"]) for r in reports))
        for report in reports:
            for ticket_id in report["scored"]:
                scorings[ticket_id].append(report["now"])
            escalated_by_workers.update(tuple(pair) for pair in report["escalated"])
    assert set(scorings) == set(due)
    for ticket_id, times in scorings.items():
        times.sort()
        gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
        assert len(times) >= 3, (ticket_id, times)  # re-scored as time passes
        assert min(gaps) >= interval_s - 0.002, (ticket_id, gaps)  # server ms rounding
    assert min(per_worker) >= 0.1 * sum(per_worker), per_worker  # both did a share

    fired = escalations(EventReader(redis_client).read(count=100_000))
    assert len(fired) >= 2 * count  # soon and late for every ticket, risky for most
    assert set(fired.values()) == {1}
    assert escalated_by_workers == fired  # each level won by exactly one process


# --- in one process: no flapping, metrics, timing ------------------------------------------


class ScriptedRisk:
    """A risk model that returns the next value of a script (the model is not under test
    here; the sweep's reaction to a risk that moves up and down is)."""

    def __init__(self, values: list[float]) -> None:
        self.values = list(values)

    def sla_risk_with_basis(
        self, ticket: pb.Ticket, stats: Any, priority: str
    ) -> tuple[float, str | None]:
        return self.values.pop(0), None  # no basis: every scoring comes from here

    def sla_risk_from_basis(self, basis: str, stats: Any, priority: str) -> float | None:
        raise AssertionError("no basis was made")


class Policies:
    """Fixed SLA and escalation policies, parsed from a rule-set document."""

    def __init__(self, text: str) -> None:
        document = ConfigDocument.parse(text, "yaml")
        self.sla_policy: SlaPolicy = load_sla_policy(document)
        self.escalation_policy: EscalationPolicy = load_escalation_policy(document)


FLAPPING = """\
sla_policy:
  targets: {P3: {first_response: 1h}}
escalation:
  at_risk: {sla_risk_at_least: 0.6, clear_below: 0.5}
  levels:
    - name: warn
      when: {sla_risk_at_least: 0.6}
      actions: {raise_priority: 1}
"""


async def test_risk_going_up_and_down_escalates_once_and_the_flag_does_not_flap(
    redis_url: str,
) -> None:
    risks = [0.7, 0.55, 0.65, 0.4, 0.7, 0.3]
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    metrics = RouterMetrics(provider.get_meter("ticket_router"))
    client = redis.asyncio.Redis.from_url(redis_url)
    queues = AsyncQueueStore(client)
    sync = QueueStore(redis.Redis.from_url(redis_url))
    metrics.observe_queues(lambda: [sync.queue_stats("support")], ttl_s=0)
    sweep = SlaSweep(queues, Policies(FLAPPING), ScriptedRisk(risks), metrics, interval_s=0.05)
    try:
        _enqueue(sync, 1, 3600.0)
        flags, gauge, priorities = [], [], []
        for _ in risks:
            report = await sweep.sweep_once()
            assert report.scored == ["t0"]
            ticket = await queues.get_ticket("t0")
            assert ticket is not None
            flags.append(ticket.at_risk)
            priorities.append(ticket.priority)
            gauge.append(_gauge(reader, "ticket_router.tickets.at_risk"))
            await asyncio.sleep(0.1)

        assert flags == [True, True, True, False, True, False]  # 0.55 keeps it, 0.4 clears
        assert gauge == [1, 1, 1, 0, 1, 0]
        assert priorities == [2] * len(risks)  # raised once, never lowered
        events = EventReader(redis.Redis.from_url(redis_url)).read(count=1000)
        assert escalations(events) == {("t0", "warn"): 1}
        assert _gauge(reader, "ticket_router.escalations") == 1
    finally:
        await client.aclose()
        provider.shutdown()


def _gauge(reader: InMemoryMetricReader, name: str) -> float:
    data = reader.get_metrics_data()
    points: list[Any] = [
        point
        for resource in (data.resource_metrics if data else ())
        for scope in resource.scope_metrics
        for metric in scope.metrics if metric.name == name
        for point in metric.data.data_points
    ]
    return sum(point.value for point in points)


async def test_a_time_left_level_fires_on_time_however_long_the_interval(
    redis_url: str,
) -> None:
    policies = Policies(rules_text("4s", "2s", "1s").split("default_priority: P3\n")[1])
    client = redis.asyncio.Redis.from_url(redis_url)
    queues = AsyncQueueStore(client)
    sweep = SlaSweep(queues, policies, ScriptedRisk([0.1]),
                     RouterMetrics(MeterProvider().get_meter("t")),
                     create_queue=queues.set_queue_policy, interval_s=600, tick_s=0.05)
    try:
        due = _enqueue(QueueStore(redis.Redis.from_url(redis_url)), 1, 4.0)["t0"]
        task = asyncio.create_task(sweep.run())
        await asyncio.sleep(3.5)
        task.cancel()
        events = EventReader(redis.Redis.from_url(redis_url)).read(count=1000)
    finally:
        await client.aclose()
    fired = {e.data["level"]: e.ts for e in events if e.type == "escalated"}
    assert set(fired) == {"soon", "late"}  # "risky" (0.97) comes only in the last 0.1 s
    assert due - 2.1 <= fired["soon"] < due - 1.0  # on time, not an interval (10 min) late
    assert due - 1.1 <= fired["late"] < due


async def test_a_new_ticket_is_checked_at_once_only_when_a_check_would_change_something(
    redis_url: str,
) -> None:
    client = redis.asyncio.Redis.from_url(redis_url)
    queues = AsyncQueueStore(client)
    sync = QueueStore(redis.Redis.from_url(redis_url))
    policies = Policies(FLAPPING)  # at risk (and the "warn" level) from a live risk of 0.6
    sweep = SlaSweep(queues, policies, ScriptedRisk([]),
                     RouterMetrics(MeterProvider().get_meter("t")), interval_s=30)
    now = datetime.now(UTC)
    deadlines = policies.sla_policy.deadlines("P3", "support", None, now)
    try:
        calm = sweep.first_check("P3", deadlines, 0.2, now)
        # 0.2 ** (t / 1h) reaches 0.6 with 19 min left, long after one interval
        assert calm is not None and calm.in_s == 30 and calm.sla_risk == pytest.approx(0.2)
        assert sweep.first_check("P3", deadlines, 0.7, now) is None  # at risk, "warn" fires
        late = policies.sla_policy.deadlines("P3", "support", None, now - timedelta(minutes=50))
        soon = sweep.first_check("P3", late, 0.2, now)  # 10 min left: 0.2 ** (1/6) = 0.76
        assert soon is None
        # a level on time left alone, while the risk is unknown (not at risk)
        timed = SlaSweep(queues, Policies(rules_text("1h", "30m", "10m").split(
            "default_priority: P3\n")[1]), None, RouterMetrics(MeterProvider().get_meter("t")))
        assert timed.first_check("P3", late, None, now) is None  # "soon" holds: 30 min left
        check = timed.first_check("P3", deadlines, None, now)
        assert check is not None and check.sla_risk is None
        assert check.in_s == 30  # nothing within the interval ("soon" in 30 min)

        sync.set_queue_policy("support")
        for ticket_id, risk, check in (("calm", 0.2, calm), ("risky", 0.7, None)):
            data = {"ticket": convert.pack(make_ticket(ticket_id, "Hi", "Help")),
                    "submitted_at": now.timestamp()}
            sync.submit(ticket_id, "support", 3, "email", data=data, sla_model_risk=risk,
                        deadline_ts=deadlines.first_response_at.timestamp(),
                        first_sla_check=check)
        report = await sweep.sweep_once()

        assert report.checked == ["risky"] and report.escalated == [("risky", "warn")]
        calm_state = await queues.get_ticket("calm")
        assert calm_state is not None and calm_state.sla_risk == pytest.approx(0.2)
    finally:
        await client.aclose()


class RecordedRisk:
    """The real risk model, noting which way each scoring went."""

    def __init__(self, adapter: ScoringAdapter) -> None:
        self.adapter = adapter
        self.calls: list[str] = []

    def sla_risk_with_basis(
        self, ticket: pb.Ticket, stats: Any, priority: str
    ) -> tuple[float, str | None]:
        value, basis = self.adapter.sla_risk_with_basis(ticket, stats, priority)
        self.calls.append("basis made" if basis is not None else "from text")
        return value, basis

    def sla_risk_from_basis(self, basis: str, stats: Any, priority: str) -> float | None:
        value = self.adapter.sla_risk_from_basis(basis, stats, priority)
        self.calls.append("from basis" if value is not None else "basis refused")
        return value


async def test_later_scorings_start_from_the_basis_the_first_stored(
    redis_url: str, risk_model_dir: Path
) -> None:
    adapter = ScoringAdapter(Scorer.load(risk_model_dir))
    risk = RecordedRisk(adapter)
    client = redis.asyncio.Redis.from_url(redis_url)
    queues = AsyncQueueStore(client)
    sync = QueueStore(redis.Redis.from_url(redis_url))
    policies = Policies("sla_policy:\n  targets: {P3: {first_response: 1h}}\n")
    sweep = SlaSweep(queues, policies, risk, RouterMetrics(MeterProvider().get_meter("t")),
                     interval_s=0.05)
    message = make_ticket("t1", "Server down, production stopped", "Nothing works since 9:00")
    try:
        sync.set_queue_policy("support")
        sync.submit("t1", "support", 3, "email", data={"ticket": convert.pack(message)})
        stats = await queues.queue_stats("support")

        scorings = []
        for _ in range(3):
            report = await sweep.sweep_once()
            assert report.scored == ["t1"]
            state = await queues.get_ticket("t1")
            assert state is not None and state.sla_basis is not None
            scorings.append(state.sla_model_risk)
            await asyncio.sleep(0.06)
        # A basis of another model: made anew from the text.
        stale = json.loads(state.sla_basis) | {"model": "an-older-model"}
        await queues.record_sla_checks([SlaCheck("t1", at_risk=False, next_check_at=0.0,
                                                 sla_basis=json.dumps(stale))])
        await sweep.sweep_once()
        state = await queues.get_ticket("t1")
    finally:
        await client.aclose()

    assert risk.calls == ["basis made", "from basis", "from basis",
                          "basis refused", "basis made"]
    assert state is not None and json.loads(state.sla_basis or "{}")["model"] == (
        adapter.scorer.version)
    expected = adapter.sla_risk(message, stats, "P3")  # scored from the text itself
    # (Redis keeps the risk to 14 significant digits)
    assert scorings == [pytest.approx(expected, rel=1e-12)] * 3
    assert state.sla_model_risk == pytest.approx(expected, rel=1e-12)


def test_live_risk_rises_from_the_model_risk_to_one_at_the_deadline() -> None:
    target = timedelta(hours=1)
    assert live_risk(0.3, target, target) == pytest.approx(0.3)
    halfway = live_risk(0.3, target / 2, target)
    assert halfway == pytest.approx(math.sqrt(0.3))
    assert live_risk(0.3, timedelta(0), target) == 1.0
    assert live_risk(None, timedelta(minutes=5), target) is None
    assert live_risk(None, -timedelta(minutes=5), target) == 1.0
    assert live_risk(0.0, timedelta(minutes=5), target) == 0.0
