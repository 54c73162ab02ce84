"""The history writer's lease: one holder at a time, taken over when it lapses or is given up."""

from __future__ import annotations

import time

import redis

from queues.keys import Keys
from router.history.lease import WriterLease


def test_one_process_holds_the_lease_and_another_takes_over(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    name = Keys().history_writer("sqlite:///one.sqlite3")
    first, second = WriterLease(client, name, ttl_s=0.5), WriterLease(client, name, ttl_s=0.5)
    try:
        assert first.hold() and not second.hold()
        assert first.hold()  # renewed by its holder
        first.release()
        assert second.hold() and not first.hold()

        time.sleep(0.7)  # the holder stops renewing (killed): its lease lapses
        assert first.hold() and not second.hold()
    finally:
        client.close()


def test_routers_writing_to_other_databases_hold_other_leases(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    keys = Keys()
    try:
        assert keys.history_writer("sqlite:///a.sqlite3") != keys.history_writer("sqlite:///b")
        a = WriterLease(client, keys.history_writer("sqlite:///a.sqlite3"))
        b = WriterLease(client, keys.history_writer("sqlite:///b.sqlite3"))
        assert a.hold() and b.hold()
    finally:
        client.close()
