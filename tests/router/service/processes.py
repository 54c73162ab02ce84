"""Router processes for service tests: `ticket-router serve` run as real child processes."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

READY_LINE = re.compile(r"ticket-router serving gRPC on (\S+):(\d+)")
"""What `ticket-router serve` prints on stdout once it answers calls."""

START_TIMEOUT_S = 90.0
"""Start-up includes importing LightGBM and loading the model: slow on a busy 2-core machine."""


class RouterProcess:
    """One `ticket-router serve` child process on a free loopback port.

    Args:
        redis_url: the Redis every router of the test shares (None: it starts its own).
        data_dir: its own directory (SQLite history unless `database_url`, logs).
        model_dir: the trained model to load (the session's `model_dir` fixture; None: the
            default model, trained in `data_dir` on first use).
        database_url: a shared history database, e.g. the session's PostgreSQL.
        env: further environment variables (`TICKET_ROUTER_*` settings).
    """

    def __init__(
        self,
        redis_url: str | None,
        data_dir: Path,
        model_dir: Path | None,
        *,
        database_url: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.stdout_path = data_dir / "stdout.log"
        self.stderr_path = data_dir / "stderr.log"
        environment = {
            key: value for key, value in os.environ.items()
            if not key.startswith("TICKET_ROUTER_") and key not in ("REDIS_URL", "DATABASE_URL")
        }
        environment |= {"PYTHONUNBUFFERED": "1", **(env or {})}
        if redis_url is not None:
            environment["REDIS_URL"] = redis_url
        if database_url is not None:
            environment["DATABASE_URL"] = database_url
        command = [
            sys.executable, "-m", "router", "serve", "--port", "0", "--metrics-port", "0",
            "--data-dir", str(data_dir),
        ]
        if model_dir is not None:
            command += ["--model", str(model_dir)]
        with self.stdout_path.open("wb") as stdout, self.stderr_path.open("wb") as stderr:
            self.process = subprocess.Popen(
                command, stdout=stdout, stderr=stderr, env=environment, start_new_session=True
            )
        self.port: int | None = None

    @property
    def target(self) -> str:
        """`host:port` to connect a client to (after `wait_ready`)."""
        assert self.port is not None, "call wait_ready() first"
        return f"127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = START_TIMEOUT_S) -> RouterProcess:
        """Wait for the ready line; returns self.

        Raises:
            AssertionError: the process exited or did not get ready in time (with its log).
        """
        found = self._wait_for(self.stdout_path, READY_LINE, timeout, "the ready line")
        self.port = int(found.group(2))
        return self

    def wait_for_log(self, pattern: str, timeout: float = START_TIMEOUT_S) -> re.Match[str]:
        """Wait for a line of its stderr log to match `pattern`; returns the match.

        Raises:
            AssertionError: the process exited or logged no such line in time (with its log).
        """
        return self._wait_for(self.stderr_path, re.compile(pattern), timeout, repr(pattern))

    def _wait_for(
        self, path: Path, pattern: re.Pattern[str], timeout: float, what: str
    ) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = pattern.search(path.read_text(errors="replace"))
            if found:
                return found
            if self.process.poll() is not None:
                raise AssertionError(
                    f"router exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            time.sleep(0.05)
        raise AssertionError(f"no {what} within {timeout} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        """The end of its stderr log, for failure messages."""
        text = self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs (the crash the kill -9 test simulates)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM and wait (SIGKILL if it hangs); returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        return self.process.returncode


@contextlib.contextmanager
def router_processes(
    count: int,
    redis_url: str,
    base_dir: Path,
    model_dir: Path,
    *,
    database_url: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Iterator[list[RouterProcess]]:
    """Start `count` routers on one Redis at once (they start in parallel), stop them all after.

    Each gets `base_dir/router-N` as its data directory.
    """
    routers: list[RouterProcess] = []
    try:
        for index in range(count):
            routers.append(RouterProcess(
                redis_url, base_dir / f"router-{index}", model_dir,
                database_url=database_url, env=env,
            ))
        for router in routers:
            router.wait_ready()
        yield routers
    finally:
        for router in routers:
            router.stop()
