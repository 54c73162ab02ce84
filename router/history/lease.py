"""Which router process drains the event stream into history: one at a time.

Every router could drain the stream (the writer is idempotent), but then each stores every event
and N routers do N times the SQL work, taking turns at SQLite's write lock. So the writers share
a lease in Redis (redis-py's `Lock`: SET NX PX, renewed and released by token): the holder
drains and renews it every batch; the others wait, and one takes over within `LEASE_TTL_S` when
the holder dies. A holder that stalls past the TTL and drains alongside the next one stores
nothing twice. Routers that write to different history databases hold different leases.
"""

from __future__ import annotations

import redis
from redis.exceptions import LockError

from queues.execution import redis_errors

LEASE_TTL_S = 5.0
"""How long a lease outlives its holder's last renewal: the longest the history lags behind
when the holder is killed."""

STANDBY_WAIT_S = 1.0
"""How often a process without the lease asks for it."""


class WriterLease:
    """This process's claim to be the history writer.

    Args:
        client: a redis-py client.
        name: the lease's key (`queues.keys.Keys.history_writer`: one per history database).
        ttl_s: see `LEASE_TTL_S`.
    """

    def __init__(self, client: redis.Redis, name: str, ttl_s: float = LEASE_TTL_S) -> None:
        self._lock = client.lock(name, timeout=ttl_s, thread_local=False)
        self._held = False

    def hold(self) -> bool:
        """Renew the lease if this process holds it, else take it if it is free.

        Returns:
            Whether this process holds the lease now.

        Raises:
            Unavailable: Redis cannot be reached.
        """
        with redis_errors():
            if self._held:
                try:
                    self._lock.reacquire()
                    return True
                except LockError:  # expired and perhaps taken: ask again like anyone
                    self._held = False
            self._held = bool(self._lock.acquire(blocking=False))
            return self._held

    def release(self) -> None:
        """Give the lease up at once (another process takes over at its next ask)."""
        if not self._held:
            return
        self._held = False
        try:
            with redis_errors():
                self._lock.release()
        except LockError:
            pass  # expired meanwhile: nothing to give up
