"""One round trip to Redis as data (`Call`), and the sync and asyncio executors that run it.

Operations build a `Call` (which script or read command, its keys and arguments, how to read
the reply) once; `SyncExecutor` and `AsyncExecutor` only send it. Redis client errors and the
scripts' error replies become domain errors here, and only here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import redis
import redis.asyncio

from queues.lua import script_sources
from router import errors

T = TypeVar("T")

SCRIPT_ERRORS: dict[str, type[errors.RouterError]] = {
    "not_found": errors.NotFound,
    "invalid_argument": errors.InvalidArgument,
    "failed_precondition": errors.FailedPrecondition,
    "offer_expired": errors.OfferExpired,
    "not_offer_holder": errors.NotOfferHolder,
    "capacity_full": errors.CapacityFull,
    "agent_unavailable": errors.AgentUnavailable,
}
"""Error code in a script's reply -> the domain error raised for it."""


@contextmanager
def redis_errors() -> Iterator[None]:
    """Translate redis-py errors into domain errors (the one place that does).

    Raises:
        Unavailable: Redis cannot be reached, timed out, is loading or is a read-only replica.
        ResourceExhausted: Redis is out of memory (maxmemory reached).
    """
    try:
        yield
    except (redis.ConnectionError, redis.TimeoutError, redis.exceptions.ReadOnlyError) as error:
        raise errors.Unavailable(f"Redis is unavailable: {error}; retry later") from error
    except redis.exceptions.OutOfMemoryError as error:
        raise errors.ResourceExhausted(
            f"Redis is out of memory: {error}; raise maxmemory or purge finished tickets"
        ) from error


def text(value: Any) -> str:
    """A reply value as `str`, whether the client decodes responses or not."""
    return value.decode() if isinstance(value, bytes) else str(value)


def script_reply(reply: Any) -> Any:
    """The `ok` value of a script's JSON reply.

    Raises:
        RouterError: the script refused, as the subclass its error code names.
    """
    decoded = json.loads(text(reply))
    code = decoded.get("error")
    if code is not None:
        raise SCRIPT_ERRORS[code](decoded.get("message", code), field=decoded.get("field"))
    return decoded.get("ok")


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One round trip: a Lua script or a plain read command, and how to read its reply.

    Exactly one of `script` (a name in queues/scripts) and `command` (a redis-py client
    method name) is set. `parse` receives the script's `ok` value, or the command's reply.
    """

    parse: Callable[[Any], T]
    script: str | None = None
    keys: Sequence[str] = ()
    args: Sequence[str | int | float] = ()
    command: str | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)


class SyncExecutor:
    """Runs calls on a `redis.Redis`; scripts are registered once per executor.

    Args:
        client: any redis-py client (with or without `decode_responses`).
    """

    def __init__(self, client: redis.Redis) -> None:
        self.redis = client
        self._scripts = {name: client.register_script(source)
                         for name, source in script_sources().items()}

    def run(self, call: Call[T]) -> T:
        with redis_errors():
            if call.script is not None:
                reply = self._scripts[call.script](keys=call.keys, args=call.args)
                return call.parse(script_reply(reply))
            assert call.command is not None
            reply = getattr(self.redis, call.command)(*call.args, **call.kwargs)
        return call.parse(reply)


class AsyncExecutor:
    """Runs calls on a `redis.asyncio.Redis`; scripts are registered once per executor.

    Args:
        client: any redis-py asyncio client.
    """

    def __init__(self, client: redis.asyncio.Redis) -> None:
        self.redis = client
        self._scripts = {name: client.register_script(source)
                         for name, source in script_sources().items()}

    async def run(self, call: Call[T]) -> T:
        with redis_errors():
            if call.script is not None:
                reply = await self._scripts[call.script](keys=call.keys, args=call.args)
                return call.parse(script_reply(reply))
            assert call.command is not None
            reply = await getattr(self.redis, call.command)(*call.args, **call.kwargs)
        return call.parse(reply)
