"""Recent queue states: what a router's submissions score their SLA risk against.

The SLA risk of a submission depends on the state of the queue it joins at arrival (depth,
oldest wait, agents available; the ticket itself not counted, as in training). Reading it from
Redis costs a round trip per ticket, a large share of a router's CPU at hundreds of tickets a
second, while a state a fraction of a second old predicts a breach hours away as well. So each
state read is kept for `max_age_s`, and the sweeper, which reads every queue's state several
times a second anyway, keeps them fresh. The risk scored on submission stays the ticket's
model risk until the SLA sweep scores it again (`router.sla.sweep`, in the state it then reads).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from queues.models import QueueStats
from queues.store import AsyncQueueStore
from router.errors import NotFound

MAX_AGE_S = 0.5
"""How old a remembered queue state may be when a submission scores against it."""


@dataclass
class RecentQueueStates:
    """The latest state read of each queue, with when it was read."""

    queues: AsyncQueueStore
    max_age_s: float = MAX_AGE_S
    _states: dict[str, tuple[float, QueueStats]] = field(default_factory=dict)

    def remember(self, stats: QueueStats) -> None:
        """Keep a state just read."""
        self._states[stats.queue] = (time.monotonic(), stats)

    async def get(self, queue: str) -> QueueStats | None:
        """The queue's state, at most `max_age_s` old; None for an unknown queue."""
        found = self._states.get(queue)
        if found is not None and time.monotonic() - found[0] <= self.max_age_s:
            return found[1]
        return await self.read(queue)

    async def read(self, queue: str) -> QueueStats | None:
        """The queue's state read now (and remembered); None for an unknown queue."""
        try:
            stats = await self.queues.queue_stats(queue)
        except NotFound:
            self._states.pop(queue, None)
            return None
        self.remember(stats)
        return stats
