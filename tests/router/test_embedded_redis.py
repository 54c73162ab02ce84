"""The embedded Redis keeps its data across a restart (AOF), refuses a busy port, runs one server
per directory, ends (data kept) when its owner is killed with SIGKILL, and a leftover server is
shut down by the next owner before it starts its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from router.embedded_redis import OWNER_FILE, EmbeddedRedis, process_alive
from router.errors import FailedPrecondition, Unavailable


def test_data_survives_restart_with_aof(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path)
    server.start()
    client = redis.Redis.from_url(server.url)
    client.set("ticket:1", "waiting")
    with client.pipeline(transaction=False) as pipe:  # loading 400,000 keys takes a while
        for index in range(400_000):
            pipe.set(f"bulk:{index}", index)
        pipe.execute()
    server.stop()

    restarted = EmbeddedRedis(tmp_path, port=server.port)
    restarted.start()
    try:
        # ready means loaded: no command is refused with LOADING once start() returns
        client = redis.Redis.from_url(restarted.url)
        assert client.info("persistence")["loading"] == 0
        assert client.get("ticket:1") == b"waiting"
        assert client.dbsize() == 400_001
        assert list(tmp_path.glob("appendonlydir/*.aof"))
    finally:
        restarted.stop()


def test_busy_port_is_reported(redis_server: EmbeddedRedis, tmp_path: Path) -> None:
    with pytest.raises(Unavailable, match="exited"):
        EmbeddedRedis(tmp_path, port=redis_server.port).start()


def test_a_second_server_in_one_directory_is_refused_naming_the_first(tmp_path: Path) -> None:
    first = EmbeddedRedis(tmp_path)
    first.start()
    try:
        second = EmbeddedRedis(tmp_path)
        with pytest.raises(FailedPrecondition) as refused:
            second.start()
        assert f"process {os.getpid()} ({first.url})" in str(refused.value)
        assert "REDIS_URL" in str(refused.value)
        assert second.process is None  # nothing was started
        assert redis.Redis.from_url(first.url).ping()
    finally:
        first.stop()
    second.start()  # the directory is free again
    try:
        assert redis.Redis.from_url(second.url).ping()
    finally:
        second.stop()


# A process that starts a server in the directory, writes a key and is killed with SIGKILL;
# with argv[2] "watchdog-too", its watchdog is killed first (as if both were).
_KILLED_OWNER = """
import os, signal, sys
import redis
from router.embedded_redis import EmbeddedRedis
server = EmbeddedRedis(sys.argv[1])
server.start()
redis.Redis.from_url(server.url).set("ticket:1", "accepted before the kill")
if sys.argv[2] == "watchdog-too":
    server._watchdog.kill()
    server._watchdog.wait()
print(server.process.pid, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def _killed_owner(directory: Path, watchdog_too: bool) -> int:
    """Run `_KILLED_OWNER`; returns the pid of the server it started."""
    killed = subprocess.run(
        [sys.executable, "-c", _KILLED_OWNER, str(directory),
         "watchdog-too" if watchdog_too else "-"],
        check=False, capture_output=True, text=True, timeout=60,
    )
    assert killed.returncode == -9, killed.stderr
    return int(killed.stdout.split()[0])


def _restarted_keeps_the_key(directory: Path) -> None:
    server = EmbeddedRedis(directory)
    server.start()
    try:
        assert redis.Redis.from_url(server.url).get("ticket:1") == b"accepted before the kill"
        owner = json.loads((directory / OWNER_FILE).read_text())
        assert owner == {"owner_pid": os.getpid(), "server_pid": server.process.pid,
                         "port": server.port}
    finally:
        server.stop()
    assert not (directory / OWNER_FILE).exists()


def test_the_server_of_an_owner_killed_with_sigkill_shuts_down_with_its_data(
    tmp_path: Path,
) -> None:
    leftover = _killed_owner(tmp_path, watchdog_too=False)
    deadline = time.monotonic() + 30
    while process_alive(leftover):  # the watchdog sees its parent gone and stops the server
        assert time.monotonic() < deadline, "the server outlived its owner"
        time.sleep(0.05)
    _restarted_keeps_the_key(tmp_path)


def test_a_server_left_by_a_killed_owner_and_watchdog_is_shut_down_by_the_next_owner(
    tmp_path: Path,
) -> None:
    leftover = _killed_owner(tmp_path, watchdog_too=True)
    assert process_alive(leftover)  # nothing stopped it
    _restarted_keeps_the_key(tmp_path)
    assert not process_alive(leftover)
