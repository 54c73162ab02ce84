"""Tests of router.rule_store against the session's real Redis: versions, validation, watchers."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis
import redis.asyncio
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from router.config_document import ConfigDocument, InvalidConfig
from router.errors import NotFound, Unavailable
from router.rule_store import RuleStore, RuleWatcher, checksum

V1 = "default_queue: triage\ncategory_queues: {billing: billing}\n"
V2 = """\
default_queue: triage
rules:
  - id: vip
    when: {customer_tier: premium}
    route_to: billing
"""
V3_TOML = 'default_queue = "technical"\n'
BROKEN = "default_queue: triage\nrules:\n  - id: a\n    when: {tier: gold}\n    route_to: x\n"


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[redis.asyncio.Redis]:
    connection = redis.asyncio.Redis.from_url(redis_url)
    yield connection
    await connection.aclose()


@pytest.fixture
async def other_client(redis_url: str) -> AsyncIterator[redis.asyncio.Redis]:
    connection = redis.asyncio.Redis.from_url(redis_url, decode_responses=True)
    yield connection
    await connection.aclose()


async def test_publish_keeps_every_version(client: redis.asyncio.Redis) -> None:
    store = RuleStore(client)
    assert await store.latest_version() == 0
    with pytest.raises(NotFound, match="no rule set has been published"):
        await store.get()
    before = time.time()
    first = await store.publish(V1, "yaml", "alice")
    second = await store.publish(V2, "yml", "bob")
    third = await store.publish(V3_TOML, "toml", "carol")
    assert [first.version, second.version, third.version] == [1, 2, 3]
    assert before - 1 <= first.published_at <= second.published_at <= time.time() + 1

    latest = await store.get()
    assert (latest.version, latest.text, latest.fmt, latest.author) == (3, V3_TOML, "toml", "carol")
    assert latest.sha256 == checksum(V3_TOML)
    old = await store.get(2)
    assert (old.text, old.fmt, old.author) == (V2, "yaml", "bob")
    with pytest.raises(NotFound, match="version 9 does not exist"):
        await store.get(9)

    listed = await store.list_versions()
    assert [(v.version, v.author, v.fmt) for v in listed] == [
        (1, "alice", "yaml"),
        (2, "bob", "yaml"),
        (3, "carol", "toml"),
    ]
    assert listed[1].sha256 == checksum(V2)

    loaded = await store.load()
    assert loaded.version == 3
    assert loaded.decide({}, {}).queue == "technical"
    assert loaded.decide({}, {}).rule_set_version == 3


async def test_invalid_text_is_refused_and_nothing_stored(client: redis.asyncio.Redis) -> None:
    store = RuleStore(client, known_queues={"billing", "triage"})
    await store.publish(V1, "yaml", "alice")
    with pytest.raises(InvalidConfig) as raised:
        await store.publish(BROKEN, "yaml", "mallory")
    lines = [(p.line, p.rule_id) for p in raised.value.problems]
    assert lines == [(4, "a"), (5, "a")]
    assert "unknown queue 'x'" in str(raised.value)
    assert await store.latest_version() == 1
    assert (await store.get()).text == V1


async def test_validators_refuse_sections_together_with_rules(
    client: redis.asyncio.Redis,
) -> None:
    def sla_policy_needs_targets(document: ConfigDocument) -> None:
        section = document.sub(("sla_policy",))
        if "targets" not in section.data:
            raise InvalidConfig([section.problem((), "add targets")], what="SLA policy")

    store = RuleStore(client, validators=[sla_policy_needs_targets])
    text = BROKEN + "sla_policy:\n  hours: 8\n"
    with pytest.raises(InvalidConfig) as raised:
        await store.publish(text, "yaml", "alice")
    assert [(p.line, p.path) for p in raised.value.problems] == [
        (4, "rules[0].when.tier"),
        (6, "sla_policy"),
    ]
    assert await store.latest_version() == 0
    stored = await store.publish(V1 + "sla_policy:\n  targets: {}\n", "yaml", "alice")
    assert stored.version == 1


async def test_concurrent_publishers_get_distinct_versions(
    client: redis.asyncio.Redis, other_client: redis.asyncio.Redis
) -> None:
    stores = [RuleStore(client), RuleStore(other_client)]
    published = await asyncio.gather(
        *(stores[i % 2].publish(V1, "yaml", f"author-{i}") for i in range(12))
    )
    assert sorted(p.version for p in published) == list(range(1, 13))
    listed = await stores[0].list_versions()
    assert sorted(v.author for v in listed) == sorted(f"author-{i}" for i in range(12))
    by_version = {p.version: p.author for p in published}
    assert all(by_version[v.version] == v.author for v in listed)


async def test_tenants_are_separate(client: redis.asyncio.Redis) -> None:
    await RuleStore(client, tenant="acme").publish(V1, "yaml", "alice")
    assert await RuleStore(client, tenant="globex").latest_version() == 0
    assert await RuleStore(client, tenant="acme").latest_version() == 1


async def test_watcher_on_another_client_sees_a_publication(
    client: redis.asyncio.Redis, other_client: redis.asyncio.Redis
) -> None:
    publisher = RuleStore(client)
    await publisher.publish(V1, "yaml", "alice")
    seen: list[int | None] = []
    # A long poll interval: only the pub/sub message can deliver version 2 in time.
    watcher = RuleWatcher(
        RuleStore(other_client),
        on_change=lambda rules: seen.append(rules.version),
        poll_interval_s=30,
    )
    await watcher.start()
    try:
        assert watcher.version == 1
        assert watcher.current is not None
        await asyncio.sleep(0.2)  # let the watcher subscribe
        await publisher.publish(V2, "yaml", "bob")
        rules = await watcher.wait_for_version(2, timeout_s=1.0)
        assert rules.decide({"customer_tier": "premium"}, {}).rule_id == "vip"
        assert seen == [1, 2]
    finally:
        await watcher.stop()


async def test_concurrent_refreshes_only_move_forward(
    client: redis.asyncio.Redis, other_client: redis.asyncio.Redis
) -> None:
    publisher = RuleStore(client)
    seen: list[int | None] = []
    watcher = RuleWatcher(RuleStore(other_client), on_change=lambda r: seen.append(r.version))
    await watcher.start()
    try:
        for text in (V1, V2, V3_TOML, V1, V2):
            await asyncio.gather(
                publisher.publish(text, "yaml" if text != V3_TOML else "toml", "alice"),
                *(watcher.refresh() for _ in range(4)),
            )
        await watcher.refresh()
        assert watcher.version == 5
        assert seen == sorted(set(seen))  # each version at most once, never backwards
        assert seen[-1] == 5
    finally:
        await watcher.stop()


async def test_watcher_notices_a_missed_message_by_polling(
    client: redis.asyncio.Redis, other_client: redis.asyncio.Redis
) -> None:
    watcher = RuleWatcher(RuleStore(other_client), poll_interval_s=0.2)
    await watcher.start()
    try:
        assert watcher.current is None  # nothing published yet
        await asyncio.sleep(0.1)
        # Drop every subscriber connection, then publish: the message reaches nobody.
        killed = await client.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
        assert killed >= 1
        await RuleStore(client).publish(V2, "yaml", "bob")
        await watcher.wait_for_version(1, timeout_s=2.0)
        # And it subscribes again: a later message is still delivered.
        await RuleStore(client).publish(V1, "yaml", "carol")
        await watcher.wait_for_version(2, timeout_s=2.0)
    finally:
        await watcher.stop()


async def test_watcher_keeps_the_live_version_when_a_new_one_does_not_compile_here(
    client: redis.asyncio.Redis, other_client: redis.asyncio.Redis
) -> None:
    lenient = RuleStore(client)  # a publisher that knows every queue
    strict = RuleStore(other_client, known_queues={"triage", "billing"})
    await lenient.publish(V1, "yaml", "alice")
    watcher = RuleWatcher(strict, poll_interval_s=0.1)
    await watcher.start()
    try:
        await lenient.publish(V3_TOML, "toml", "bob")  # routes to a queue `strict` refuses
        with pytest.raises(TimeoutError):
            await watcher.wait_for_version(2, timeout_s=0.5)
        assert watcher.version == 1
        assert watcher.current is not None
        assert watcher.current.decide({}, {}).queue == "triage"
    finally:
        await watcher.stop()


async def test_redis_down_is_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dead = redis.asyncio.Redis(
        port=port, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), retries=0)
    )
    store = RuleStore(dead)
    try:
        with pytest.raises(Unavailable, match="Redis is unavailable"):
            await store.publish(V1, "yaml", "alice")
        with pytest.raises(Unavailable):
            await store.get()
        with pytest.raises(Unavailable):
            await RuleWatcher(store).start()
    finally:
        await dead.aclose()


WATCHER_PROCESS = """
import asyncio, sys
import redis.asyncio
from router.rule_store import RuleStore, RuleWatcher

async def main() -> None:
    client = redis.asyncio.Redis.from_url(sys.argv[1])
    watcher = RuleWatcher(
        RuleStore(client),
        on_change=lambda rules: print("version", rules.version, rules.decide({}, {}).queue,
                                      flush=True),
    )
    await watcher.start()
    print("ready", watcher.version, flush=True)
    await watcher.wait_for_version(int(sys.argv[2]), timeout_s=20)
    await watcher.stop()
    await client.aclose()

asyncio.run(main())
"""


@pytest.mark.slow
async def test_two_router_processes_see_a_published_version(
    client: redis.asyncio.Redis, redis_url: str
) -> None:
    store = RuleStore(client)
    await store.publish(V1, "yaml", "alice")
    root = Path(__file__).resolve().parents[2]
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", WATCHER_PROCESS, redis_url, "2"],
            stdout=subprocess.PIPE,
            text=True,
            cwd=root,
            env={**os.environ, "PYTHONPATH": str(root)},
        )
        for _ in range(2)
    ]
    try:
        for process in processes:
            assert process.stdout is not None
            lines = [process.stdout.readline().strip() for _ in range(2)]
            assert lines == ["version 1 triage", "ready 1"]
        await store.publish(V3_TOML, "toml", "bob")
        published = time.monotonic()
        for process in processes:
            assert process.stdout is not None
            line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), 5)
            assert line.strip() == "version 2 technical"
            assert process.wait(timeout=10) == 0
        # Both saw it within the promised second (pub/sub makes it milliseconds).
        assert time.monotonic() - published < 5
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
