"""Eight real processes share one Redis for 20 s, some killed with SIGKILL; then every ticket is
in exactly one state, none was ever given to two agents and no agent ever went over capacity,
checked from the Redis state and from the whole event history."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest
import redis

from queues import EventReader, Keys, Policy, QueueStore
from queues.events import RELEASING_EVENTS, Event, EventType
from tests.queues.chaos_worker import AGENTS, CHANNELS, DESKS, QUEUES, SKILLS

DURATION_S = 20.0
WORKERS = [("submitter", f"sub{n}") for n in range(3)] + [
    ("desk", f"desk{n}") for n in range(DESKS)] + [("sweeper", f"sweep{n}") for n in range(2)]
KILL_EVERY_S = (0.8, 2.0)
REPO = Path(__file__).resolve().parents[2]


def _setup(store: QueueStore, rng: random.Random) -> None:
    for queue, policy in zip(QUEUES, Policy, strict=True):
        store.set_queue_policy(queue, policy, offer_timeout_s=0.4, cooloff_s=0.3)
    for n in range(AGENTS):
        queues = rng.sample(QUEUES, rng.randint(1, 3))
        skills = {skill: rng.randint(1, 3) for skill in SKILLS if rng.random() < 0.6}
        capacity = {"email": rng.randint(1, 3), "chat": rng.randint(1, 2), "phone": n % 2}
        store.upsert_agent(f"a{n}", queues, skills, capacity)


class Chaos:
    """The worker processes, respawned after each kill."""

    def __init__(self, url: str, logs: Path, until: float) -> None:
        self.url, self.logs, self.until = url, logs, until
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.kills = 0

    def spawn(self, role: str, worker: str) -> None:
        log = self.logs / f"{worker}.log"
        self.processes[worker] = subprocess.Popen(
            [sys.executable, "-m", "tests.queues.chaos_worker", role, worker, self.url,
             str(self.until), str(log), "7"],
            cwd=REPO, stderr=subprocess.PIPE)

    def run(self, rng: random.Random) -> None:
        roles = dict((worker, role) for role, worker in WORKERS)
        for role, worker in WORKERS:
            self.spawn(role, worker)
        while time.time() < self.until - 1:
            time.sleep(rng.uniform(*KILL_EVERY_S))
            worker = rng.choice(list(roles))
            os.kill(self.processes[worker].pid, signal.SIGKILL)
            self.processes[worker].wait()
            self.kills += 1
            self.spawn(roles[worker], worker)
            for name, process in self.processes.items():
                if process.poll() not in (None, 0):
                    error = process.stderr.read().decode() if process.stderr else ""
                    raise AssertionError(f"worker {name} failed:\n{error}")
        for name, process in self.processes.items():
            assert process.wait(timeout=30) == 0, (name, process.stderr.read())  # type: ignore[union-attr]

    def kill_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()


def _decode(raw: dict[Any, Any]) -> dict[str, dict[str, Any]]:
    return {k.decode() if isinstance(k, bytes) else k: json.loads(v) for k, v in raw.items()}


def _check_redis_state(client: redis.Redis, keys: Keys) -> dict[str, dict[str, Any]]:
    """Every ticket in exactly one state and one place; agent loads match and fit."""
    tickets = _decode(client.hgetall(keys.tickets))
    agents = _decode(client.hgetall(keys.agents))
    offers = {k.decode(): v for k, v in client.zrange(keys.offers, 0, -1, withscores=True)}
    finished = {k.decode() for k in client.zrange(keys.finished, 0, -1)}
    waiting = {q: {m.decode() for m in client.zrange(keys.derived("waiting", queue=q), 0, -1)}
               for q in QUEUES}
    arrivals = {q: {m.decode() for m in client.zrange(keys.derived("arrivals", queue=q), 0, -1)}
                for q in QUEUES}
    holders: dict[str, list[tuple[str, str]]] = defaultdict(list)
    load: dict[str, Counter[str]] = defaultdict(Counter)
    for member in client.zrange(keys.holdings, 0, -1):
        agent_id, ticket_id = member.decode().split("\0")
        holders[ticket_id].append((agent_id, "holds"))
        load[agent_id][tickets[ticket_id]["channel"]] += 1

    for ticket_id, t in tickets.items():
        places = [(q, "waiting") for q in QUEUES if t.get("wkey") in waiting[q]]
        places += [(q, "arrivals") for q in QUEUES if ticket_id in arrivals[q]]
        places += [("offers", str(offers[ticket_id]))] if ticket_id in offers else []
        places += [("finished", "")] if ticket_id in finished else []
        places += [(agent, kind) for agent, kind in holders.get(ticket_id, [])]
        expected = {
            "waiting": [(t["queue"], "waiting"), (t["queue"], "arrivals")],
            "offered": [("offers", str(float(t.get("offer_expires_ms", -1)))),
                        (t.get("agent"), "holds")],
            "assigned": [(t.get("agent"), "holds")],
            "completed": [("finished", "")],
            "cancelled": [("finished", "")],
        }[t["status"]]
        assert sorted(places, key=str) == sorted(expected, key=str), (ticket_id, t, places)
    for q in QUEUES:
        assert all(m.rsplit("|", 1)[-1] in tickets for m in waiting[q])
    assert set(offers) <= set(tickets)

    for agent_id, agent in agents.items():
        stored = {k: v for k, v in (agent.get("load") or {}).items() if v}
        assert stored == dict(load[agent_id]), (agent_id, agent)
        for channel, count in load[agent_id].items():
            assert count <= agent["capacity"].get(channel, 0), (agent_id, agent)
        for queue in agent["queues"] or []:
            for channel in CHANNELS:
                indexed = client.zscore(keys.derived("free", queue=queue, channel=channel),
                                        agent_id) is not None
                room = load[agent_id][channel] < agent["capacity"].get(channel, 0)
                assert indexed == (agent["status"] == "available" and room), (agent_id, queue)
    return tickets


def _replay(events: list[Event]) -> tuple[dict[str, tuple[str, str | None]], Counter[str]]:
    """Replay the history; assert every transition is legal and no agent exceeds capacity."""
    state: dict[str, tuple[str, str | None]] = {}
    channel_of: dict[str, str] = {}
    capacity: dict[str, dict[str, int]] = {}
    load: Counter[tuple[str, str]] = Counter()
    counts: Counter[str] = Counter()
    for e in events:
        counts[e.type] += 1
        if e.type == EventType.AGENT_UPDATED:
            capacity[e.agent_id] = e.data["capacity"]  # type: ignore[index]
            continue
        if not e.ticket_id:
            continue
        status, holder = state.get(e.ticket_id, ("new", None))
        where = f"{e.event_id} {e.type} {e.ticket_id} by {e.agent_id}: was {status}/{holder}"
        if e.type == EventType.ENQUEUED:
            assert status == "new", where
            channel_of[e.ticket_id] = e.data["channel"]
            state[e.ticket_id] = ("waiting", None)
        elif e.type == EventType.OFFERED:
            assert status == "waiting", where  # never offered while offered or assigned
            slot = (e.agent_id, channel_of[e.ticket_id])
            load[slot] += 1  # type: ignore[index]
            assert load[slot] <= capacity[e.agent_id].get(slot[1], 0), where  # type: ignore[index]
            assert e.data["load"] == load[slot], where
            state[e.ticket_id] = ("offered", e.agent_id)
        elif e.type == EventType.ACCEPTED:
            assert (status, holder) == ("offered", e.agent_id), where
            state[e.ticket_id] = ("assigned", e.agent_id)
        elif e.type in (EventType.REJECTED, EventType.OFFER_EXPIRED, EventType.OFFER_REVOKED):
            assert (status, holder) == ("offered", e.agent_id), where
            state[e.ticket_id] = ("waiting", None)
        elif e.type == EventType.COMPLETED:
            assert (status, holder) == ("assigned", e.agent_id), where
            state[e.ticket_id] = ("completed", e.agent_id)
        elif e.type in (EventType.TRANSFERRED, EventType.CANCELLED):
            assert status in ("waiting", "offered", "assigned"), where
            assert holder == e.agent_id, where
            state[e.ticket_id] = ("waiting" if e.type == EventType.TRANSFERRED else "cancelled",
                                  None)
        elif e.type == EventType.REPRIORITIZED:
            assert status in ("waiting", "offered", "assigned"), where
        if e.type in RELEASING_EVENTS and e.agent_id:
            load[(e.agent_id, channel_of[e.ticket_id])] -= 1
            assert load[(e.agent_id, channel_of[e.ticket_id])] >= 0, where
    return state, counts


def _worker_logs(logs: Path) -> dict[str, list[tuple[str, ...]]]:
    claims: dict[str, list[tuple[str, ...]]] = defaultdict(list)
    for path in logs.glob("*.log"):
        for line in path.read_text().splitlines():
            kind, *rest = line.split()
            claims[kind].append(tuple(rest))
    return claims


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_many_processes_with_kills_never_lose_double_assign_or_overfill(
    redis_url: str, tmp_path: Path
) -> None:
    client = redis.Redis.from_url(redis_url)
    rng = random.Random(7)
    _setup(QueueStore(client), rng)
    chaos = Chaos(redis_url, tmp_path, until=time.time() + DURATION_S)
    try:
        chaos.run(rng)
    finally:
        chaos.kill_all()
    keys = Keys()

    tickets = _check_redis_state(client, keys)
    events = EventReader(client).read(count=10_000_000)
    replayed, counts = _replay(events)

    # The history and the state agree on every ticket.
    assert {t: (r["status"], r.get("agent") if r["status"] in ("offered", "assigned", "completed")
                else None) for t, r in tickets.items()} == replayed
    # Nothing a worker was told happened is missing.
    claims = _worker_logs(tmp_path)
    assert {t for (t,) in claims["enq"]} <= set(tickets)
    accepted = Counter((e.ticket_id, e.agent_id) for e in events if e.type == "accepted")
    assert Counter(claims["acc"]) - accepted == Counter()
    completed = {(e.ticket_id, e.agent_id) for e in events if e.type == "completed"}
    assert set(claims["done"]) <= completed
    # Counts add up: every ticket in one state, every acceptance accounted for.
    by_status = Counter(state for state, _ in replayed.values())
    assert sum(by_status.values()) == len(tickets) == counts["enqueued"]
    assert counts["accepted"] == (by_status["completed"] + by_status["assigned"]
                                  + _accepted_then_taken_back(events))
    # The run really exercised every path, and some workers died mid-flight.
    assert chaos.kills >= 8
    for kind, least in [("enqueued", 300), ("offered", 200), ("accepted", 50),
                        ("rejected", 10), ("offer_expired", 3), ("offer_revoked", 3),
                        ("completed", 20), ("transferred", 5), ("cancelled", 5)]:
        assert counts[kind] >= least, (kind, counts)


def _accepted_then_taken_back(events: list[Event]) -> int:
    """How many transfers/cancels took an accepted (assigned) ticket from its agent."""
    last: dict[str, str] = {}
    taken_back = 0
    for e in events:
        if e.type in ("transferred", "cancelled") and last.get(e.ticket_id) == "accepted":
            taken_back += 1
        if e.ticket_id and e.type != "reprioritized":
            last[e.ticket_id] = e.type
    return taken_back
