"""Key names: one tenant hash tag on every key; Python and Lua build the same names."""

from __future__ import annotations

import pytest
import redis

from queues import Keys, QueueStore
from queues.keys import lua_key_functions
from router.errors import InvalidArgument


def test_every_key_written_carries_the_tenant_hash_tag(redis_client: redis.Redis) -> None:
    store = QueueStore(redis_client, tenant="acme")
    store.set_queue_policy("billing")
    store.upsert_agent("ann", ["billing"], {"french": 2}, {"email": 2})
    store.enqueue("t1", "billing", 2, "email", skills={"french": 1})
    store.assign("billing")

    written = redis_client.keys("*")
    assert written
    assert all(key.startswith("tr:{acme}:") for key in written), written
    hash_tags = {key[key.index("{") + 1 : key.index("}")] for key in written}
    assert hash_tags == {"acme"}


@pytest.mark.parametrize(
    ("name", "parts"),
    [
        ("waiting", {"queue": "billing"}),
        ("members", {"queue": "billing"}),
        ("skilled", {"queue": "billing", "channel": "chat", "skill": "fr", "level": 3}),
        ("skilled", {"queue": "billing", "channel": "chat", "skill": "fr", "level": 0}),
        ("skilled", {"queue": "billing", "channel": "chat", "skill": "fr", "level": 10}),
        ("index_layout", {}),
    ],
)
def test_lua_key_functions_match_python(
    redis_client: redis.Redis, name: str, parts: dict[str, str | int]
) -> None:
    keys = Keys("acme")
    arguments = ", ".join(
        str(value) if isinstance(value, int) else f"'{value}'" for value in parts.values()
    )
    source = f"local PFX = ARGV[1]\n{lua_key_functions()}\nreturn key_{name}({arguments})"
    assert redis_client.eval(source, 0, keys.prefix) == keys.derived(name, **parts)


@pytest.mark.parametrize("bad", ["", "a:b", "{x}", "a b", "-lead", "x" * 65])
def test_names_that_would_break_key_names_are_refused(bad: str) -> None:
    with pytest.raises(InvalidArgument, match="not a valid name"):
        Keys(bad)
