"""SubmitTicket under open-loop load: 1 and 2 router processes against a grpc.aio echo ceiling.

The load is open-loop: each step sends at a fixed rate for a fixed time, every call launched
at its precomputed instant whether or not earlier calls have returned, and each latency runs
from that instant to the response (so a slow server cannot slow the load down and hide its own
queueing). The load generator is this process; the servers are separate processes:

- the ceiling: `benchmarks/echo_server.py`, a grpc.aio TicketService returning a canned
  SubmitTicketResponse (same messages, no work);
- 1 and 2 `ticket-router serve` processes (one port each, calls spread round-robin) sharing one
  private Redis (router.embedded_redis, AOF everysec) and one SQLite history, each with its
  history writer and sweeper running: SubmitTicket end to end (scoring, rules, SLA deadlines,
  Redis enqueue and assign, events drained into SQL). Tickets come from
  `scoring.demo_data.generate_demo_tickets`; each has a fresh id, so every call creates one,
  and a reference line with that id ends its body, so every text is new to the router (a
  router remembers the last few thousand cleaned texts, which a cycle of --tickets demo texts
  would otherwise hit on every round after the first).
  A team like the demo's is registered first (--agents, default 24: each on its home queue and
  a neighbouring one, skills english 5 and german 1 or 3, capacity 1000 per channel, offers
  that do not expire during the run), so each submission also makes an offer.

Each server process is pinned to a CPU, as the README advises: router N to the Nth CPU (modulo
their number; its `cpu_affinity` setting), the echo server to the first. Pinned, one router
sustained about what it did floating (537/s against 548/s in back-to-back full runs on
2026-12-07) with p99 at 500/s 31 ms against 67 ms, and the echo server took 0.38 ms of CPU a
call at 500/s against 0.54 ms floating (the higher ceiling). `--no-pin` lets them float, as
before 2026-12-07.

For each target the rate is ramped (x1.6 steps, then bisection) to the highest rate it
sustains: achieved >= 95 % of the offered rate, p99 under 200 ms (no backlog building up) and
no errors; after a step that is not, the next waits until the backlog has drained. Routers are
then measured at 500 tickets/s for the latency goal (--point-s when they sustain it, else one
step: an overload is plain soon enough). The capacity is the highest rate achieved in any step
(overloaded steps achieve about what the server can do). The whole sequence runs --repeat
times, interleaved (echo, then each router configuration), later repeats refining around the
previous maximum; medians are reported, and each router maximum is divided by the echo maximum
of the same repeat, since the machine's other load varies.

    python benchmarks/submit.py [--quick] [--json] [--metrics on|off|both] [--repeat 3]
    python benchmarks/submit.py --at 150 --routers 1 --point-s 15   # one fixed rate only

`--at` measures the echo server at that rate too, first in each repeat: the latency the load
generator and gRPC alone give, the floor under the routers' figures.

`--metrics both` runs every router configuration with metrics recorded (the default: SDK and
Prometheus endpoint, scraped every 5 s) and off (`TICKET_ROUTER_METRICS_ENABLED=false`) and
prints the throughput ratios on/off (max sustained and capacity, per repeat, then the median).
Goals: sustained throughput >= 40 % of the echo ceiling, p99 < 15 ms at 500 tickets/s, metrics
on within 10 % of off.

Each step also prints CPU per call: the servers with their children (a router's history
writer), the server processes alone, how long their threads were runnable but waiting for a
core (Linux schedstat run delay: on 2 cores shared with Redis and this load generator, part of
the latency), how busy each server process kept a core (its CPU over the step's wall time:
near 100 %, calls queue for it whatever else the machine does), Redis's, and this process's
share of a core and its own wait for one (which the latencies it measures include).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import math
import os
import queue
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import NamedTuple

# Run as a script, this file's folder comes first on sys.path and benchmarks/scoring.py would
# shadow the `scoring` package: drop that folder.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import grpc  # noqa: E402
import numpy as np  # noqa: E402
import redis  # noqa: E402

from clients.requests import make_agent  # noqa: E402
from queues.operations import MAX_CAPACITY  # noqa: E402
from router.api.ticket_router.v1 import agent_service_pb2 as agents_pb  # noqa: E402
from router.api.ticket_router.v1 import agent_service_pb2_grpc as agents_grpc  # noqa: E402
from router.api.ticket_router.v1 import queue_service_pb2 as queues_pb  # noqa: E402
from router.api.ticket_router.v1 import queue_service_pb2_grpc as queues_grpc  # noqa: E402
from router.api.ticket_router.v1 import ticket_pb2 as pb  # noqa: E402
from router.api.ticket_router.v1 import ticket_service_pb2 as tickets_pb  # noqa: E402
from router.api.ticket_router.v1 import ticket_service_pb2_grpc as tickets_grpc  # noqa: E402
from router.cpu_affinity import allowed_cpus  # noqa: E402
from router.demo import demo_tickets  # noqa: E402
from router.embedded_redis import EmbeddedRedis, free_port  # noqa: E402

ECHO_SERVER = Path(__file__).resolve().parent / "echo_server.py"
ECHO_READY = re.compile(r"echo serving on \S+:(\d+)")
"""What echo_server.py prints when ready (its READY_PREFIX, then host:port)."""
ROUTER_READY = re.compile(r"ticket-router serving gRPC on \S+:(\d+)")

SUSTAINED_SHARE = 0.95
"""A rate is sustained when at least this share of it is achieved ..."""
SUSTAINED_P99_MS = 200.0
"""... with p99 under this and no errors: a backlog growing through a 3 s step (the rate more
than ~7 % over capacity) shows here first, while the noisy machine's short stalls do not."""
CALL_TIMEOUT_S = 10.0
"""Deadline of each call; an overloaded server answers late rather than not at all."""
POINT_RATE = 500.0
"""The rate of the latency goal."""
GOAL_CEILING_SHARE = 0.40
GOAL_P99_MS = 15.0
GOAL_METRICS_RATIO = 0.90
FIRST_RAMP = (200.0, 1.6, 3)
"""First repeat: start rate, factor between steps, bisections after the first failure."""
LATER_RAMP = (0.85, 1.12, 2)
"""Later repeats: start at this share of the previous maximum, finer steps."""
MAX_RATE = 20_000.0
WARMUP = (100.0, 1.0)
"""Each new configuration first takes this rate for this long (connections, caches)."""
SETTLED_CALL_S, SETTLED_CALLS, SETTLE_MAX_S = 0.05, 5, 30.0
"""After an overloaded step the next waits until this many single calls in a row each took
less than this (the backlog has drained), or this long at most."""
SCRAPE_INTERVAL_S = 5.0
"""How often the Prometheus endpoints are scraped when metrics are on."""
STARTUP_TIMEOUT_S = 180.0


@dataclass
class Step:
    """One measured step: a target under one offered rate."""

    target: str  # "echo" or "router"
    routers: int
    metrics: str  # "on", "off", or "-" for the echo server
    repeat: int
    rate: float
    achieved_per_s: float
    p50_ms: float
    p99_ms: float
    p999_ms: float
    sent: int
    errors: dict[str, int] = field(default_factory=dict)
    server_cpu_ms_per_call: float = math.nan  # the echo server's or the routers' CPU
    main_cpu_ms_per_call: float = math.nan  # the server processes alone, without children
    main_cpu_wait_ms_per_call: float = math.nan  # their threads runnable, waiting for a core
    server_core_share: float = math.nan  # each server process's CPU over wall time (1: a core)
    redis_cpu_ms_per_call: float = math.nan
    loadgen_cpu_share: float = math.nan  # this process's CPU time over wall time
    loadgen_wait_ms_per_call: float = math.nan  # this process waiting for a core

    @property
    def sustained(self) -> bool:
        return (
            self.achieved_per_s >= SUSTAINED_SHARE * self.rate
            and self.p99_ms < SUSTAINED_P99_MS
            and not self.errors
        )

    def row(self) -> dict[str, object]:
        data = asdict(self)
        data["sustained"] = self.sustained
        return {key: round(v, 3) if isinstance(v, float) else v for key, v in data.items()}


# --- the open-loop load generator -----------------------------------------------------------


async def offer_load(
    stubs: list[tickets_grpc.TicketServiceStub],
    requests: list[tickets_pb.SubmitTicketRequest],
    rate: float,
) -> tuple[np.ndarray, Counter[str], float]:
    """Send `requests` at `rate` per second, round-robin over `stubs`, whatever the replies.

    Returns:
        Latencies in seconds from each call's scheduled instant (NaN where it failed), the
        errors by status name, and the wall time from the first instant to the last reply.
    """
    loop = asyncio.get_running_loop()
    latencies = np.full(len(requests), np.nan)
    errors: Counter[str] = Counter()
    last_reply = 0.0

    async def call(index: int, due: float) -> None:
        nonlocal last_reply
        try:
            response = await stubs[index % len(stubs)].SubmitTicket(
                requests[index], timeout=CALL_TIMEOUT_S
            )
        except grpc.aio.AioRpcError as error:
            errors[error.code().name] += 1
            if errors[error.code().name] == 1:
                print(f"    first {error.code().name}: {error.details()}", file=sys.stderr)
            return
        now = loop.time()
        if not response.created:  # every id is new: anything else is a bug worth seeing
            errors["NOT_CREATED"] += 1
        latencies[index] = now - due
        last_reply = max(last_reply, now)

    start = loop.time() + 0.01
    calls = []
    for index in range(len(requests)):
        due = start + index / rate
        wait = due - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        elif index % 16 == 0:
            await asyncio.sleep(0)  # behind schedule: still let replies in
        calls.append(loop.create_task(call(index, due)))
    await asyncio.gather(*calls)
    return latencies, errors, max(last_reply, loop.time()) - start


class TeamMember(NamedTuple):
    """One agent of the benchmarks' team."""

    agent_id: str
    queues: list[str]
    skills: dict[str, int]
    capacity: dict[str, int]


def bench_team(queues: list[str], count: int) -> list[TeamMember]:
    """`count` agents, each on a queue and its neighbour (in `queues`' order), skills english 5
    and german 1 or 3, and room for every ticket of a run on every channel."""
    return [
        TeamMember(
            f"bench-agent-{index}",
            [queues[index % len(queues)], queues[(index + 1) % len(queues)]],
            {"english": 5, "german": 3 if index % 2 else 1},
            dict.fromkeys(("email", "chat", "phone", "web"), MAX_CAPACITY),
        )
        for index in range(count)
    ]


def build_requests(
    tickets: list[pb.Ticket], prefix: str, count: int
) -> list[tickets_pb.SubmitTicketRequest]:
    """`count` requests cycling through the demo tickets, each with a new id and, at the end of
    its body, a reference line with that id (so no text repeats)."""
    requests = []
    for index in range(count):
        request = tickets_pb.SubmitTicketRequest()
        request.ticket.CopyFrom(tickets[index % len(tickets)])
        request.ticket.id = f"{prefix}-{index}"
        request.ticket.body += f"\n\nReference: {request.ticket.id}"
        requests.append(request)
    return requests


# --- server processes -------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_wait_seconds(pid: int) -> float:
    """Time the threads of a process have spent runnable but waiting for a core (Linux
    schedstat run delay; 0 where it is not kept)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            total += int((task / "schedstat").read_text().split()[1])
    return total / 1e9


def children(pid: int) -> list[int]:
    """The live child processes of a process (Linux /proc), e.g. a router's history writer."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(child) for child in (task / "children").read_text().split()]
    return found


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process and of its live descendants (a router and its history writer)."""
    return cpu_seconds(pid) + sum(tree_cpu_seconds(child) for child in children(pid))


@dataclass
class ServerProcess:
    """A server started as a child process, with the port it printed when ready."""

    name: str
    process: subprocess.Popen[str]
    port: int
    metrics_port: int | None = None

    def cpu(self) -> float:
        return tree_cpu_seconds(self.process.pid)

    def main_cpu(self) -> float:
        """The server process alone (for a router: what its GIL bounds), without its writer."""
        return cpu_seconds(self.process.pid)

    def main_cpu_wait(self) -> float:
        """How long the server process's threads have waited for a core, without its writer."""
        return cpu_wait_seconds(self.process.pid)

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.name} exited with code {self.process.returncode}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(
    name: str, command: list[str], env: dict[str, str], ready: re.Pattern[str], log: Path
) -> ServerProcess:
    """Start `command` and wait until it prints a line matching `ready` (its port)."""
    with log.open("a") as log_file:
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=log_file, text=True,
            start_new_session=True,
        )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:  # keep reading so the child never blocks on a full pipe
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.2)
        except queue.Empty:
            if process.poll() is not None:
                raise RuntimeError(
                    f"{name} exited with code {process.returncode}; see {log}"
                ) from None
            continue
        if match := ready.search(line):
            return ServerProcess(name, process, int(match.group(1)))
    process.kill()
    raise RuntimeError(f"{name} did not start within {STARTUP_TIMEOUT_S} s; see {log}")


@dataclass
class Bench:
    """Everything one benchmark run shares: options, Redis, model, tickets, work directory."""

    args: argparse.Namespace
    workdir: Path
    redis: EmbeddedRedis
    model_dir: Path
    tickets: list[pb.Ticket]
    run_id: str = field(default_factory=lambda: f"{os.getpid()}{int(time.time()) % 100000}")
    steps: list[Step] = field(default_factory=list)
    _counter: int = 0

    def next_prefix(self) -> str:
        self._counter += 1
        return f"bench-{self.run_id}-{self._counter}"

    def progress(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    def server_cpu(self, index: int) -> int | None:
        """The CPU the `index`-th server process (router, or echo server) is pinned to: the
        Nth CPU, modulo their number; None to float (--no-pin)."""
        cpus = sorted(allowed_cpus())
        return cpus[index % len(cpus)] if self.args.pin else None

    def router_env(self, metrics: str, index: int) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("TICKET_ROUTER_", "OTEL_")) and k != "DATABASE_URL"}
        env.update(
            REDIS_URL=self.redis.url,
            TICKET_ROUTER_METRICS_ENABLED="true" if metrics == "on" else "false",
            # no offer may expire mid-run: expiry sweeps would add load that grows with time
            TICKET_ROUTER_OFFER_TIMEOUT_S="3600",
        )
        if self.args.max_inflight is not None:
            env["TICKET_ROUTER_MAX_INFLIGHT_SUBMISSIONS"] = str(self.args.max_inflight)
        cpu = self.server_cpu(index)
        if cpu is not None:
            env["TICKET_ROUTER_CPU_AFFINITY"] = f"[{cpu}]"
        return env

    @contextlib.asynccontextmanager
    async def routers(self, count: int, metrics: str) -> AsyncIterator[list[ServerProcess]]:
        """`count` router processes on a flushed Redis and a fresh history database."""
        redis.Redis.from_url(self.redis.url).flushall()
        data_dir = Path(tempfile.mkdtemp(prefix=f"routers{count}-{metrics}-", dir=self.workdir))
        started: list[ServerProcess] = []
        try:
            for index in range(count):  # one at a time: the first publishes the default rules
                metrics_port = free_port() if metrics == "on" else 0
                command = [
                    sys.executable, "-m", "router", "serve", "--port", "0",
                    "--metrics-port", str(metrics_port), "--data-dir", str(data_dir),
                    "--model", str(self.model_dir),
                ]
                server = await asyncio.to_thread(
                    start_server, f"router {index + 1}", command,
                    self.router_env(metrics, index), ROUTER_READY,
                    data_dir / f"router{index + 1}.log",
                )
                server.metrics_port = metrics_port or None
                started.append(server)
            await self.register_team(started[0].port)
            yield started
        finally:
            for server in started:
                await asyncio.to_thread(server.stop)
            shutil.rmtree(data_dir, ignore_errors=True)

    async def register_team(self, port: int) -> None:
        """`--agents` agents, two queues each, with room for every ticket of the run."""
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            listed = await queues_grpc.QueueServiceStub(channel).ListQueues(
                queues_pb.ListQueuesRequest(), timeout=10
            )
            agents = agents_grpc.AgentServiceStub(channel)
            for member in bench_team([q.name for q in listed.queues], self.args.agents):
                agent = make_agent(member.agent_id, member.queues, capacity=member.capacity,
                                   skills=member.skills)
                await agents.UpsertAgent(agents_pb.UpsertAgentRequest(agent=agent), timeout=10)

    async def measure(
        self,
        servers: list[ServerProcess],
        stubs: list[tickets_grpc.TicketServiceStub],
        label: tuple[str, int, str, int],
        rate: float,
        seconds: float,
        *,
        record: bool = True,
    ) -> Step:
        """Offer `rate` calls/s for `seconds` and summarise."""
        rate = float(round(rate))
        requests = build_requests(self.tickets, self.next_prefix(), max(1, round(rate * seconds)))
        cpu_before = sum(s.cpu() for s in servers)
        main_cpu_before = sum(s.main_cpu() for s in servers)
        main_wait_before = sum(s.main_cpu_wait() for s in servers)
        redis_cpu_before = cpu_seconds(self.redis.process.pid) if self.redis.process else 0.0
        own_before, wall_before = time.process_time(), time.perf_counter()
        own_wait_before = cpu_wait_seconds(os.getpid())
        latencies, errors, wall = await offer_load(stubs, requests, rate)
        own = time.process_time() - own_before
        own_wait = cpu_wait_seconds(os.getpid()) - own_wait_before
        elapsed = time.perf_counter() - wall_before
        server_cpu = sum(s.cpu() for s in servers) - cpu_before
        main_cpu = sum(s.main_cpu() for s in servers) - main_cpu_before
        main_wait = sum(s.main_cpu_wait() for s in servers) - main_wait_before
        redis_cpu = math.nan
        if label[0] == "router" and self.redis.process is not None:
            redis_cpu = cpu_seconds(self.redis.process.pid) - redis_cpu_before
        for server in servers:
            server.check_alive()
        ok = latencies[~np.isnan(latencies)] * 1000
        p50, p99, p999 = np.percentile(ok, [50, 99, 99.9]) if ok.size else (math.nan,) * 3
        step = Step(
            target=label[0], routers=label[1], metrics=label[2], repeat=label[3], rate=rate,
            achieved_per_s=ok.size / wall, p50_ms=float(p50), p99_ms=float(p99),
            p999_ms=float(p999), sent=len(requests), errors=dict(errors),
            server_cpu_ms_per_call=server_cpu * 1000 / max(ok.size, 1),
            main_cpu_ms_per_call=main_cpu * 1000 / max(ok.size, 1),
            main_cpu_wait_ms_per_call=main_wait * 1000 / max(ok.size, 1),
            server_core_share=main_cpu / elapsed / len(servers),
            redis_cpu_ms_per_call=redis_cpu * 1000 / max(ok.size, 1),
            loadgen_cpu_share=own / elapsed,
            loadgen_wait_ms_per_call=own_wait * 1000 / max(ok.size, 1),
        )
        if not step.sustained:
            await self.settle(stubs)
        if record:
            self.steps.append(step)
            self.progress(
                f"  {label[0]:6} routers={label[1]} metrics={label[2]:3} rate {rate:7.0f}/s: "
                f"achieved {step.achieved_per_s:7.1f}/s  p50 {step.p50_ms:7.2f}  "
                f"p99 {step.p99_ms:8.2f}  p99.9 {step.p999_ms:8.2f} ms  "
                f"cpu ms/call: server {step.server_cpu_ms_per_call:5.2f} "
                f"(main {step.main_cpu_ms_per_call:5.2f}, waiting for a core "
                f"{step.main_cpu_wait_ms_per_call:4.2f}; "
                f"busy {step.server_core_share:4.0%} of a core) "
                f"redis {step.redis_cpu_ms_per_call:4.2f}  "
                f"loadgen cpu {step.loadgen_cpu_share:4.0%} "
                f"(waiting {step.loadgen_wait_ms_per_call:4.2f} ms/call)"
                f"{'' if step.sustained else '  NOT sustained'}"
                f"{f'  errors {dict(errors)}' if errors else ''}"
            )
        await asyncio.sleep(self.args.pause_s)
        return step


    async def settle(self, stubs: list[tickets_grpc.TicketServiceStub]) -> None:
        """After an overloaded step, wait until single calls are fast again (backlog gone)."""
        deadline = time.monotonic() + SETTLE_MAX_S
        fast = 0
        for index, request in enumerate(build_requests(self.tickets, self.next_prefix(), 1000)):
            started = time.perf_counter()
            with contextlib.suppress(grpc.aio.AioRpcError):
                await stubs[index % len(stubs)].SubmitTicket(request, timeout=CALL_TIMEOUT_S)
            fast = fast + 1 if time.perf_counter() - started < SETTLED_CALL_S else 0
            if fast >= SETTLED_CALLS or time.monotonic() > deadline:
                return
            await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def stubs_for(ports: list[int]) -> AsyncIterator[list[tickets_grpc.TicketServiceStub]]:
    """One channel (one HTTP/2 connection) per server."""
    channels = [grpc.aio.insecure_channel(f"127.0.0.1:{port}") for port in ports]
    try:
        for channel in channels:
            await asyncio.wait_for(channel.channel_ready(), timeout=10)
        yield [tickets_grpc.TicketServiceStub(channel) for channel in channels]
    finally:
        for channel in channels:
            await channel.close()


@contextlib.asynccontextmanager
async def scraping(servers: list[ServerProcess]) -> AsyncIterator[None]:
    """Scrape each server's Prometheus endpoint every few seconds, as Prometheus would."""
    urls = [f"http://127.0.0.1:{s.metrics_port}/metrics" for s in servers if s.metrics_port]

    def scrape(url: str) -> None:
        with urllib.request.urlopen(url, timeout=5) as response:
            response.read()

    async def loop() -> None:
        while True:
            await asyncio.sleep(SCRAPE_INTERVAL_S)
            for url in urls:
                await asyncio.to_thread(scrape, url)

    task = asyncio.create_task(loop()) if urls else None
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


# --- ramps --------------------------------------------------------------------------------------


async def ramp(
    measure: Callable[[float], Awaitable[Step]], start: float, factor: float, bisections: int
) -> float | None:
    """The highest sustained rate: step up by `factor` until a rate fails, then bisect.

    Returns:
        The highest sustained rate measured, or None if not even ~10/s is sustained.
    """
    sustained: float | None = None
    failed: float | None = None
    rate = start
    while failed is None and rate <= MAX_RATE:
        if (await measure(rate)).sustained:
            sustained, rate = rate, rate * factor
        else:
            failed = rate
    rate = start
    while sustained is None and rate > 10:  # failed at the start: walk down
        rate /= factor
        if (await measure(rate)).sustained:
            sustained = rate
        else:
            failed = rate
    for _ in range(bisections):
        if sustained is None or failed is None:
            break
        middle = math.sqrt(sustained * failed)
        if (await measure(middle)).sustained:
            sustained = middle
        else:
            failed = middle
    return float(round(sustained)) if sustained is not None else None


def ramp_plan(previous: float | None) -> tuple[float, float, int]:
    if previous is None:
        return FIRST_RAMP
    share, factor, bisections = LATER_RAMP
    return previous * share, factor, bisections


@dataclass
class Maxima:
    """Per repeat: the echo ceiling and each router configuration's maximum sustained rate."""

    echo: list[float | None] = field(default_factory=list)
    routers: dict[tuple[int, str], list[float | None]] = field(default_factory=dict)


@contextlib.asynccontextmanager
async def echo_server(bench: Bench) -> AsyncIterator[ServerProcess]:
    """The echo server (the ceiling), running for the block."""
    command = [sys.executable, str(ECHO_SERVER), "--port", "0"]
    cpu = bench.server_cpu(0)  # as the first router
    if cpu is not None:
        command += ["--cpu", str(cpu)]
    echo = await asyncio.to_thread(
        start_server, "echo server", command, dict(os.environ), ECHO_READY,
        bench.workdir / "echo.log",
    )
    try:
        yield echo
    finally:
        await asyncio.to_thread(echo.stop)


async def run(bench: Bench) -> Maxima:
    """All repeats, interleaved: echo, then every router configuration."""
    args = bench.args
    maxima = Maxima()
    configs = [(n, m) for n in args.routers for m in args.metric_modes]
    async with echo_server(bench) as echo:
        for repeat in range(1, args.repeat + 1):
            bench.progress(f"repeat {repeat}/{args.repeat}")
            async with stubs_for([echo.port]) as stubs:
                label = ("echo", 0, "-", repeat)
                await bench.measure([echo], stubs, label, *WARMUP, record=False)
                previous = maxima.echo[-1] if maxima.echo else None
                maxima.echo.append(await ramp(
                    lambda rate, s=stubs, lb=label: bench.measure([echo], s, lb, rate,
                                                                  args.step_s),
                    *ramp_plan(previous),
                ))
            for count, metrics in configs:
                history = maxima.routers.setdefault((count, metrics), [])
                async with bench.routers(count, metrics) as servers, \
                        stubs_for([s.port for s in servers]) as stubs, scraping(servers):
                    label = ("router", count, metrics, repeat)
                    await bench.measure(servers, stubs, label, *WARMUP, record=False)
                    previous = history[-1] if history else None
                    history.append(await ramp(
                        lambda rate, s=stubs, lb=label, sv=servers: bench.measure(
                            sv, s, lb, rate, args.step_s),
                        *ramp_plan(previous),
                    ))
                    # last, so that its overload (if it is one) cannot slow the ramp down;
                    # an overload is plain after a short step
                    sustainable = (history[-1] or 0) >= SUSTAINED_SHARE * POINT_RATE
                    await bench.measure(servers, stubs, label, POINT_RATE,
                                        args.point_s if sustainable else args.step_s)
    return maxima


async def run_at(bench: Bench, rate: float) -> list[Step]:
    """`--at RATE`: the echo server, then every router configuration, at one fixed rate,
    `--repeat` times, interleaved (no ramp): CPU per ticket and latency at a load the routers
    sustain, next to what the load generator and gRPC alone give at that rate."""
    args = bench.args
    steps = []
    for repeat in range(1, args.repeat + 1):
        async with echo_server(bench) as echo, stubs_for([echo.port]) as stubs:
            label = ("echo", 0, "-", repeat)
            await bench.measure([echo], stubs, label, *WARMUP, record=False)
            steps.append(await bench.measure([echo], stubs, label, rate, args.point_s))
        for count, metrics in [(n, m) for n in args.routers for m in args.metric_modes]:
            async with bench.routers(count, metrics) as servers, \
                    stubs_for([s.port for s in servers]) as stubs, scraping(servers):
                label = ("router", count, metrics, repeat)
                await bench.measure(servers, stubs, label, *WARMUP, record=False)
                steps.append(await bench.measure(servers, stubs, label, rate, args.point_s))
    return steps


# --- summary ----------------------------------------------------------------------------------


def median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None and not math.isnan(v)]
    return statistics.median(present) if present else None


def capacities(bench: Bench, routers: int, metrics: str) -> list[float | None]:
    """Per repeat: the highest rate a router configuration achieved in any step."""
    return [
        max((s.achieved_per_s for s in bench.steps if s.target == "router"
             and s.routers == routers and s.metrics == metrics and s.repeat == repeat),
            default=None)
        for repeat in range(1, bench.args.repeat + 1)
    ]


def summarise(bench: Bench, maxima: Maxima) -> dict[str, object]:
    """The JSON result: ceiling, every router step, medians, ratios and goals."""
    echo_ceiling = median(maxima.echo)
    configs: list[dict[str, object]] = []
    for (count, metrics), values in maxima.routers.items():
        ratios = [r / e if r and e else None for r, e in zip(values, maxima.echo, strict=False)]
        points = [s for s in bench.steps if s.target == "router" and s.routers == count
                  and s.metrics == metrics and s.rate == POINT_RATE]
        capacity = capacities(bench, count, metrics)
        configs.append({
            "routers": count,
            "metrics": metrics,
            "max_sustained_per_s": median(values),
            "max_sustained_per_repeat": values,
            "ratio_to_echo": median(ratios),
            "capacity_per_s": median(capacity),
            "p50_ms_at_500": median([s.p50_ms for s in points]),
            "p99_ms_at_500": median([s.p99_ms for s in points]),
            "p999_ms_at_500": median([s.p999_ms for s in points]),
            "server_cpu_ms_per_call_at_500": median([s.server_cpu_ms_per_call for s in points]),
            "server_core_share_at_500": median([s.server_core_share for s in points]),
        })
    metrics_ratio = {}
    for count in bench.args.routers:
        on, off = maxima.routers.get((count, "on")), maxima.routers.get((count, "off"))
        if on and off:
            capacity_on, capacity_off = (
                capacities(bench, count, mode) for mode in ("on", "off")
            )
            metrics_ratio[str(count)] = {
                "max_sustained": median([a / b if a and b else None
                                         for a, b in zip(on, off, strict=True)]),
                "capacity": median([a / b if a and b else None
                                    for a, b in zip(capacity_on, capacity_off, strict=True)]),
            }
    result: dict[str, object] = {
        "echo_ceiling_per_s": echo_ceiling,
        "echo_ceiling_per_repeat": maxima.echo,
        "rows": [
            {key: value for key, value in s.row().items() if key != "target"}
            for s in bench.steps if s.target == "router"
        ],
        "echo_rows": [s.row() for s in bench.steps if s.target == "echo"],
        "configs": configs,
        "goals": {
            "ratio_to_echo_min": GOAL_CEILING_SHARE,
            "p99_ms_at_500_max": GOAL_P99_MS,
            "metrics_on_over_off_min": GOAL_METRICS_RATIO,
        },
        "repeat": bench.args.repeat,
        "step_s": bench.args.step_s,
        "point_s": bench.args.point_s,
        "cpus": os.cpu_count(),
        "pin": bench.args.pin,
    }
    if metrics_ratio:
        result["metrics_on_over_off"] = metrics_ratio
    return result


def _fmt(value: object, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def print_table(result: dict[str, object]) -> None:
    ceiling = result["echo_ceiling_per_s"]
    print(f"echo ceiling (median of {result['repeat']}): {_fmt(ceiling, '.0f')} calls/s "
          f"per repeat {result['echo_ceiling_per_repeat']}")
    print(f"{'routers':>7} {'metrics':>7} {'max sust/s':>10} {'/echo':>6} {'capacity/s':>10} "
          f"{'p50@500':>8} {'p99@500':>8} {'p99.9@500':>9} {'cpu ms/call':>11}")
    for config in result["configs"]:  # type: ignore[attr-defined]
        print(
            f"{config['routers']:>7} {config['metrics']:>7} "
            f"{_fmt(config['max_sustained_per_s'], '10.0f')} "
            f"{_fmt(config['ratio_to_echo'], '6.2f')} {_fmt(config['capacity_per_s'], '10.0f')} "
            f"{_fmt(config['p50_ms_at_500'], '8.2f')} {_fmt(config['p99_ms_at_500'], '8.2f')} "
            f"{_fmt(config['p999_ms_at_500'], '9.2f')} "
            f"{_fmt(config['server_cpu_ms_per_call_at_500'], '11.2f')}"
        )
    for count, ratio in dict(result.get("metrics_on_over_off", {})).items():  # type: ignore[call-overload]
        print(f"metrics on / off, {count} router(s): max sustained "
              f"{_fmt(ratio['max_sustained'], '.2f')}, capacity {_fmt(ratio['capacity'], '.2f')}"
              f" (goal >= {GOAL_METRICS_RATIO})")
    print(f"goals: max sustained >= {GOAL_CEILING_SHARE:.0%} of echo; "
          f"p99 < {GOAL_P99_MS:.0f} ms at {POINT_RATE:.0f}/s")


# --- entry point ------------------------------------------------------------------------------


def prepare_model(model: Path | None, cache: Path) -> Path:
    """The model directory to serve: the given one, else the default model (trained once)."""
    if model is not None:
        return model
    from scoring.default_model import DEFAULT_MODEL_SUBDIR, load_or_train_default

    load_or_train_default(cache)
    return cache / DEFAULT_MODEL_SUBDIR


@contextlib.contextmanager
def private_redis(workdir: Path) -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(workdir / "redis")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from router.settings import default_data_dir

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="one repeat of short steps (about a minute)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--metrics", choices=("on", "off", "both"), default="on")
    parser.add_argument("--routers", default="1,2", help="router process counts, e.g. 1,2")
    parser.add_argument("--repeat", type=int, default=None, help="default 3 (--quick: 1)")
    parser.add_argument("--step-s", type=float, default=None,
                        help="seconds per ramp step (default 3; --quick: 1.5)")
    parser.add_argument("--point-s", type=float, default=None,
                        help="seconds at 500/s (default 8; --quick: 3)")
    parser.add_argument("--pause-s", type=float, default=0.5, help="rest between steps")
    parser.add_argument("--at", type=float, default=None, metavar="RATE",
                        help="only measure the echo server and the routers at this fixed rate "
                             "for --point-s seconds (CPU per ticket and latency; no ramp)")
    parser.add_argument("--max-inflight", type=int, default=None, metavar="N",
                        help="the routers' max_inflight_submissions (default: theirs; 0: none)")
    parser.add_argument("--pin", action=argparse.BooleanOptionalAction, default=True,
                        help="pin each server process to a CPU, as the README advises: router "
                             "N to the Nth CPU (modulo their number), the echo server to the "
                             "first (default); --no-pin lets them float")
    parser.add_argument("--tickets", type=int, default=2000, help="distinct demo tickets")
    parser.add_argument("--agents", type=int, default=24, help="agents registered (0: none)")
    parser.add_argument("--model", type=Path, default=None,
                        help="model directory (default: the default model, trained once)")
    parser.add_argument("--model-cache", type=Path, default=default_data_dir(),
                        help="where the default model is cached (as `ticket-router serve`)")
    args = parser.parse_args(argv)
    args.repeat = args.repeat or (1 if args.quick else 3)
    args.step_s = args.step_s or (1.5 if args.quick else 3.0)
    args.point_s = args.point_s or (3.0 if args.quick else 8.0)
    args.routers = [int(n) for n in args.routers.split(",")]
    args.metric_modes = ["on", "off"] if args.metrics == "both" else [args.metrics]
    return args


def describe_point(step: Step) -> str:
    """One `--at` step in a line."""
    who = "echo server" if step.target == "echo" else f"routers={step.routers}"
    line = (f"{who} repeat {step.repeat}: achieved {step.achieved_per_s:.1f}/s "
            f"p50 {step.p50_ms:.2f} p99 {step.p99_ms:.2f} p99.9 {step.p999_ms:.2f} ms, "
            f"CPU ms per call: server {step.server_cpu_ms_per_call:.2f}, "
            f"busy {step.server_core_share:.0%} of a core")
    if step.target == "echo":
        return line
    return (f"{line} (the router processes alone {step.main_cpu_ms_per_call:.2f}, which "
            f"waited {step.main_cpu_wait_ms_per_call:.2f} for a core), "
            f"Redis {step.redis_cpu_ms_per_call:.2f}")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    model_dir = prepare_model(args.model, args.model_cache)
    tickets = demo_tickets(args.tickets, seed=2025)
    # The load generator's own full collections (~90,000 objects after set-up, ~50 ms here)
    # would show up as server latency: keep what set-up loaded out of them.
    gc.freeze()
    with tempfile.TemporaryDirectory(prefix="bench-submit-") as tmp:
        workdir = Path(tmp)
        with private_redis(workdir) as server:
            bench = Bench(args, workdir, server, model_dir, tickets)
            if args.at is not None:
                steps = asyncio.run(run_at(bench, args.at))
                print(json.dumps({"rate": args.at, "rows": [s.row() for s in steps]})
                      if args.json else "\n".join(describe_point(s) for s in steps))
                return
            maxima = asyncio.run(run(bench))
    result = summarise(bench, maxima)
    if args.json:
        print(json.dumps(result))
    else:
        print_table(result)


if __name__ == "__main__":
    main()
