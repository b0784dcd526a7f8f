"""The small safe crypto API used everywhere outside ``hush.barrier``.

Nothing outside this module, ``hush.barrier`` and ``hush.envelope`` (the chunked file format,
whose nonces are part of its STREAM construction) touches nonces or raw AEAD calls. Every decryption
failure raises the one opaque :class:`DecryptionError`, whatever went wrong (wrong key, wrong AAD,
tampered bytes), so errors reveal nothing about the cause.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import string

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = [
    "KEY_SIZE",
    "NONCE_SIZE",
    "DecryptionError",
    "SecretBytes",
    "aead_decrypt",
    "aead_encrypt",
    "constant_time_equal",
    "hmac_sha256",
    "random_bytes",
    "random_token_string",
]

KEY_SIZE = 32
NONCE_SIZE = 12
_BASE62 = string.ascii_letters + string.digits


class DecryptionError(Exception):
    """A ciphertext could not be opened; deliberately says nothing about why."""

    def __init__(self) -> None:
        super().__init__("cipher: message authentication failed")


class SecretBytes:
    """Secret material (keys, shares, tokens) whose ``repr``/``str`` never show the value.

    Converting to bytes is explicit: call :meth:`reveal`.
    """

    __slots__ = ("_value",)

    def __init__(self, value: bytes) -> None:
        self._value = bytes(value)

    def reveal(self) -> bytes:
        """Return the secret bytes; the caller takes responsibility for where they go."""
        return self._value

    def __len__(self) -> int:
        return len(self._value)

    def __repr__(self) -> str:
        return f"SecretBytes(<{len(self._value)} bytes redacted>)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SecretBytes):
            return NotImplemented
        return constant_time_equal(self._value, other._value)

    def __hash__(self) -> int:
        raise TypeError("SecretBytes is not hashable")

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("SecretBytes cannot be pickled")


def constant_time_equal(a: bytes | str, b: bytes | str) -> bool:
    """Compare two secrets in time independent of where they differ. The one helper for this."""
    a_bytes = a.encode() if isinstance(a, str) else a
    b_bytes = b.encode() if isinstance(b, str) else b
    return hmac.compare_digest(a_bytes, b_bytes)


def random_bytes(n: int = KEY_SIZE) -> bytes:
    """Return ``n`` bytes from the operating system's CSPRNG."""
    return os.urandom(n)


def random_token_string(length: int = 24) -> str:
    """Return a random base62 string of ``length`` characters (about 5.95 bits each)."""
    return "".join(secrets.choice(_BASE62) for _ in range(length))


def hmac_sha256(key: bytes, data: bytes) -> bytes:
    """Return HMAC-SHA256 of ``data`` under ``key``."""
    return hmac.new(key, data, hashlib.sha256).digest()


def aead_encrypt(key: bytes | AESGCM, plaintext: bytes, aad: bytes) -> bytes:
    """Encrypt with AES-256-GCM under a fresh random nonce; returns ``nonce | ciphertext | tag``.

    ``key`` is the raw key, or an ``AESGCM`` built from it once (a hot key's key schedule kept).
    """
    nonce = os.urandom(NONCE_SIZE)
    cipher = key if isinstance(key, AESGCM) else AESGCM(key)
    return nonce + cipher.encrypt(nonce, plaintext, aad)


def aead_decrypt(key: bytes | AESGCM, blob: bytes, aad: bytes) -> bytes:
    """Open a blob made by :func:`aead_encrypt`; raises :class:`DecryptionError` on any failure."""
    if len(blob) < NONCE_SIZE + 16:
        raise DecryptionError
    cipher = key if isinstance(key, AESGCM) else AESGCM(key)
    try:
        return cipher.decrypt(blob[:NONCE_SIZE], blob[NONCE_SIZE:], aad)
    except (InvalidTag, ValueError):
        raise DecryptionError from None
