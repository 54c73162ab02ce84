"""Admission control: a router takes at most so many scoring calls at once and refuses the rest.

Past its capacity a router would otherwise queue every call it is sent, and every queued call
waits longer than the one before it, until callers time out on work the router still does.
Refusing the calls beyond a bound at once (RESOURCE_EXHAUSTED with a `google.rpc.RetryInfo`)
keeps the latency of the calls it takes near its working time, and tells callers to back off
or try another router. A refused call did nothing: it is safe to send again.
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
    """

    def __init__(self, limit: int, what: str = "submissions") -> None:
        self.limit = limit
        self.what = what
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
                f"(max_inflight_submissions); retry after {RETRY_AFTER_S:g} s, or send to "
                "another router",
                retry_after_s=RETRY_AFTER_S,
            )
        self.in_progress += 1
        try:
            yield
        finally:
            self.in_progress -= 1
