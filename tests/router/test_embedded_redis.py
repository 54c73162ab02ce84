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
    with client.pipeline(transaction=False) as pipe:  # loading 400,000 keys takes a while
        for index in range(400_000):
            pipe.set(f"bulk:{index}", index)
        pipe.execute()
    server.stop()

    restarted = EmbeddedRedis(tmp_path, port=server.port)
    restarted.start()
    try:
        # ready means loaded: no command is refused with LOADING once start() returns
        client = redis.Redis.from_url(restarted.url)
        assert client.info("persistence")["loading"] == 0
        assert client.get("ticket:1") == b"waiting"
        assert client.dbsize() == 400_001
        assert list(tmp_path.glob("appendonlydir/*.aof"))
    finally:
        restarted.stop()


def test_busy_port_is_reported(redis_server: EmbeddedRedis, tmp_path: Path) -> None:
    with pytest.raises(Unavailable, match="exited"):
        EmbeddedRedis(tmp_path, port=redis_server.port).start()
