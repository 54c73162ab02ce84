"""The agent indexes: one per skill (any level), and the move from one index per skill level."""

from __future__ import annotations

import redis

from queues import Keys, QueueStore


def test_an_agent_is_in_one_index_per_skill_whatever_its_level(
    store: QueueStore, redis_client: redis.Redis
) -> None:
    store.upsert_agent("ann", ["support"], {"german": 3, "english": 5}, {"email": 2, "chat": 1})
    keys = Keys()

    indexed = set(redis_client.keys(f"{keys.prefix}q:support:free:*"))

    channels = ("email", "chat")
    expected = {keys.derived("free", queue="support", channel=channel) for channel in channels}
    expected |= {keys.derived("skilled", queue="support", channel=channel, skill=skill)
                 for channel in channels for skill in ("german", "english")}
    assert indexed == expected


def _as_layout_1(store: QueueStore, redis_client: redis.Redis, agent_id: str) -> list[str]:
    """Put an agent's skill entries where the previous layout kept them (one index per level)."""
    keys, agent = Keys(), store.get_agent(agent_id)
    assert agent is not None
    old = []
    for queue in agent.queues:
        for channel in agent.capacity:
            for skill, level in agent.skills.items():
                new = keys.derived("skilled", queue=queue, channel=channel, skill=skill)
                score = redis_client.zscore(new, agent_id)
                redis_client.zrem(new, agent_id)
                for at in range(1, level + 1):
                    key = keys.derived("skilled_at_level", queue=queue, channel=channel,
                                       skill=skill, level=at)
                    redis_client.zadd(key, {agent_id: score or 0})
                    old.append(key)
    redis_client.delete(keys.derived("index_layout"))
    return old


def test_reindexing_moves_agents_from_the_per_level_layout_once(
    store: QueueStore, redis_client: redis.Redis
) -> None:
    store.upsert_agent("ann", ["support"], {"german": 3}, {"email": 2})
    store.upsert_agent("bob", ["support"], {"german": 1, "english": 2}, {"email": 2})
    old = _as_layout_1(store, redis_client, "ann") + _as_layout_1(store, redis_client, "bob")
    store.enqueue("t1", "support", 2, "email", skills={"german": 2})
    assert store.assign("support") is None  # ann is not in the german index of this layout

    assert store.reindex_agents() == 2

    assert not any(redis_client.exists(key) for key in old)
    offer = store.assign("support")
    assert offer is not None and (offer.ticket_id, offer.agent_id) == ("t1", "ann")
    assert store.reindex_agents() == 0  # already in this layout
