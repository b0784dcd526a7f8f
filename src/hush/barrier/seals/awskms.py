"""The ``awskms`` seal: an AWS KMS key (or any KMS-compatible endpoint) wraps the unseal key.

Options are Vault's: ``region``, ``access_key``, ``secret_key``, ``session_token``,
``kms_key_id``, ``endpoint``. Missing credentials fall back to boto3's usual chain (environment,
profile, instance role). The AAD is sent as the KMS encryption context, so a wrapped key only
opens for the purpose it was made for. boto3 is synchronous: calls run in a worker thread.
"""

from __future__ import annotations

import asyncio
from typing import Any

from hush.barrier.seals.base import Seal, SealUnavailable, WrappedKey
from hush.crypto import DecryptionError, SecretBytes

__all__ = ["AwsKmsSeal"]

_TIMEOUT = 10
_UNOPENABLE = frozenset({"InvalidCiphertextException", "IncorrectKeyException"})


class AwsKmsSeal(Seal):
    """Wraps with KMS ``Encrypt``/``Decrypt`` on ``kms_key_id``."""

    type = "awskms"

    async def open(self) -> None:
        """Build the client and check the key (``DescribeKey``)."""
        self.require("kms_key_id")
        try:
            import boto3
            from botocore.config import Config
        except ImportError:
            raise SealUnavailable(
                "awskms seal: boto3 is not installed (pip install 'hush[seals]')"
            ) from None
        session = boto3.session.Session(
            aws_access_key_id=self.option("access_key") or None,
            aws_secret_access_key=self.option("secret_key") or None,
            aws_session_token=self.option("session_token") or None,
            region_name=self.option("region", "us-east-1"),
        )
        self._client: Any = session.client(
            "kms",
            endpoint_url=self.option("endpoint") or None,
            config=Config(
                connect_timeout=_TIMEOUT, read_timeout=_TIMEOUT, retries={"max_attempts": 2}
            ),
        )
        await self._call("describe_key", KeyId=self.option("kms_key_id"))

    async def wrap(self, plaintext: SecretBytes, aad: bytes) -> WrappedKey:
        """KMS ``Encrypt`` with the AAD as encryption context."""
        answer = await self._call(
            "encrypt",
            KeyId=self.option("kms_key_id"),
            Plaintext=plaintext.reveal(),
            EncryptionContext=_context(aad),
        )
        return WrappedKey(self.type, str(answer["KeyId"]), bytes(answer["CiphertextBlob"]))

    async def unwrap(self, wrapped: WrappedKey, aad: bytes) -> SecretBytes:
        """KMS ``Decrypt``; an invalid ciphertext or context is a :class:`DecryptionError`."""
        answer = await self._call(
            "decrypt",
            KeyId=self.option("kms_key_id"),
            CiphertextBlob=wrapped.ciphertext,
            EncryptionContext=_context(aad),
        )
        return SecretBytes(bytes(answer["Plaintext"]))

    def describe(self) -> str:
        """Region, endpoint and key id (no credentials)."""
        where = self.option("endpoint") or self.option("region", "us-east-1")
        return f"awskms ({where}, key {self.option('kms_key_id')})"

    async def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            result: dict[str, Any] = await asyncio.to_thread(
                getattr(self._client, operation), **params
            )
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", "Unknown"))
            if operation == "decrypt" and code in (
                "InvalidCiphertextException",
                "IncorrectKeyException",
            ):
                raise DecryptionError from None
            raise SealUnavailable(f"awskms seal: {operation} failed ({code})") from None
        except BotoCoreError as exc:
            raise SealUnavailable(
                f"awskms seal: {operation} failed ({type(exc).__name__})"
            ) from None
        return result


def _context(aad: bytes) -> dict[str, str]:
    return {"hush:purpose": aad.decode("utf-8")}
