"""``sys/generate-root``: a new root token from a quorum of unseal shares.

The token is never returned in clear: it is XORed with a one-time password that only the operator
who started the attempt holds, and base64-encoded (Vault's ``encoded_token``), so the shares'
holders who submit later cannot read it.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from hush.core.errors import InvalidRequest, NotInitialized, Unsupported
from hush.core.shares import ShareCollector
from hush.core.tokens import SERVICE_TOKEN_PREFIX
from hush.crypto import SecretBytes, random_token_string

if TYPE_CHECKING:
    from hush.core.core import Core

__all__ = ["OTP_LENGTH", "GenerateRootOperation", "decode_token", "encode_token"]

OTP_LENGTH = len(SERVICE_TOKEN_PREFIX) + 24


def encode_token(token: bytes, otp: bytes) -> str:
    """XOR ``token`` with ``otp`` (same length) and base64 without padding, like Vault."""
    if len(token) != len(otp):
        raise ValueError("token and OTP lengths differ")
    mixed = bytes(a ^ b for a, b in zip(token, otp, strict=True))
    return base64.b64encode(mixed).decode().rstrip("=")


def decode_token(encoded: str, otp: str) -> str:
    """Inverse of :func:`encode_token` (what ``hush operator generate-root -decode`` does)."""
    padded = encoded + "=" * (-len(encoded) % 4)
    mixed = base64.b64decode(padded)
    if len(mixed) != len(otp):
        raise ValueError("encoded token and OTP lengths differ")
    return bytes(a ^ b for a, b in zip(mixed, otp.encode(), strict=True)).decode()


class GenerateRootOperation:
    """One root-token generation attempt."""

    def __init__(self, core: Core, otp: str | None) -> None:
        if core.seal_config is None:
            raise NotInitialized
        self._core = core
        self.generated_otp = otp is None or otp == ""
        self._otp = SecretBytes((otp or random_token_string(OTP_LENGTH)).encode())
        if len(self._otp) != OTP_LENGTH:
            raise InvalidRequest(f"OTP string is wrong length: expected {OTP_LENGTH} characters")
        # Unseal shares with Shamir, recovery shares with an auto-unseal seal (as Vault).
        operator = core.seals.operator_config()
        self.collector = ShareCollector(operator.secret_threshold, operator.share_length)
        self.encoded_token = ""

    @classmethod
    def start(cls, core: Core, data: dict[str, Any]) -> GenerateRootOperation:
        """Validate ``sys/generate-root/attempt`` fields and begin."""
        if data.get("pgp_key"):
            raise Unsupported("pgp_key is not supported by Hush yet; use the OTP flow")
        otp = data.get("otp")
        if otp is not None and not isinstance(otp, str):
            raise InvalidRequest('"otp" must be a string')
        return cls(core, otp)

    def status(self, *, include_otp: bool = False) -> dict[str, Any]:
        """The attempt's status body (the OTP only in the answer that created it)."""
        return {
            "started": True,
            "nonce": self.collector.nonce,
            "progress": self.collector.progress,
            "required": self.collector.threshold,
            "complete": bool(self.encoded_token),
            "encoded_token": self.encoded_token,
            "encoded_root_token": self.encoded_token,
            "pgp_fingerprint": "",
            "otp": self._otp.reveal().decode() if include_otp and self.generated_otp else "",
            "otp_length": OTP_LENGTH,
        }

    async def update(self, share: SecretBytes, nonce: str) -> dict[str, Any]:
        """Add a share; on quorum mint a root token and return it OTP-encoded."""
        if self.encoded_token:
            raise InvalidRequest("root generation is already complete; cancel it to start again")
        self.collector.check_nonce(nonce)
        self.collector.add(share)
        if self.collector.complete:
            key = self.collector.combine()
            if not await self._core.seals.verify_operator_key(key):
                self.collector = ShareCollector(
                    self.collector.threshold, self.collector.share_length
                )
                raise InvalidRequest(
                    "root generation: the key shares do not combine to the unseal key; "
                    "progress was reset"
                )
            token, _ = await self._core.tokens.create_root()
            self.encoded_token = encode_token(token.reveal(), self._otp.reveal())
        return self.status()
