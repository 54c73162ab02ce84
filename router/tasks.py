"""Helpers for the router's background asyncio tasks."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

logger = logging.getLogger(__name__)


async def cancel_and_wait(task: asyncio.Task[Any], *, recheck_s: float = 0.5) -> None:
    """Cancel a task and wait until it ends, cancelling it again while it keeps running.

    On Python 3.11 `asyncio.wait_for`, which redis-py uses to send each command when a socket
    timeout is set, swallows a cancellation that lands as the send completes: a loop cancelled
    once can then run forever and its `stop()` never return.
    """
    while not task.done():
        task.cancel()
        await asyncio.wait([task], timeout=recheck_s)
    if not task.cancelled() and task.exception() is not None:
        logger.error("task %s failed", task.get_name(), exc_info=task.exception())
