"""A failure that repeats every second (Redis down, say) logged once, not every time.

Background loops retry every 0.25-1 s; while Redis is down each would log a warning per try.
`OutageLog` logs the first failure, then a reminder at most every `every_s` with how many
tries failed meanwhile, and one line when the loop works again.
"""

from __future__ import annotations

import logging
import time

REMIND_EVERY_S = 60.0
"""How often a failure that goes on is logged again."""


class OutageLog:
    """Logs the failures and the recovery of one background loop.

    Args:
        logger: where to log.
        what: the loop, as the lines name it, e.g. "sweep".
        every_s: time between two lines about a failure that goes on.
    """

    def __init__(self, logger: logging.Logger, what: str, every_s: float = REMIND_EVERY_S) -> None:
        self.logger = logger
        self.what = what
        self.every_s = every_s
        self._since: float | None = None  # monotonic time of the first failure
        self._last_logged = 0.0
        self._failures = 0

    def failed(self, error: BaseException) -> None:
        """One try failed with `error`."""
        now = time.monotonic()
        self._failures += 1
        if self._since is None:
            self._since, self._last_logged = now, now
            self.logger.warning("%s skipped: %s", self.what, error)
        elif now - self._last_logged >= self.every_s:
            self._last_logged = now
            self.logger.warning("%s still failing after %.0f s (%d tries): %s", self.what,
                                now - self._since, self._failures, error)

    def recovered(self) -> None:
        """One try worked: log the end of an outage, if there was one."""
        if self._since is not None:
            self.logger.warning("%s works again after %.0f s (%d failed tries)", self.what,
                                time.monotonic() - self._since, self._failures)
            self._since, self._failures = None, 0
