"""OutageLog: a failure repeated every second is one line, then reminders, then the recovery."""

from __future__ import annotations

import logging
import time

import pytest

from router.outage_log import OutageLog


def test_a_repeated_failure_is_logged_once_then_reminded_then_its_end(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = OutageLog(logging.getLogger("t"), "sweep", every_s=0.2)
    caplog.set_level(logging.WARNING, "t")
    for _ in range(50):
        log.failed(ConnectionError("Redis is unavailable"))
    assert [r.getMessage() for r in caplog.records] == ["sweep skipped: Redis is unavailable"]
    time.sleep(0.25)
    log.failed(ConnectionError("Redis is unavailable"))
    log.recovered()
    log.recovered()  # nothing more: no outage
    reminder, back = (r.getMessage() for r in caplog.records[1:])
    assert reminder.startswith("sweep still failing after 0 s (51 tries)")
    assert back == "sweep works again after 0 s (51 failed tries)"
    log.failed(ConnectionError("again"))
    assert caplog.records[-1].getMessage() == "sweep skipped: again"  # a new outage
