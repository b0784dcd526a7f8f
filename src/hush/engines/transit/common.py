"""Pieces shared by the transit path modules: the key-name pattern and common fields."""

from __future__ import annotations

from typing import Final

from hush.engines.transit.ciphertext import b64decode_input
from hush.framework.fields import Field, FieldType

__all__ = [
    "CONTEXT_FIELD",
    "KEY_VERSION_FIELD",
    "NAME",
    "NAME_FIELD",
    "decode_context",
]

# Vault's framework.GenericNameRegex, written without nested groups so OpenAPI rendering stays
# simple; a name still starts with a word character and has no slash.
NAME: Final = r"(?P<name>\w[\w.@-]*)"
NAME_FIELD: Final = Field(FieldType.STRING, "Name of the key.")
CONTEXT_FIELD: Final = Field(
    FieldType.STRING,
    "Base64 encoded context for key derivation; required when the key is derived.",
)
KEY_VERSION_FIELD: Final = Field(
    FieldType.INT,
    "Version of the key to use: 0 (the latest) or at least min_encryption_version.",
    default=0,
)


def decode_context(value: str) -> bytes:
    """A base64 ``context`` ("" stays empty)."""
    return b64decode_input(value) if value else b""
