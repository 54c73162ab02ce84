"""The one table from domain errors to gRPC status codes, and how a handler's error is sent.

Handlers raise `router.errors` exceptions; `router.interceptors.ErrorInterceptor` calls
`abort_with` for each, so no handler ever picks a status code.
"""

from __future__ import annotations

import logging

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from router import errors

logger = logging.getLogger(__name__)

STATUS_BY_ERROR: dict[type[errors.RouterError], grpc.StatusCode] = {
    errors.InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    errors.NotFound: grpc.StatusCode.NOT_FOUND,
    errors.AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    errors.FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    errors.ResourceExhausted: grpc.StatusCode.RESOURCE_EXHAUSTED,
    errors.Unavailable: grpc.StatusCode.UNAVAILABLE,
    errors.Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    errors.PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
}
"""Most specific class first is not needed: lookup walks each error's MRO."""


def status_code_for(error: BaseException) -> grpc.StatusCode:
    """The status code of a domain error; INTERNAL for anything else."""
    for cls in type(error).__mro__:
        code = STATUS_BY_ERROR.get(cls)  # type: ignore[arg-type]
        if code is not None:
            return code
    return grpc.StatusCode.INTERNAL


def rich_status(error: BaseException) -> status_pb2.Status:
    """A `google.rpc.Status` for the error, with the details that apply.

    A BadRequest field violation names the field of an InvalidArgument; a RetryInfo tells the
    caller of an overloaded router when it may try again.
    """
    code = status_code_for(error)
    message = str(error) if isinstance(error, errors.RouterError) else "internal error"
    status = status_pb2.Status(code=getattr(code_pb2, code.name), message=message)
    if isinstance(error, errors.InvalidArgument) and error.field:
        detail = any_pb2.Any()
        detail.Pack(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(
                        field=error.field, description=error.message
                    )
                ]
            )
        )
        status.details.append(detail)
    if isinstance(error, errors.Overloaded):
        detail = any_pb2.Any()
        retry = error_details_pb2.RetryInfo()
        retry.retry_delay.FromNanoseconds(int(error.retry_after_s * 1e9))
        detail.Pack(retry)
        status.details.append(detail)
    return status


async def abort_with(context: grpc.aio.ServicerContext, error: BaseException) -> None:
    """End the call with the status that `error` maps to (never returns)."""
    if not isinstance(error, errors.RouterError):
        logger.exception("unexpected error in handler", exc_info=error)
    await context.abort_with_status(rpc_status.to_status(rich_status(error)))
