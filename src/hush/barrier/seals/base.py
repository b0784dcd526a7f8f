"""The seal interface: what protects the unseal key when a node unseals itself (auto-unseal).

Vault calls this the "barrier seal" or KMS wrapper. Shamir (the default) is not a :class:`Seal`:
its key is rebuilt from operators' shares. An auto-unseal seal instead *wraps* the unseal key with
a key it never reveals (an HSM key, a KMS key, a transit key, or a static key from a file), so a
node can unseal at start with nobody typing shares. The wrapped key is stored in storage; the seal
device is needed to open it.

Every seal raises :class:`SealUnavailable` when its device cannot be reached or is misconfigured
(its message names the cause, never a token, PIN or key), and :class:`hush.crypto.DecryptionError`
when a blob does not open.
"""

from __future__ import annotations

import abc
import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import orjson

from hush.crypto import SecretBytes

__all__ = ["SECRET_OPTIONS", "Seal", "SealUnavailable", "WrappedKey"]

# Option names whose values are secrets: never logged, never in an error or a repr.
SECRET_OPTIONS = frozenset(
    {"token", "pin", "secret_key", "session_token", "current_key", "previous_key"}
)


class SealUnavailable(Exception):
    """The seal device cannot be used right now (unreachable, key missing, misconfigured).

    The message is safe to log: it names the device and the failure class, never secrets.
    """


@dataclass(frozen=True, slots=True)
class WrappedKey:
    """A secret wrapped by a seal, as stored: which seal and key made it, and the ciphertext.

    ``iv`` is empty for seals whose ciphertext is self-describing (transit, AWS KMS).
    """

    seal_type: str
    key_id: str
    ciphertext: bytes
    iv: bytes = b""

    def to_json(self) -> bytes:
        """Serialise for storage (nothing in here is secret without the seal's key)."""
        return orjson.dumps(
            {
                "seal_type": self.seal_type,
                "key_id": self.key_id,
                "ciphertext": base64.b64encode(self.ciphertext).decode(),
                "iv": base64.b64encode(self.iv).decode(),
            }
        )

    @classmethod
    def from_json(cls, blob: bytes) -> WrappedKey:
        """Inverse of :meth:`to_json`."""
        raw = orjson.loads(blob)
        return cls(
            str(raw["seal_type"]),
            str(raw["key_id"]),
            base64.b64decode(raw["ciphertext"]),
            base64.b64decode(raw.get("iv", "")),
        )


class Seal(abc.ABC):
    """An auto-unseal device that wraps and unwraps small secrets (the unseal and recovery keys)."""

    type: ClassVar[str]

    def __init__(self, options: Mapping[str, str]) -> None:
        self.options = dict(options)

    async def open(self) -> None:  # noqa: B027 - optional hook
        """Connect and check the key exists; raises :class:`SealUnavailable` if it cannot."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections or sessions."""

    @abc.abstractmethod
    async def wrap(self, plaintext: SecretBytes, aad: bytes) -> WrappedKey:
        """Encrypt ``plaintext``, bound to ``aad`` where the device supports it."""

    @abc.abstractmethod
    async def unwrap(self, wrapped: WrappedKey, aad: bytes) -> SecretBytes:
        """Decrypt what :meth:`wrap` produced; :class:`DecryptionError` if it does not open."""

    def describe(self) -> str:
        """A one-line, secret-free description for logs (type and key name)."""
        return self.type

    def option(self, name: str, default: str = "") -> str:
        """An option value, ``default`` when unset or empty."""
        return self.options.get(name) or default

    def require(self, name: str) -> str:
        """An option that must be set; :class:`SealUnavailable` names the missing key."""
        value = self.options.get(name)
        if not value:
            raise SealUnavailable(f'{self.type} seal: "{name}" is required')
        return value
