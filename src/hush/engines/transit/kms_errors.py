"""Typed errors of the KMS layer of the transit engine.

Each class is one of AWS KMS's error conditions; the AWS front end maps the class to the wire
``__type`` (``NotFoundException``, ``DisabledException`` ...), the Vault front end to a status.
Messages never carry plaintext, key material or ciphertext.
"""

from __future__ import annotations

from hush.core.errors import Conflict, InvalidRequest, NotFound

__all__ = [
    "AliasExists",
    "IncorrectKey",
    "InvalidAliasName",
    "InvalidCiphertext",
    "InvalidKeyUsage",
    "InvalidMac",
    "InvalidMarker",
    "InvalidSignature",
    "KeyDisabled",
    "KeyInvalidState",
    "KeyNotFound",
    "KeyUnavailable",
    "TagError",
    "UnsupportedOperation",
]


class KeyNotFound(NotFound):
    """No KMS key or alias matches the reference (AWS ``NotFoundException``)."""

    aws_type = "NotFoundException"


class KeyDisabled(Conflict):
    """The key is disabled (AWS ``DisabledException``)."""

    aws_type = "DisabledException"


class KeyInvalidState(Conflict):
    """The key's state forbids the action, e.g. pending deletion (``KMSInvalidStateException``)."""

    aws_type = "KMSInvalidStateException"


class KeyUnavailable(Conflict):
    """The key's material is gone (its transit key was deleted) (``KeyUnavailableException``)."""

    aws_type = "KeyUnavailableException"


class InvalidCiphertext(InvalidRequest):
    """The ciphertext blob or its encryption context does not open (``InvalidCiphertextException``).

    One message for every cause (tampered bytes, wrong context, foreign blob), as AWS.
    """

    aws_type = "InvalidCiphertextException"

    def __init__(self, message: str = "") -> None:
        super().__init__(message)


class IncorrectKey(InvalidRequest):
    """The ciphertext was made under another key than the one named (``IncorrectKeyException``)."""

    aws_type = "IncorrectKeyException"


class InvalidKeyUsage(InvalidRequest):
    """The key's usage or spec does not allow the operation (``InvalidKeyUsageException``)."""

    aws_type = "InvalidKeyUsageException"


class AliasExists(Conflict):
    """CreateAlias on a name already in use (``AlreadyExistsException``)."""

    aws_type = "AlreadyExistsException"


class InvalidAliasName(InvalidRequest):
    """An alias name outside AWS's rules or in the reserved ``alias/aws/`` space."""

    aws_type = "InvalidAliasNameException"


class InvalidMarker(InvalidRequest):
    """A pagination marker this server did not issue (``InvalidMarkerException``)."""

    aws_type = "InvalidMarkerException"


class TagError(InvalidRequest):
    """A tag key or value outside AWS's limits (``TagException``)."""

    aws_type = "TagException"


class InvalidSignature(InvalidRequest):
    """Verify found the signature invalid (``KMSInvalidSignatureException``)."""

    aws_type = "KMSInvalidSignatureException"


class InvalidMac(InvalidRequest):
    """VerifyMac found the MAC invalid (``KMSInvalidMacException``)."""

    aws_type = "KMSInvalidMacException"


class UnsupportedOperation(InvalidRequest):
    """The action does not apply to this kind of key (``UnsupportedOperationException``)."""

    aws_type = "UnsupportedOperationException"
