"""Key shares: decoding what operators type, and collecting a quorum of them.

Unseal, rekey and root-token generation all gather shares one request at a time; they share
:class:`ShareCollector`, which keeps shares only in memory, rejects duplicates and wrong lengths
without changing its state, and combines them with Shamir once the threshold is reached.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass

import orjson

from hush.barrier import shamir
from hush.core.errors import InvalidRequest
from hush.crypto import KEY_SIZE, SecretBytes, constant_time_equal

__all__ = ["SealConfig", "ShareCollector", "decode_share", "encode_shares", "validate_split"]

MAX_SHARES = 255


@dataclass(frozen=True, slots=True)
class SealConfig:
    """The stored seal parameters (``core/seal-config``); contains nothing secret."""

    secret_shares: int
    secret_threshold: int
    type: str = "shamir"

    def to_json(self) -> bytes:
        """Serialise for storage."""
        return orjson.dumps(
            {
                "type": self.type,
                "secret_shares": self.secret_shares,
                "secret_threshold": self.secret_threshold,
            }
        )

    @classmethod
    def from_json(cls, blob: bytes) -> SealConfig:
        """Inverse of :meth:`to_json`."""
        raw = orjson.loads(blob)
        return cls(int(raw["secret_shares"]), int(raw["secret_threshold"]), str(raw["type"]))

    @property
    def share_length(self) -> int:
        """Bytes in one share: the key itself when unsplit, else key plus the x-coordinate."""
        return KEY_SIZE if self.secret_shares == 1 else KEY_SIZE + 1


def validate_split(shares: int, threshold: int) -> None:
    """Vault's rules for ``secret_shares``/``secret_threshold``; raises :class:`InvalidRequest`."""
    if shares < 1:
        raise InvalidRequest("invalid seal configuration: shares must be at least one")
    if threshold < 1:
        raise InvalidRequest("invalid seal configuration: threshold must be at least one")
    if shares > 1 and threshold == 1:
        raise InvalidRequest(
            "invalid seal configuration: threshold must be greater than one for multiple shares"
        )
    if shares > MAX_SHARES:
        raise InvalidRequest("invalid seal configuration: shares must be less than 256")
    if threshold > shares:
        raise InvalidRequest("invalid seal configuration: threshold cannot be larger than shares")


def decode_share(raw: str) -> SecretBytes:
    """Decode a share typed by an operator: hex first, then standard base64 (Vault's order)."""
    text = raw.strip()
    try:
        return SecretBytes(bytes.fromhex(text))
    except ValueError:
        pass
    try:
        return SecretBytes(base64.b64decode(text, validate=True))
    except (binascii.Error, ValueError):
        raise InvalidRequest("'key' must be a valid hex or base64 string") from None


def encode_shares(shares: list[bytes]) -> dict[str, list[str]]:
    """The ``keys``/``keys_base64`` pair Vault returns for new shares."""
    return {
        "keys": [s.hex() for s in shares],
        "keys_base64": [base64.b64encode(s).decode() for s in shares],
    }


class ShareCollector:
    """Gathers shares toward a threshold for one operation attempt (identified by ``nonce``)."""

    def __init__(self, threshold: int, share_length: int) -> None:
        self.threshold = threshold
        self.share_length = share_length
        self.nonce = str(uuid.uuid4())
        self._shares: list[SecretBytes] = []

    @property
    def progress(self) -> int:
        """How many distinct shares have been accepted."""
        return len(self._shares)

    @property
    def complete(self) -> bool:
        """Whether the threshold has been reached."""
        return len(self._shares) >= self.threshold

    def add(self, share: SecretBytes) -> None:
        """Accept one share; a wrong length or a repeat is refused and changes nothing."""
        if len(share) != self.share_length:
            raise InvalidRequest(
                f"invalid key share: expected {self.share_length} bytes, got {len(share)}"
            )
        if any(constant_time_equal(share.reveal(), s.reveal()) for s in self._shares):
            raise InvalidRequest(
                "duplicate key share: this share was already submitted in the current attempt"
            )
        if self.share_length > KEY_SIZE and any(
            s.reveal()[-1] == share.reveal()[-1] for s in self._shares
        ):
            raise InvalidRequest("duplicate key share: a share with this index was already given")
        self._shares.append(share)

    def combine(self) -> SecretBytes:
        """Recover the secret from the collected shares (call only when :attr:`complete`)."""
        if len(self._shares) == 1:
            return self._shares[0]
        try:
            return SecretBytes(shamir.combine([s.reveal() for s in self._shares]))
        except ValueError as exc:
            raise InvalidRequest(f"failed to combine key shares: {exc}") from None

    def check_nonce(self, nonce: str | None) -> None:
        """Refuse a share that does not name this attempt's nonce (rekey, generate-root).

        Required, as in Vault: otherwise anyone could feed garbage shares into an operator's
        attempt and make it fail, wasting the shares already given.
        """
        if not nonce or nonce != self.nonce:
            raise InvalidRequest("provided nonce does not match the current operation's nonce")
