"""Assignments per second: the atomic Lua `assign` against a WATCH/MULTI baseline, same run.

For each agent count (10, 1,000, 10,000) and number of client processes (1, 4, 8), a queue
is filled with waiting tickets and agents with room for all of them; the processes (spawned,
one Redis connection each) then assign as fast as they can until the tickets are gone, and the
rate is total assignments / wall time. The baseline is the same operation written the obvious
way in Python: WATCH the queue and the agent index, read the head ticket and the best agent,
write the offer in MULTI/EXEC, retry on conflict. It uses the same sorted-set index (so it
does not scan either): the ratio measures atomic server-side scripts against optimistic
transactions, not indexing. The baseline does less than the script (no skills, cool-off or
per-queue policy), which only flatters the baseline.

    python benchmarks/assignment.py [--json] [--redis-url URL] [--agents 10,1000,10000]
        [--processes 1,4,8] [--assignments 4000] [--baseline-assignments 1500] [--repeat 3]

Each cell runs --repeat times, interleaved with the others, and the median is reported (the
machine's other load varies). The table also shows the Redis server's own time per assign
call (INFO commandstats), which client-side CPU contention does not inflate.

Without --redis-url a private Redis (router.embedded_redis, AOF everysec) is started. With
it, only the keys the benchmark creates are written and deleted (tenant `bench-<pid>` and the
`bl:{bench-<pid>}:` prefix).
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import redis

from queues import QueueStore
from router.embedded_redis import EmbeddedRedis

QUEUE = "bench"
CHANNEL = "chat"
PRIORITIES = 4
MAX_CAPACITY = 1000
LOAD_STEPS, TWO_43 = 512, 2**43  # the same least_loaded score as queues/scripts/_prelude.lua
GOAL_SPEEDUP_AT_8 = 5.0
GOAL_SCALE_SLOWDOWN = 1.5


class Assigner(Protocol):
    def setup(self, agents: int, capacity: int, tickets: int) -> None: ...
    def assign(self) -> bool: ...
    def cleanup(self, agents: int, tickets: int) -> None: ...


class LuaAssigner:
    """The product: `QueueStore.assign`, one Lua script per assignment."""

    def __init__(self, client: redis.Redis, tenant: str) -> None:
        self.store = QueueStore(client, tenant=tenant)
        self.client = client

    def setup(self, agents: int, capacity: int, tickets: int) -> None:
        self.store.set_queue_policy(QUEUE)
        for n in range(agents):
            self.store.upsert_agent(f"a{n}", [QUEUE], {}, {CHANNEL: capacity})
        for n in range(tickets):
            self.store.enqueue(f"t{n}", QUEUE, 1 + n % PRIORITIES, CHANNEL)

    def assign(self) -> bool:
        return self.store.assign(QUEUE) is not None

    def cleanup(self, agents: int, tickets: int) -> None:
        keys = self.store.keys
        self.client.delete(*keys.tenant_keys, *(keys.derived(name, queue=QUEUE) for name in
                                                ("waiting", "arrivals", "members")),
                           keys.derived("free", queue=QUEUE, channel=CHANNEL))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class WatchMultiAssigner:
    """The baseline: read in Python under WATCH, write in MULTI/EXEC, retry on conflict."""

    def __init__(self, client: redis.Redis, tenant: str) -> None:
        self.redis = client
        prefix = f"bl:{{{tenant}}}:"
        # The baseline's own small model (not the product's keys).
        self.waiting, self.free = prefix + "waiting", prefix + "free"
        self.offers, self.events = prefix + "offers", prefix + "events"
        self.agent_prefix, self.ticket_prefix = prefix + "agent:", prefix + "ticket:"

    def setup(self, agents: int, capacity: int, tickets: int) -> None:
        now_ms = int(time.time() * 1000)
        pipe = self.redis.pipeline(transaction=False)
        for n in range(agents):
            pipe.hset(self.agent_prefix + f"a{n}", mapping={
                "status": "available", "load": 0, "capacity": capacity, "last_offer_ms": 0})
            pipe.zadd(self.free, {f"a{n}": now_ms})
        for n in range(tickets):
            pipe.hset(self.ticket_prefix + f"t{n}", mapping={
                "status": "waiting", "queue": QUEUE, "channel": CHANNEL})
            pipe.zadd(self.waiting, {f"t{n}": (1 + n % PRIORITIES) * 10**13 + now_ms + n})
        pipe.execute()

    def assign(self) -> bool:
        with self.redis.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(self.waiting, self.free)
                    head = pipe.zrange(self.waiting, 0, 0)
                    best = pipe.zrange(self.free, 0, 0)
                    if not head or not best:
                        pipe.reset()
                        return False
                    ticket_id, agent_id = _text(head[0]), _text(best[0])
                    agent_key = self.agent_prefix + agent_id
                    pipe.watch(agent_key)
                    status, held, room = pipe.hmget(agent_key, "status", "load", "capacity")
                    if status != b"available" or int(held or 0) >= int(room or 0):
                        pipe.reset()
                        return False
                    load, capacity = int(held or 0) + 1, int(room or 0)
                    now_ms = int(time.time() * 1000)
                    pipe.multi()
                    pipe.zrem(self.waiting, ticket_id)
                    pipe.hset(self.ticket_prefix + ticket_id, mapping={
                        "status": "offered", "agent": agent_id, "expires_ms": now_ms + 30_000})
                    pipe.zadd(self.offers, {ticket_id: now_ms + 30_000})
                    pipe.hset(agent_key, mapping={"load": load, "last_offer_ms": now_ms})
                    if load < capacity:
                        ratio = math.floor(load / capacity * LOAD_STEPS)
                        pipe.zadd(self.free, {agent_id: ratio * TWO_43 + now_ms})
                    else:
                        pipe.zrem(self.free, agent_id)
                    pipe.xadd(self.events, {"type": "offered", "ticket": ticket_id,
                                            "agent": agent_id, "ts_ms": now_ms})
                    pipe.execute()
                    return True
                except redis.WatchError:
                    continue

    def cleanup(self, agents: int, tickets: int) -> None:
        names = [self.waiting, self.free, self.offers, self.events]
        names += [self.agent_prefix + f"a{n}" for n in range(agents)]
        names += [self.ticket_prefix + f"t{n}" for n in range(tickets)]
        for start in range(0, len(names), 1000):
            self.redis.delete(*names[start:start + 1000])


IMPLEMENTATIONS: dict[str, type[LuaAssigner] | type[WatchMultiAssigner]] = {
    "lua": LuaAssigner, "baseline": WatchMultiAssigner}


def _worker(job: tuple[str, str, str, int], barrier: Any, results: Any) -> None:
    kind, url, tenant, count = job
    assigner = IMPLEMENTATIONS[kind](redis.Redis.from_url(url), tenant)
    barrier.wait()
    done = 0
    while done < count and assigner.assign():
        done += 1
    results.put((done, time.time()))


@dataclass(frozen=True)
class Cell:
    per_s: float
    server_us: float
    """Redis server time per script/transaction call during the run (INFO commandstats)."""


def _server_usec(client: redis.Redis) -> tuple[int, int]:
    """Total (calls, usec) of EVALSHA and EXEC so far on the server."""
    stats = client.info("commandstats")
    calls = usec = 0
    for name in ("cmdstat_evalsha", "cmdstat_exec"):
        calls += int(stats.get(name, {}).get("calls", 0))
        usec += int(stats.get(name, {}).get("usec", 0))
    return calls, usec


def measure(kind: str, url: str, agents: int, processes: int, assignments: int) -> Cell:
    """Assignments per second of one implementation for one (agents, processes) cell."""
    tenant = f"bench-{os.getpid()}"
    per_process = assignments // processes
    total = per_process * processes
    capacity = min(MAX_CAPACITY, math.ceil(total / agents) + 1)
    tickets = min(total, agents * capacity)
    setup_client = redis.Redis.from_url(url)
    assigner = IMPLEMENTATIONS[kind](setup_client, tenant)
    assigner.setup(agents, capacity, tickets)
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(processes + 1), context.Queue()
    workers = [context.Process(target=_worker,
                               args=((kind, url, tenant, per_process), barrier, results))
               for _ in range(processes)]
    try:
        for worker in workers:
            worker.start()
        calls_before, usec_before = _server_usec(setup_client)
        barrier.wait()
        started = time.time()
        outcomes = [results.get(timeout=600) for _ in workers]
        calls_after, usec_after = _server_usec(setup_client)
        for worker in workers:
            worker.join()
    finally:
        assigner.cleanup(agents, tickets)
        setup_client.close()
    done = sum(count for count, _ in outcomes)
    if done < tickets:
        raise RuntimeError(f"{kind}: only {done} of {tickets} tickets were assigned")
    elapsed = max(end for _, end in outcomes) - started
    server_us = (usec_after - usec_before) / max(1, calls_after - calls_before)
    return Cell(done / elapsed, server_us)


@contextmanager
def redis_url(given: str | None) -> Iterator[str]:
    if given:
        yield given
        return
    with tempfile.TemporaryDirectory() as directory, EmbeddedRedis(Path(directory)) as server:
        yield server.url


def _numbers(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--json", action="store_true", help="print {'rows': [...]} only")
    parser.add_argument("--redis-url", help="a Redis to use instead of a private one")
    parser.add_argument("--agents", type=_numbers, default=[10, 1_000, 10_000])
    parser.add_argument("--processes", type=_numbers, default=[1, 4, 8])
    parser.add_argument("--assignments", type=int, default=4000,
                        help="assignments per cell for the Lua script")
    parser.add_argument("--baseline-assignments", type=int, default=1500,
                        help="assignments per cell for the (slower) baseline")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of every cell, interleaved; the median is reported")
    args = parser.parse_args(argv)

    cells = [(agents, processes) for agents in args.agents for processes in args.processes]
    runs: dict[tuple[str, int, int], list[Cell]] = {}
    with redis_url(args.redis_url) as url:
        for run in range(args.repeat):
            for agents, processes in cells:
                for kind, count in (("lua", args.assignments),
                                    ("baseline", args.baseline_assignments)):
                    cell = measure(kind, url, agents, processes, count)
                    runs.setdefault((kind, agents, processes), []).append(cell)
                if not args.json:
                    print(f"  run {run + 1}/{args.repeat}: {agents} agents x {processes} "
                          "processes", file=sys.stderr)
    rows = [{"agents": agents, "processes": processes,
             "per_s": round(statistics.median(c.per_s for c in runs["lua", agents, processes]), 1),
             "baseline_per_s": round(statistics.median(
                 c.per_s for c in runs["baseline", agents, processes]), 1)}
            for agents, processes in cells]
    if args.json:
        print(json.dumps({"rows": rows}))
    else:
        server_us = {(a, p): statistics.median(c.server_us for c in runs["lua", a, p])
                     for a, p in cells}
        print_report(rows, server_us)
    return 0


def print_report(rows: list[dict[str, Any]], server_us: dict[tuple[int, int], float]) -> None:
    print(f"{'agents':>7} {'procs':>5} {'lua/s':>10} {'baseline/s':>11} {'lua/baseline':>13}"
          f" {'server us/assign':>17}")
    for row in rows:
        print(f"{row['agents']:>7} {row['processes']:>5} {row['per_s']:>10.0f} "
              f"{row['baseline_per_s']:>11.0f} {row['per_s'] / row['baseline_per_s']:>12.1f}x"
              f" {server_us[row['agents'], row['processes']]:>17.1f}")
    by_cell = {(row["agents"], row["processes"]): row["per_s"] for row in rows}
    agents = sorted({row["agents"] for row in rows})
    for processes in sorted({row["processes"] for row in rows}):
        if len(agents) > 1 and (agents[0], processes) in by_cell:
            slowdown = by_cell[(agents[0], processes)] / by_cell[(agents[-1], processes)]
            server = (server_us[agents[-1], processes] / server_us[agents[0], processes])
            print(f"{processes} processes: time per assignment at {agents[-1]} agents = "
                  f"{slowdown:.2f}x that at {agents[0]} (goal <= {GOAL_SCALE_SLOWDOWN}); "
                  f"Redis server time per assign {server:.2f}x")
    for row in rows:
        if row["processes"] == 8:
            speedup = row["per_s"] / row["baseline_per_s"]
            print(f"8 processes, {row['agents']} agents: {speedup:.1f}x the WATCH/MULTI "
                  f"baseline (goal >= {GOAL_SPEEDUP_AT_8})")


if __name__ == "__main__":
    sys.exit(main())
