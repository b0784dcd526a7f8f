"""Secret values under a customer KMS key (a secret's ``KmsKeyId``) on the transit KMS layer.

Without ``KmsKeyId`` (or with ``alias/aws/secretsmanager``) a version's value is stored as it was
before KMS keys existed: behind the barrier only — Secrets Manager's default key. With a
``KmsKeyId`` the reference is resolved to a transit KMS key id when the secret is created or
updated (before the secret's lock is taken), and every value written after that is encrypted by
the transit KMS layer under that key, with AWS's encryption context ``{"SecretARN": <arn>,
"SecretVersionId": <version id>}``. The stored form names the key, so a version keeps
decrypting with the key it was written under when the secret moves to another key.

A key that is disabled, pending deletion or gone makes writes fail with ``EncryptionFailure``
and reads with ``DecryptionFailure``; enabling it again restores both.

As in AWS, where the caller needs ``kms:GenerateDataKey``/``kms:Decrypt`` on the key as well as
the Secrets Manager permission, a caller's request (:func:`on_behalf_of`) encrypts only if its
policies grant ``update`` on the transit mount's ``kms/encrypt/<key id>`` and decrypts only with
``update`` on ``kms/decrypt/<key id>``: otherwise ``AccessDeniedException``, nothing written.
The engine's own work (scheduled and background rotation) runs as the engine, as a rotation
Lambda runs under its own role.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Final

import orjson

from hush.core.errors import HushError, Unsupported
from hush.core.request import Request
from hush.crypto import SecretBytes
from hush.engines.awssm.errors import (
    DecryptionFailure,
    EncryptionFailure,
    KmsAccessDenied,
    ResourceNotFound,
)
from hush.engines.awssm.model import SecretRecord
from hush.framework.backend import SystemView

__all__ = ["DEFAULT_KEY_ALIAS", "ValueCipher", "as_engine", "is_default_key", "on_behalf_of"]

DEFAULT_KEY_ALIAS: Final = "alias/aws/secretsmanager"
_KEY: Final = "k"
_CIPHERTEXT: Final = "c"

#: The request values are sealed and opened for; ``None``: the engine's own work.
_CALLER: ContextVar[Request | None] = ContextVar("awssm_kms_caller", default=None)


@contextmanager
def on_behalf_of(request: Request) -> Iterator[None]:
    """KMS keys are used with ``request``'s caller's permissions inside this block."""
    token = _CALLER.set(request)
    try:
        yield
    finally:
        _CALLER.reset(token)


def as_engine() -> None:
    """From here on in this task, KMS keys are used as the engine (background rotation)."""
    _CALLER.set(None)


def is_default_key(reference: str) -> bool:
    """Whether ``reference`` names Secrets Manager's default key (no customer key)."""
    return reference in ("", DEFAULT_KEY_ALIAS) or reference.endswith(":" + DEFAULT_KEY_ALIAS)


def _context(record: SecretRecord, version_id: str) -> dict[str, str]:
    return {"SecretARN": record.arn, "SecretVersionId": version_id}


def _reason(exc: HushError) -> str:
    return exc.aws_type or type(exc).__name__


class ValueCipher:
    """Turns a version's plain storage form into what is stored, and back."""

    def __init__(self, system: SystemView | None) -> None:
        self._system = system

    def _require(self) -> SystemView:
        if self._system is None:
            raise Unsupported("KMS keys need the awssm engine to be mounted in a Hush core")
        return self._system

    async def key_id(self, reference: str) -> str:
        """The transit KMS key id ``reference`` names; ``""`` for the default key."""
        if is_default_key(reference):
            return ""
        try:
            return await self._require().kms_key_id(reference)
        except HushError as exc:
            if _reason(exc) == "NotFoundException":
                raise ResourceNotFound(
                    f"Secrets Manager can't find the specified KMS key: {reference[:256]}"
                ) from None
            raise

    async def _check_caller(self, action: str, key_id: str) -> None:
        caller = _CALLER.get()
        if caller is None:
            return
        denied = await self._require().kms_denied(caller, action, key_id)
        if denied is not None:
            raise KmsAccessDenied(
                f"Access to KMS is not allowed: no Hush policy of the caller grants "
                f'"update" on "{denied}"'
            )

    async def seal(self, record: SecretRecord, version_id: str, plain: bytes) -> bytes:
        """The stored form of a new version of ``record`` (encrypted under its KMS key)."""
        if not record.kms_key:
            return plain
        await self._check_caller("encrypt", record.kms_key)
        try:
            blob = await self._require().kms_encrypt(
                record.kms_key, SecretBytes(plain), _context(record, version_id)
            )
        except HushError as exc:
            raise EncryptionFailure(
                "Secrets Manager can't encrypt the protected secret text using the provided "
                f"KMS key {record.kms_key}: {_reason(exc)}. Check that the KMS key is "
                "available, enabled, and not in an invalid state."
            ) from None
        return orjson.dumps({_KEY: record.kms_key, _CIPHERTEXT: base64.b64encode(blob).decode()})

    async def open(self, record: SecretRecord, version_id: str, stored: bytes) -> bytes:
        """The plain storage form of a stored version (decrypted when under a KMS key)."""
        raw: dict[str, Any] = orjson.loads(stored)
        if _CIPHERTEXT not in raw:
            return stored
        key_id = str(raw.get(_KEY, ""))
        await self._check_caller("decrypt", key_id)
        try:
            plain = await self._require().kms_decrypt(
                key_id, base64.b64decode(raw[_CIPHERTEXT]), _context(record, version_id)
            )
        except HushError as exc:
            raise DecryptionFailure(
                "Secrets Manager can't decrypt the protected secret text using the provided "
                f"KMS key {key_id}: {_reason(exc)}."
            ) from None
        return plain.reveal()
