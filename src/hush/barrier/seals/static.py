"""The ``static`` seal (OpenBao's): a 32-byte AES-256-GCM key given in the configuration.

For development, tests, and chaining Hush to another secret store that injects the key. The key
is ``current_key``: base64 or hex, ``env://VARIABLE`` or ``file:///path`` (raw 32 bytes, or its
base64/hex text). ``previous_key``/``previous_key_id`` keep blobs made under an older key opening
after the key is rotated.
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path

from hush.barrier.seals.base import Seal, SealUnavailable, WrappedKey
from hush.crypto import KEY_SIZE, DecryptionError, SecretBytes, aead_decrypt, aead_encrypt

__all__ = ["StaticSeal", "load_static_key"]


def load_static_key(reference: str, what: str) -> SecretBytes:
    """Resolve a static key reference to 32 bytes; the error never includes the key."""
    raw: bytes
    if reference.startswith("env://"):
        name = reference[len("env://") :]
        value = os.environ.get(name)
        if not value:
            raise SealUnavailable(f"static seal: {what} names the unset variable {name}")
        raw = value.encode()
    elif reference.startswith("file://"):
        path = Path(reference[len("file://") :])
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise SealUnavailable(
                f"static seal: cannot read {what} file {path}: {exc.strerror}"
            ) from None
    else:
        raw = reference.encode()
    if len(raw) == KEY_SIZE:
        return SecretBytes(raw)
    text = raw.strip()
    for decode in (bytes.fromhex, lambda t: base64.b64decode(t, validate=True)):
        try:
            decoded = decode(text.decode("ascii"))
        except (ValueError, binascii.Error, UnicodeDecodeError):
            continue
        if len(decoded) == KEY_SIZE:
            return SecretBytes(decoded)
    raise SealUnavailable(
        f"static seal: {what} must be 32 bytes (raw, hex or base64) for AES-256-GCM"
    )


class StaticSeal(Seal):
    """AES-256-GCM with a key from the configuration, file or environment."""

    type = "static"

    async def open(self) -> None:
        """Resolve the keys now, so a bad reference is reported at start."""
        self._current_id = self.require("current_key_id")
        self._current = load_static_key(self.require("current_key"), "current_key")
        self._previous: tuple[str, SecretBytes] | None = None
        if self.option("previous_key"):
            self._previous = (
                self.require("previous_key_id"),
                load_static_key(self.option("previous_key"), "previous_key"),
            )

    async def wrap(self, plaintext: SecretBytes, aad: bytes) -> WrappedKey:
        """Encrypt under the current key."""
        ciphertext = aead_encrypt(self._current.reveal(), plaintext.reveal(), aad)
        return WrappedKey(self.type, self._current_id, ciphertext)

    async def unwrap(self, wrapped: WrappedKey, aad: bytes) -> SecretBytes:
        """Decrypt with the key the blob names (current or previous)."""
        if wrapped.key_id == self._current_id:
            key = self._current
        elif self._previous is not None and wrapped.key_id == self._previous[0]:
            key = self._previous[1]
        else:
            raise DecryptionError
        return SecretBytes(aead_decrypt(key.reveal(), wrapped.ciphertext, aad))

    def describe(self) -> str:
        """Type and key id."""
        return f"static (key id {self.option('current_key_id', '?')})"
