"""Admission control: a router takes so many scoring calls at once and refuses the rest at once.

Refused calls get RESOURCE_EXHAUSTED with a `google.rpc.RetryInfo`; they did nothing, so they
are safe to send again. This bounds calls piling up on something slow (Redis, say); calls that
wait in gRPC's core while the CPU is busy are not counted (see the README's Overload).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from router.errors import Overloaded

RETRY_AFTER_S = 0.1
"""The wait a refused caller is told to leave before trying again."""


class AdmissionLimit:
    """Counts the calls in progress and refuses one that would exceed `limit` (0: no limit).

    Args:
        limit: calls in progress at most; one process's event loop, so a plain counter.
        what: names the calls in the refusal's message.
        setting: names the setting that sets `limit`, in the refusal's message.
    """

    def __init__(
        self, limit: int, what: str = "submissions", setting: str = "max_inflight_submissions"
    ) -> None:
        self.limit = limit
        self.what = what
        self.setting = setting
        self.in_progress = 0

    @contextmanager
    def admit(self) -> Iterator[None]:
        """Hold a place while the call runs.

        Raises:
            Overloaded: `limit` calls are in progress already.
        """
        if self.limit and self.in_progress >= self.limit:
            raise Overloaded(
                f"router overloaded: {self.in_progress} {self.what} in progress, its limit "
                f"({self.setting}); retry after {RETRY_AFTER_S:g} s, or send to another router",
                retry_after_s=RETRY_AFTER_S,
            )
        self.in_progress += 1
        try:
            yield
        finally:
            self.in_progress -= 1
