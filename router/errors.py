"""Every domain error of ticket-router, in one tree.

    RouterError
    ├── InvalidArgument        bad input: a field is missing, malformed or too large
    ├── NotFound               an unknown ticket, agent, queue, offer or rule version
    ├── AlreadyExists          creating something that exists (not idempotent resubmission)
    ├── FailedPrecondition     the object is in the wrong state for the operation
    │   ├── OfferExpired       the offer timed out before the call
    │   ├── NotOfferHolder     accept/reject by an agent who does not hold the offer
    │   ├── CapacityFull       the agent has no free capacity on the ticket's channel
    │   └── AgentUnavailable   the agent is away or offline
    ├── ResourceExhausted      a limit was reached (queue length, rate)
    │   └── Overloaded         the router has as much work in progress as it takes; retry soon
    ├── Unavailable            a backing service (Redis, the database) is unreachable
    ├── Unauthenticated        no API key or an unknown one
    └── PermissionDenied       the key's role may not make this call

Handlers and library code raise these; the gRPC layer maps each class to one status code
in one table (`router.status`). Messages say what to fix.
"""

from __future__ import annotations


class RouterError(Exception):
    """Base class of every ticket-router error.

    Args:
        message: what went wrong and what to do about it.
        field: the input field at fault, where there is one.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class InvalidArgument(RouterError):
    """The request is malformed: fix the named field."""


class NotFound(RouterError):
    """The named object does not exist."""


class AlreadyExists(RouterError):
    """The object exists already."""


class FailedPrecondition(RouterError):
    """The object is not in a state that allows the operation."""


class OfferExpired(FailedPrecondition):
    """The offer timed out (or was withdrawn) before it was accepted or rejected."""


class NotOfferHolder(FailedPrecondition):
    """The calling agent does not hold the offer it tried to accept or reject."""


class CapacityFull(FailedPrecondition):
    """The agent has no free capacity on the ticket's channel."""


class AgentUnavailable(FailedPrecondition):
    """The agent is away or offline."""


class ResourceExhausted(RouterError):
    """A size or rate limit was reached."""


class Overloaded(ResourceExhausted):
    """The router is working on as many calls of this kind as it takes at once.

    Args:
        retry_after_s: how long the caller should wait before trying again (sent to it as
            `google.rpc.RetryInfo`, which tells a client that the call may be retried).
    """

    def __init__(self, message: str, *, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Unavailable(RouterError):
    """A backing service is unreachable; the call may be retried."""


class Unauthenticated(RouterError):
    """The call carries no API key, or an unknown one."""


class PermissionDenied(RouterError):
    """The caller's role may not make this call."""
