"""A signal while `ticket-router serve` starts (training the default model takes seconds) stops
it at once: the embedded Redis it started is stopped and the model is abandoned, not finished
first."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
import redis

from tests.router.service.processes import RouterProcess


@pytest.mark.parametrize("signal_number", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_start_up_stops_the_router_before_the_model_is_trained(
    tmp_path: Path, signal_number: int
) -> None:
    # No REDIS_URL and no model: it starts its own Redis, then trains the default model.
    router = RouterProcess(None, tmp_path / "router", None)
    try:
        started = router.wait_for_log(r"started embedded Redis at (redis://\S+)")
        router.wait_for_log(r"telemetry: ")  # the last step before the model load
        router.process.send_signal(signal_number)
        assert router.process.wait(timeout=60) == 0, router.log_tail()
    finally:
        router.stop()
    assert "stopped during start-up" in router.log_tail()
    assert not (tmp_path / "router" / "models" / "default").exists()  # abandoned
    with pytest.raises(redis.ConnectionError):  # its Redis is stopped too
        redis.Redis.from_url(started.group(1), socket_connect_timeout=2).ping()
