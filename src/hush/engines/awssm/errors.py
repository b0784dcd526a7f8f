"""Secrets Manager's error types as typed Hush errors (the AWS front end renders ``aws_type``)."""

from __future__ import annotations

from hush.core.errors import Conflict, HushError, InvalidRequest, NotFound

__all__ = [
    "DecryptionFailure",
    "EncryptionFailure",
    "InvalidNextToken",
    "InvalidParameter",
    "InvalidRequestState",
    "KmsAccessDenied",
    "LimitExceeded",
    "MalformedPolicy",
    "ResourceExists",
    "ResourceNotFound",
    "SerializationError",
    "ValidationError",
    "deleted_secret",
    "secret_not_found",
]


class InvalidParameter(InvalidRequest):
    """A parameter value is not valid (``InvalidParameterException``)."""

    aws_type = "InvalidParameterException"


class InvalidRequestState(InvalidRequest):
    """The call is not valid for the secret's current state (``InvalidRequestException``)."""

    aws_type = "InvalidRequestException"


class EncryptionFailure(InvalidRequest):
    """The secret's KMS key refuses to encrypt (``EncryptionFailure``)."""

    aws_type = "EncryptionFailure"


class DecryptionFailure(InvalidRequest):
    """The KMS key a version was encrypted under cannot decrypt it now (``DecryptionFailure``)."""

    aws_type = "DecryptionFailure"


class KmsAccessDenied(HushError):
    """The caller may use the secret but not its KMS key (``AccessDeniedException``, 403)."""

    status = 403
    aws_type = "AccessDeniedException"


class InvalidNextToken(InvalidRequest):
    """A pagination token that this listing did not hand out (``InvalidNextTokenException``)."""

    aws_type = "InvalidNextTokenException"


class ResourceExists(Conflict):
    """A secret or version with that name or id already exists (``ResourceExistsException``)."""

    aws_type = "ResourceExistsException"


class ResourceNotFound(NotFound):
    """No such secret or version (``ResourceNotFoundException``)."""

    aws_type = "ResourceNotFoundException"


class LimitExceeded(InvalidRequest):
    """A quota was hit (``LimitExceededException``)."""

    aws_type = "LimitExceededException"


class MalformedPolicy(InvalidRequest):
    """A resource policy is not a valid policy document (``MalformedPolicyDocumentException``)."""

    aws_type = "MalformedPolicyDocumentException"


class SerializationError(InvalidRequest):
    """A field has the wrong JSON type (``SerializationException``, as AWS's JSON services)."""

    aws_type = "SerializationException"


class ValidationError(InvalidRequest):
    """A field breaks a declared constraint (``ValidationException``, AWS's wording)."""

    aws_type = "ValidationException"

    def __init__(self, field: str, constraint: str, value: object = None) -> None:
        shown = f"Value '{value}' at" if isinstance(value, int | bool) else "Value at"
        super().__init__(
            f"1 validation error detected: {shown} '{field}' failed to satisfy constraint: "
            f"{constraint}"
        )


def secret_not_found() -> ResourceNotFound:
    """AWS's text for an unknown secret."""
    return ResourceNotFound("Secrets Manager can't find the specified secret.")


def deleted_secret() -> InvalidRequestState:
    """AWS's text for any access to a secret scheduled for deletion."""
    return InvalidRequestState(
        "You can't perform this operation on the secret because it was marked for deletion."
    )
