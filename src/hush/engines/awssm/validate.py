"""Server-side checks of Secrets Manager request fields (boto3 checks client-side; others may not).

Wrong JSON types are ``SerializationException``; broken length or range constraints
``ValidationException`` in AWS's "1 validation error detected" wording; values that are the right
shape but not allowed ``InvalidParameterException``. Messages never quote a secret value.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any, Final

from hush.engines.awssm.errors import (
    InvalidParameter,
    InvalidRequestState,
    SerializationError,
    ValidationError,
)
from hush.engines.awssm.store import SecretValue

__all__ = [
    "MAX_SECRET_SIZE",
    "boolean",
    "client_token",
    "integer",
    "secret_value",
    "string_list",
    "tags",
    "text",
    "validate_name",
]

MAX_SECRET_SIZE: Final = 65536
_NAME_RE: Final = re.compile(r"[A-Za-z0-9/_+=.@-]{1,512}")


def _camel(key: str) -> str:
    return key[:1].lower() + key[1:]


def text(
    body: dict[str, Any], key: str, *, required: bool = False, max_len: int = 2048, min_len: int = 1
) -> str | None:
    """A string field (``None`` when absent and optional)."""
    value = body.get(key)
    if value is None:
        if required:
            raise ValidationError(_camel(key), "Member must not be null")
        return None
    if not isinstance(value, str):
        raise SerializationError(f"{key} must be a string")
    if not min_len <= len(value) <= max_len:
        bound = "greater than or equal to" if len(value) < min_len else "less than or equal to"
        limit = min_len if len(value) < min_len else max_len
        raise ValidationError(_camel(key), f"Member must have length {bound} {limit}")
    return value


def boolean(body: dict[str, Any], key: str, default: bool) -> bool:
    """A boolean field."""
    value = body.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise SerializationError(f"{key} must be a boolean")
    return value


def integer(body: dict[str, Any], key: str, low: int, high: int, default: int | None) -> int | None:
    """An integer field within ``[low, high]``."""
    value = body.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise SerializationError(f"{key} must be an integer")
    if value < low:
        raise ValidationError(
            _camel(key), f"Member must have value greater than or equal to {low}", value
        )
    if value > high:
        raise ValidationError(
            _camel(key), f"Member must have value less than or equal to {high}", value
        )
    return value


def string_list(body: dict[str, Any], key: str, *, max_items: int = 100) -> list[str] | None:
    """A list of strings."""
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SerializationError(f"{key} must be a list of strings")
    if len(value) > max_items:
        raise ValidationError(
            _camel(key), f"Member must have length less than or equal to {max_items}"
        )
    return value


def tags(body: dict[str, Any], key: str = "Tags") -> list[dict[str, str]] | None:
    """``[{"Key": ..., "Value": ...}]``: keys 1-128, values 0-256 characters, at most 50."""
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        raise SerializationError(f"{key} must be a list of Key/Value structures")
    found: list[dict[str, str]] = []
    for tag in value:
        tag_key = text(tag, "Key", required=True, max_len=128)
        tag_value = text(tag, "Value", max_len=256, min_len=0) or ""
        assert tag_key is not None
        if tag_key.lower().startswith("aws:"):
            raise InvalidParameter("Tag keys beginning with 'aws:' are reserved for AWS use.")
        found.append({"Key": tag_key, "Value": tag_value})
    if len({t["Key"] for t in found}) != len(found):
        raise InvalidParameter("The tag list contains a duplicate tag key.")
    if len(found) > 50:
        raise ValidationError(_camel(key), "Member must have length less than or equal to 50")
    return found


def validate_name(name: str) -> str:
    """A secret name: 1-512 letters, digits and ``/_+=.@-``."""
    if not _NAME_RE.fullmatch(name):
        raise ValidationError(
            "name",
            "Member must have length between 1 and 512 and contain only letters, digits and "
            "/_+=.@-",
        )
    return name


def client_token(body: dict[str, Any]) -> str | None:
    """``ClientRequestToken``: 32-64 characters (it becomes the version id)."""
    return text(body, "ClientRequestToken", max_len=64, min_len=32)


def secret_value(body: dict[str, Any]) -> SecretValue | None:
    """``SecretString`` or ``SecretBinary`` (base64 on the wire), never both; ≤ 65,536 bytes."""
    has_string = body.get("SecretString") is not None
    has_binary = body.get("SecretBinary") is not None
    if has_string and has_binary:
        raise InvalidParameter(
            "You can't specify both a binary secret value and a string secret value in the "
            "same secret."
        )
    if has_string:
        string = body["SecretString"]
        if not isinstance(string, str):
            raise SerializationError("SecretString must be a string")
        if not 1 <= len(string.encode()) <= MAX_SECRET_SIZE:
            raise ValidationError(
                "secretString", f"Member must have length less than or equal to {MAX_SECRET_SIZE}"
            )
        return SecretValue(string=string)
    if has_binary:
        raw = body["SecretBinary"]
        if not isinstance(raw, str):
            raise SerializationError("SecretBinary must be a base64-encoded blob")
        try:
            binary = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise SerializationError("SecretBinary is not valid base64") from None
        if not 1 <= len(binary) <= MAX_SECRET_SIZE:
            raise ValidationError(
                "secretBinary", f"Member must have length less than or equal to {MAX_SECRET_SIZE}"
            )
        return SecretValue(binary=binary)
    return None


def require_value(value: SecretValue | None) -> SecretValue:
    """A value must be present (PutSecretValue)."""
    if value is None:
        raise InvalidRequestState("You must provide either SecretString or SecretBinary.")
    return value
