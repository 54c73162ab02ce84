"""The agent indexes: one per skill at the agent's level, and the move from the layout that kept
an agent in one index per level up to its own."""

from __future__ import annotations

import redis

from queues import Keys, QueueStore


def test_an_agent_is_in_one_index_per_skill_at_its_level(
    store: QueueStore, redis_client: redis.Redis
) -> None:
    store.upsert_agent("ann", ["support"], {"german": 3, "english": 5}, {"email": 2, "chat": 1})
    keys = Keys()

    indexed = set(redis_client.keys(f"{keys.prefix}q:support:free:*"))

    channels = ("email", "chat")
    expected = {keys.derived("free", queue="support", channel=channel) for channel in channels}
    expected |= {keys.derived("skilled", queue="support", channel=channel, skill=skill,
                              level=level)
                 for channel in channels for skill, level in (("german", 3), ("english", 5))}
    assert indexed == expected


def _as_layout_1(store: QueueStore, redis_client: redis.Redis, agent_id: str) -> list[str]:
    """Index an agent as the previous layout did: in every level's index up to its own."""
    keys, agent = Keys(), store.get_agent(agent_id)
    assert agent is not None
    added = []
    for queue in agent.queues:
        for channel in agent.capacity:
            for skill, level in agent.skills.items():
                own = keys.derived("skilled", queue=queue, channel=channel, skill=skill,
                                   level=level)
                score = redis_client.zscore(own, agent_id)
                assert score is not None
                for below in range(1, level):
                    key = keys.derived("skilled", queue=queue, channel=channel, skill=skill,
                                       level=below)
                    redis_client.zadd(key, {agent_id: score})
                    added.append(key)
    redis_client.delete(keys.derived("index_layout"))
    return added


def test_reindexing_moves_agents_from_the_per_level_layout_in_batches(
    redis_client: redis.Redis,
) -> None:
    store = QueueStore(redis_client)
    store.set_queue_policy("support")
    for n in range(250):  # three batches of ~100
        store.upsert_agent(f"a{n}", ["support"], {"german": 1 + n % 3}, {"email": 2})
    below = [key for n in range(250) for key in _as_layout_1(store, redis_client, f"a{n}")]
    store.enqueue("t1", "support", 2, "email", skills={"german": 2})
    offer = store.assign("support")  # the old entries are a superset: routing goes on
    assert offer is not None and store.get_agent(offer.agent_id).skills["german"] >= 2  # type: ignore[union-attr]

    assert store.reindex_agents() == 250

    for key in set(below):
        level = int(key.rsplit(":", 1)[1])
        members = redis_client.zrange(key, 0, -1)
        assert all(store.get_agent(m).skills["german"] == level for m in members)  # type: ignore[union-attr]
    assert redis_client.get(Keys().derived("index_layout")) == "2"
    assert store.reindex_agents() == 0  # already in this layout
