"""Typed errors raised by every layer below ``api/``.

Only the front ends (``hush.api``) turn these into wire errors: Vault's ``{"errors": [...]}`` with a
status code, or AWS's ``{"__type": ..., "message": ...}``. A message must never contain secret
material; it is shown to the caller as is.
"""

from __future__ import annotations

__all__ = [
    "AlreadyInitialized",
    "Conflict",
    "HeadersTooLarge",
    "HushError",
    "InvalidRequest",
    "MethodNotAllowed",
    "MountUnavailable",
    "NotFound",
    "NotInitialized",
    "PayloadTooLarge",
    "PermissionDenied",
    "RouteNotFound",
    "SealDeviceUnavailable",
    "Sealed",
    "StorageUnavailable",
    "Unsupported",
]


class HushError(Exception):
    """Base of every error Hush reports to a client; ``status`` is the Vault HTTP status."""

    status: int = 500
    #: The AWS error type (``__type``) the AWS front end answers with; empty: mapped by class.
    aws_type: str = ""

    def __init__(self, message: str, *, errors: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors if errors is not None else ([message] if message else [])


class InvalidRequest(HushError):
    """The request is malformed or its fields fail validation (400)."""

    status = 400


class Conflict(InvalidRequest):
    """A check-and-set or state precondition did not hold (Vault answers 400)."""


class AlreadyInitialized(InvalidRequest):
    """``sys/init`` on a store that is already initialised (400)."""


class PermissionDenied(HushError):
    """The token is missing, invalid, or its policies do not allow the operation (403)."""

    status = 403

    def __init__(self, message: str = "permission denied") -> None:
        super().__init__(message)


class NotFound(HushError):
    """The addressed object does not exist (404 with an empty error list, like Vault)."""

    status = 404

    def __init__(self, message: str = "") -> None:
        super().__init__(message)


class RouteNotFound(NotFound):
    """No mount or endpoint matches the path (404 with Vault's "no handler for route" text)."""

    def __init__(self, path: str) -> None:
        super().__init__(f'no handler for route "{path}". route entry not found.')


class MethodNotAllowed(HushError):
    """The endpoint exists but does not support the operation (405)."""

    status = 405

    def __init__(self, message: str = "unsupported operation") -> None:
        super().__init__(message)


class Unsupported(HushError):
    """A recognised feature or parameter Hush does not implement yet (400, says so plainly)."""

    status = 400


class PayloadTooLarge(HushError):
    """The request body exceeds the listener's ``max_request_size`` (413)."""

    status = 413


class HeadersTooLarge(HushError):
    """The request's header fields add up to more than the front end accepts (431)."""

    status = 431


class Sealed(HushError):
    """The node is sealed (503, Vault's exact text so existing tooling recognises it)."""

    status = 503

    def __init__(self) -> None:
        super().__init__("Vault is sealed")


class NotInitialized(HushError):
    """The store has not been initialised yet (400 for operations that need it)."""

    status = 400

    def __init__(self) -> None:
        super().__init__("Vault is not initialized")


class MountUnavailable(HushError):
    """The mount is being upgraded or restarted (503; clients retry)."""

    status = 503


class StorageUnavailable(HushError):
    """The physical storage cannot be reached (503, retried by well-behaved clients)."""

    status = 503


class SealDeviceUnavailable(HushError):
    """The auto-unseal device (HSM, KMS, transit server) cannot be used right now (503)."""

    status = 503
