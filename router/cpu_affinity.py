"""Pinning a router's threads to chosen CPUs (Linux).

A router is one Python process with several threads (gRPC's, the event loop, the scrape
endpoint) that hand the GIL and each call to one another. Spread over cores, every hand-over
wakes a thread on another core; on one core the next thread simply runs. On the 2-core
development machine, with two routers each pinned to its own core, SubmitTicket's p99 at 500
tickets/s fell from 44-64 ms to 22-31 ms (`python benchmarks/submit.py --at 500 --routers 2
--point-s 15 --repeat 1`, three pairs alternated with `--no-pin`), although the threads then
wait longer for their one core.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from router.errors import FailedPrecondition, InvalidArgument


def allowed_cpus() -> frozenset[int]:
    """The CPUs this process may run on now."""
    if not hasattr(os, "sched_getaffinity"):
        return frozenset(range(os.cpu_count() or 1))
    return frozenset(os.sched_getaffinity(0))


def pin_process(cpus: Iterable[int]) -> frozenset[int]:
    """Run every thread of this process, and every thread or child it starts later, on `cpus`.

    Returns:
        The CPUs the process could use before, for a child that should not be pinned.

    Raises:
        InvalidArgument: no CPUs, or CPUs this process may not use (names the ones it may).
        FailedPrecondition: the platform cannot pin threads (not Linux).
    """
    wanted = frozenset(cpus)
    if not hasattr(os, "sched_setaffinity"):
        raise FailedPrecondition("cpu_affinity needs Linux; leave it unset on this platform")
    before = allowed_cpus()
    if not wanted or not wanted <= before:
        raise InvalidArgument(
            f"CPUs {sorted(wanted)} are not a non-empty subset of the ones this process may "
            f"use, {sorted(before)}",
            field="cpu_affinity",
        )
    for thread_id in os.listdir("/proc/self/task"):
        try:
            os.sched_setaffinity(int(thread_id), wanted)
        except ProcessLookupError:  # the thread ended meanwhile
            continue
    return before


def unpin_process(cpus: Iterable[int] | None) -> None:
    """In a child of a pinned process: run on `cpus` again (None: leave it as it is)."""
    if cpus is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, frozenset(cpus))
