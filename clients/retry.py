"""The one retry policy of the clients: which calls and status codes retry, how often, how long.

Which calls may retry is declared in the proto, not here: each RPC's `idempotency_level` option
(`NO_SIDE_EFFECTS` for reads, `IDEMPOTENT` for writes that are safe to repeat, such as
SubmitTicket with its caller-chosen id). Calls without it (AcceptOffer, RejectOffer,
TransferTicket, PublishRules) never retry: repeating them could act twice.

    code                             NO_SIDE_EFFECTS   IDEMPOTENT   other
    UNAVAILABLE                      retry             retry        raise
    RESOURCE_EXHAUSTED + RetryInfo   retry             retry        raise
    DEADLINE_EXCEEDED                retry             raise        raise
    anything else                    raise             raise        raise

RESOURCE_EXHAUSTED retries only when the status carries a `google.rpc.RetryInfo`: a router
refusing work beyond its admission limit sends one (the call did nothing and may be sent again,
after the delay it gives plus the jittered backoff); a size limit or a full Redis sends none,
and repeating those cannot succeed.

DEADLINE_EXCEEDED retries only reads: a write that timed out may still be running on the
server, and piling repeats onto a slow server makes it slower. It only happens when an
attempt's own timeout (`RetryPolicy.attempt_timeout_s`) is shorter than the caller's deadline.

Backoff is exponential with full jitter (so that many clients do not retry in step), and never
runs past the caller's overall deadline: each attempt gets the time that remains, and no retry
starts when its backoff would end after the deadline.
"""

from __future__ import annotations

import enum
import functools
import inspect
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.message import DecodeError
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)
from tenacity.stop import stop_base

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


class Idempotency(enum.Enum):
    """How safe an RPC is to repeat, as declared by its proto `idempotency_level` option."""

    UNKNOWN = descriptor_pb2.MethodOptions.IDEMPOTENCY_UNKNOWN
    """Not declared: may act twice if repeated; never retried."""
    IDEMPOTENT = descriptor_pb2.MethodOptions.IDEMPOTENT
    """Repeating it has the effect of doing it once."""
    NO_SIDE_EFFECTS = descriptor_pb2.MethodOptions.NO_SIDE_EFFECTS
    """A read: changes nothing."""


RETRYABLE_CODES: dict[Idempotency, frozenset[grpc.StatusCode]] = {
    Idempotency.UNKNOWN: frozenset(),
    Idempotency.IDEMPOTENT: frozenset({grpc.StatusCode.UNAVAILABLE}),
    Idempotency.NO_SIDE_EFFECTS: frozenset(
        {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}
    ),
}
"""Status codes worth another attempt, per idempotency level (see the module table)."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How many attempts, how long between them, how long each may take.

    Args:
        max_attempts: attempts in all, the first one included.
        initial_backoff_s: upper bound of the first random wait; doubles on each retry.
        max_backoff_s: upper bound of any one wait.
        attempt_timeout_s: deadline of one attempt; None gives each attempt all the time left.
    """

    max_attempts: int = 4
    initial_backoff_s: float = 0.05
    max_backoff_s: float = 2.0
    attempt_timeout_s: float | None = None


MIN_ATTEMPT_TIMEOUT_S = 1e-6
"""The timeout given to an attempt whose deadline has passed, so that it fails at once."""

DEFAULT_POLICY = RetryPolicy()
"""Four attempts over at most about 0.05 + 0.1 + 0.2 s of backoff (plus any RetryInfo delays):
rides out a router restart behind a load balancer, a brief Redis failover or an overload, and
gives up fast on a real outage."""

MAX_RETRY_INFO_DELAY_S = 5.0
"""The longest wait a server's RetryInfo can ask of a client (a caller's deadline, when it has
one, still stops any retry that would end after it)."""

NO_RETRY = RetryPolicy(max_attempts=1)
"""One attempt only, e.g. for callers that retry at a higher level."""


@functools.cache
def idempotency_of(method: str) -> Idempotency:
    """The declared idempotency of an RPC of the ticket_router API.

    Args:
        method: the gRPC method path, "/ticket_router.v1.TicketService/SubmitTicket", or the
            descriptor's full name, "ticket_router.v1.TicketService.SubmitTicket".

    Returns:
        Its level; UNKNOWN for a method the API does not declare (never retried).
    """
    _load_api_descriptors()
    path = method.lstrip("/")
    service_name, _, method_name = path.rpartition("/" if "/" in path else ".")
    try:
        service = descriptor_pool.Default().FindServiceByName(service_name)
    except KeyError:
        return Idempotency.UNKNOWN
    found = service.methods_by_name.get(method_name)
    if found is None or not found.GetOptions().HasField("idempotency_level"):
        return Idempotency.UNKNOWN
    return Idempotency(found.GetOptions().idempotency_level)


def _load_api_descriptors() -> None:
    # Importing the generated modules registers their services in the default pool.
    from router.api.ticket_router.v1 import (  # noqa: F401
        agent_service_pb2,
        queue_service_pb2,
        rule_service_pb2,
        ticket_service_pb2,
    )


def is_retryable(error: BaseException, idempotency: Idempotency) -> bool:
    """Whether a failed attempt of a call with this idempotency may be repeated."""
    if not isinstance(error, grpc.RpcError):
        return False
    code = _code(error)
    if code is grpc.StatusCode.RESOURCE_EXHAUSTED and idempotency is not Idempotency.UNKNOWN:
        return retry_delay_s(error) is not None
    return code in RETRYABLE_CODES[idempotency]


def _code(error: grpc.RpcError) -> grpc.StatusCode | None:
    code = getattr(error, "code", None)
    return code() if callable(code) else None


def retry_delay_s(error: grpc.RpcError) -> float | None:
    """The delay of the `google.rpc.RetryInfo` in a failed call's status; None without one."""
    try:
        status = rpc_status.from_call(error)  # type: ignore[arg-type]
    except (ValueError, DecodeError):  # details that do not match the call, or are garbled
        return None
    for detail in status.details if status is not None else ():
        if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            info = error_details_pb2.RetryInfo()
            detail.Unpack(info)
            return info.retry_delay.ToNanoseconds() / 1e9
    return None


class _wait_at_least_retry_info:  # noqa: N801 (named like tenacity's own wait strategies)
    """Exponential backoff with full jitter, after the server's RetryInfo delay if it sent one.

    The jitter comes on top of the delay, so that callers refused together do not all come
    back at the same instant; a delay beyond `MAX_RETRY_INFO_DELAY_S` counts as that.
    """

    def __init__(self, policy: RetryPolicy) -> None:
        self.backoff = wait_random_exponential(
            multiplier=policy.initial_backoff_s, max=policy.max_backoff_s
        )

    def __call__(self, retry_state: RetryCallState) -> float:
        wait = self.backoff(retry_state)
        error = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(error, grpc.RpcError):
            wait += min(retry_delay_s(error) or 0.0, MAX_RETRY_INFO_DELAY_S)
        return wait


class _Deadline:
    """The caller's overall deadline, on the monotonic clock; None when it has none."""

    def __init__(self, timeout: float | None) -> None:
        self.at = None if timeout is None else time.monotonic() + timeout

    def remaining(self) -> float | None:
        return None if self.at is None else self.at - time.monotonic()

    def attempt_timeout(self, policy: RetryPolicy) -> float | None:
        remaining = self.remaining()
        if remaining is None:
            return policy.attempt_timeout_s
        if policy.attempt_timeout_s is not None:
            remaining = min(remaining, policy.attempt_timeout_s)
        # gRPC reads a timeout of 0 as "no deadline": a spent deadline must still expire.
        return max(remaining, MIN_ATTEMPT_TIMEOUT_S)


class _stop_at_deadline(stop_base):  # noqa: N801 (named like tenacity's own stop conditions)
    """Stop when the next backoff would end at or after the caller's deadline."""

    def __init__(self, deadline: _Deadline) -> None:
        self.deadline = deadline

    def __call__(self, retry_state: RetryCallState) -> bool:
        at = self.deadline.at
        return at is not None and time.monotonic() + retry_state.upcoming_sleep >= at


def _retry_arguments(
    idempotency: Idempotency, policy: RetryPolicy, deadline: _Deadline
) -> dict[str, Any]:
    return {
        "stop": stop_after_attempt(policy.max_attempts) | _stop_at_deadline(deadline),
        "wait": _wait_at_least_retry_info(policy),
        "retry": retry_if_exception(lambda error: is_retryable(error, idempotency)),
        "reraise": True,  # the caller sees the last gRPC error, not a tenacity RetryError
    }


def call_with_retry(
    attempt: Callable[[float | None], T],
    method: str,
    *,
    timeout: float | None = None,
    policy: RetryPolicy = DEFAULT_POLICY,
) -> T:
    """Run a synchronous gRPC call, retrying it as the policy and its idempotency allow.

    Args:
        attempt: makes one attempt given its timeout in seconds (None: no deadline), e.g.
            `lambda t: stub.GetTicket(request, timeout=t)`.
        method: the full method path, which decides whether the call may retry.
        timeout: the caller's overall deadline in seconds from now; None for none.
        policy: attempts and backoff.

    Returns:
        The first successful attempt's result.

    Raises:
        grpc.RpcError: the last attempt's error once retrying stops.
    """
    deadline = _Deadline(timeout)
    retrying = Retrying(**_retry_arguments(idempotency_of(method), policy, deadline))
    return retrying(lambda: attempt(deadline.attempt_timeout(policy)))


async def call_with_retry_async(
    attempt: Callable[[float | None], Awaitable[T]],
    method: str,
    *,
    timeout: float | None = None,
    policy: RetryPolicy = DEFAULT_POLICY,
) -> T:
    """The asyncio twin of `call_with_retry`; `attempt` returns an awaitable (a grpc.aio call)."""
    deadline = _Deadline(timeout)
    retrying = AsyncRetrying(**_retry_arguments(idempotency_of(method), policy, deadline))

    async def one_attempt() -> T:
        return await attempt(deadline.attempt_timeout(policy))

    return await retrying(one_attempt)


def retrying(method: str, policy: RetryPolicy = DEFAULT_POLICY) -> Callable[[F], F]:
    """Decorate a client method (sync or `async def`) that makes one call of `method`.

    The decorated function must take a keyword argument `timeout: float | None`; the wrapper
    reads the caller's overall timeout from it and passes each attempt the time left.

    Args:
        method: the full method path, e.g. "/ticket_router.v1.TicketService/GetTicket".
        policy: attempts and backoff.
    """

    def decorate(function: F) -> F:
        if inspect.iscoroutinefunction(function):

            @functools.wraps(function)
            async def async_wrapper(*args: Any, timeout: float | None = None, **kwargs: Any) -> Any:
                return await call_with_retry_async(
                    lambda t: function(*args, timeout=t, **kwargs),
                    method,
                    timeout=timeout,
                    policy=policy,
                )

            return cast("F", async_wrapper)

        @functools.wraps(function)
        def wrapper(*args: Any, timeout: float | None = None, **kwargs: Any) -> Any:
            return call_with_retry(
                lambda t: function(*args, timeout=t, **kwargs),
                method,
                timeout=timeout,
                policy=policy,
            )

        return cast("F", wrapper)

    return decorate
