"""AWS's JSON error shape, in one place: ``{"__type": ..., "message": ...}`` with its status.

Engines raise typed :mod:`hush.core.errors`; an error may name its AWS type itself
(``aws_type``, e.g. ``ResourceExistsException``), otherwise its class decides: a refused ACL is
``AccessDeniedException``, a missing object ``ResourceNotFoundException``, bad input the service's
parameter error. Client errors are HTTP 400, as AWS's JSON services answer them.
"""

from __future__ import annotations

from dataclasses import dataclass

from hush.api.aws_services.base import AwsService
from hush.core.errors import (
    HushError,
    MethodNotAllowed,
    MountUnavailable,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    Sealed,
    StorageUnavailable,
    Unsupported,
)

__all__ = ["AwsFault", "aws_error_type", "fault_from"]


@dataclass(frozen=True, slots=True)
class AwsFault(Exception):
    """An error rendered in AWS's shape: ``__type``, message and HTTP status."""

    aws_type: str
    message: str
    status: int = 400

    def body(self) -> dict[str, str]:
        """The JSON body AWS sends (botocore reads ``__type`` and ``message``)."""
        return {"__type": self.aws_type, "message": self.message}


def aws_error_type(exc: HushError, service: AwsService | None) -> str:
    """The ``__type`` AWS would answer for ``exc``."""
    if exc.aws_type:
        return exc.aws_type
    if isinstance(exc, PermissionDenied):
        return "AccessDeniedException"
    if isinstance(exc, NotFound):
        return "ResourceNotFoundException"
    if isinstance(exc, PayloadTooLarge):
        return "RequestEntityTooLargeException"
    if isinstance(exc, Sealed | MountUnavailable | StorageUnavailable):
        return "ServiceUnavailableException"
    if service is None:
        return "ValidationException"
    if isinstance(exc, Unsupported | MethodNotAllowed):
        return service.invalid_request_type
    if exc.status == 400:
        return service.invalid_parameter_type
    return service.internal_error_type


def fault_from(exc: HushError, service: AwsService | None, request_id: str) -> AwsFault:
    """Translate a Hush error to AWS's type, message and status."""
    aws_type = aws_error_type(exc, service)
    if aws_type == "ServiceUnavailableException":
        return AwsFault(aws_type, exc.message or "Service unavailable; try again shortly", 503)
    if isinstance(exc, PayloadTooLarge):
        return AwsFault(aws_type, exc.message, 413)
    if exc.status >= 500:
        return AwsFault(
            service.internal_error_type if service else "InternalFailure",
            f"internal error; request id {request_id}",
            500,
        )
    message = exc.message or ("Secrets Manager can't find the specified secret.")
    return AwsFault(aws_type, message)
