"""Pieces shared by the KMS path modules: patterns, the mount's ARN parts, base64 fields."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any, Final

from hush.core.errors import InvalidRequest
from hush.core.rotation.due import DueIndex
from hush.engines.transit.kms_model import KmsKey
from hush.engines.transit.kms_store import KmsStore
from hush.framework.fields import Field, FieldType

__all__ = [
    "KEY_ID",
    "KEY_ID_FIELD",
    "KmsSettings",
    "blob_field",
    "decode_blob",
    "encode_blob",
]

KEY_ID: Final = r"(?P<KeyId>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
KEY_ID_FIELD: Final = Field(FieldType.STRING, "The KMS key id (a UUID).")


def blob_field(description: str, *, sensitive: bool = False) -> Field:
    """A binary member of a KMS request: base64 text, as the AWS JSON protocol sends blobs."""
    return Field(FieldType.STRING, f"Base64: {description}", sensitive=sensitive)


def decode_blob(value: Any, member: str, *, minimum: int = 0, maximum: int = 0) -> bytes:
    """Decode a base64 blob member, checking AWS's length bounds; the value is never quoted."""
    if not isinstance(value, str):
        raise InvalidRequest(f"{member} must be base64 text")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest(f"{member} is not valid base64") from None
    if len(raw) < minimum or (maximum and len(raw) > maximum):
        raise InvalidRequest(
            f"1 validation error detected: Value at '{member[:1].lower() + member[1:]}' failed "
            f"to satisfy constraint: Member must have length between {minimum} and {maximum}"
        )
    return raw


def encode_blob(raw: bytes) -> str:
    """Base64 text of a binary response member."""
    return base64.b64encode(raw).decode("ascii")


@dataclass(frozen=True, slots=True)
class KmsSettings:
    """The store, the due-time index (deletion dates) and the region and account in ARNs."""

    store: KmsStore
    due: DueIndex
    region: str = "us-east-1"
    account: str = "000000000000"

    def arn(self, key: KmsKey) -> str:
        """The key's ARN."""
        return f"arn:aws:kms:{self.region}:{self.account}:key/{key.key_id}"

    def metadata(self, key: KmsKey) -> dict[str, Any]:
        """The key's ``KeyMetadata``."""
        return key.metadata(self.region, self.account)
