"""A router pinned to a CPU (`cpu_affinity`): every thread of the real `ticket-router serve`
process runs on it, its history writer keeps the CPUs the router had, and a CPU it may not use
is refused with a message that names the ones it may."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from router.cpu_affinity import pin_process
from router.errors import InvalidArgument
from tests.router.service.processes import RouterProcess

pytestmark = pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity"),
    reason="cpu_affinity is Linux-only (os.sched_setaffinity); the README says so",
)


def allowed_list(pid: int, thread: int | None = None) -> str:
    """`Cpus_allowed_list` of a process (its main thread) or of one of its threads."""
    status = Path(f"/proc/{pid}/task/{thread or pid}/status").read_text()
    return next(line.split(":", 1)[1].strip() for line in status.splitlines()
                if line.startswith("Cpus_allowed_list"))


def history_writer(router: int) -> int | None:
    """The router's history writer process (spawned by multiprocessing, as is its resource
    tracker), once started."""
    for child in Path(f"/proc/{router}/task/{router}/children").read_text().split():
        command = Path(f"/proc/{child}/cmdline").read_bytes()
        if b"spawn_main" in command:
            return int(child)
    return None


def test_every_thread_of_a_pinned_router_runs_on_its_cpu_and_its_writer_on_all(
    redis_url: str, tmp_path: Path, model_dir: Path
) -> None:
    mine = allowed_list(os.getpid())
    cpu = max(os.sched_getaffinity(0))
    router = RouterProcess(redis_url, tmp_path / "router", model_dir,
                           env={"TICKET_ROUTER_CPU_AFFINITY": f"[{cpu}]"})
    try:
        router.wait_ready()
        pid = router.process.pid
        threads = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
        assert len(threads) > 3  # gRPC's, the event loop's, the executor's ...
        assert {allowed_list(pid, t) for t in threads} == {str(cpu)}
        deadline = time.monotonic() + 30
        writer = None
        while writer is None or allowed_list(writer) != mine:  # it unpins itself as it starts
            assert time.monotonic() < deadline, "the history writer was not unpinned"
            writer = history_writer(pid)
            time.sleep(0.1)
    finally:
        router.stop()


def test_a_cpu_the_router_may_not_use_is_refused_with_the_ones_it_may(
    redis_url: str, tmp_path: Path, model_dir: Path
) -> None:
    router = RouterProcess(redis_url, tmp_path / "router", model_dir,
                           env={"TICKET_ROUTER_CPU_AFFINITY": "[4096]"})
    assert router.process.wait(timeout=120) == 2
    message = router.stderr_path.read_text()
    assert "cpu_affinity: CPUs [4096] are not" in message
    assert str(sorted(os.sched_getaffinity(0))) in message


def test_no_cpus_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="non-empty"):
        pin_process([])
