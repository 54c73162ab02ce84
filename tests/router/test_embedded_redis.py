"""The embedded Redis keeps its data across a restart (AOF) and refuses a busy port."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from router.embedded_redis import EmbeddedRedis
from router.errors import Unavailable


def test_data_survives_restart_with_aof(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path)
    server.start()
    client = redis.Redis.from_url(server.url)
    client.set("ticket:1", "waiting")
    server.stop()

    restarted = EmbeddedRedis(tmp_path, port=server.port)
    restarted.start()
    try:
        assert redis.Redis.from_url(restarted.url).get("ticket:1") == b"waiting"
        assert list(tmp_path.glob("appendonlydir/*.aof"))
    finally:
        restarted.stop()


def test_busy_port_is_reported(redis_server: EmbeddedRedis, tmp_path: Path) -> None:
    with pytest.raises(Unavailable, match="exited"):
        EmbeddedRedis(tmp_path, port=redis_server.port).start()
