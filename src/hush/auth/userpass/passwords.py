"""Password hashing for userpass: argon2id, computed off the event loop.

Parameters are OWASP's minimum for argon2id (19 MiB, 2 passes, 1 lane): about 35 ms per check,
slow enough to make offline guessing expensive, fast enough for interactive logins. Hashes are
PHC strings (``$argon2id$v=19$m=...``), so raising the parameters later only needs a rehash on
the next successful login (:func:`needs_rehash`).

A login for a user that does not exist is checked against :func:`dummy_hash`, made with the same
parameters, so it costs the same time as a wrong password for a real user.
"""

from __future__ import annotations

import asyncio
import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from hush.crypto import SecretBytes, random_bytes

__all__ = ["dummy_hash", "hash_password", "needs_rehash", "verify_password"]

_HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1, hash_len=32, salt_len=16)


@functools.cache
def dummy_hash() -> str:
    """A hash of a random password nobody knows, with the current parameters (made once)."""
    return _HASHER.hash(random_bytes(32))


async def hash_password(password: SecretBytes) -> str:
    """The argon2id PHC string of ``password``."""
    return await asyncio.to_thread(_HASHER.hash, password.reveal())


def _verify(encoded: str, password: bytes) -> bool:
    try:
        return _HASHER.verify(encoded, password)
    except (VerificationError, InvalidHashError):
        return False


def _verify_unknown(password: bytes) -> bool:
    _verify(dummy_hash(), password)
    return False


async def verify_password(encoded: str | None, password: SecretBytes) -> bool:
    """Whether ``password`` matches ``encoded``; ``None`` (no such user) costs the same, fails."""
    if encoded is None:
        return await asyncio.to_thread(_verify_unknown, password.reveal())
    return await asyncio.to_thread(_verify, encoded, password.reveal())


def needs_rehash(encoded: str) -> bool:
    """Whether ``encoded`` was made with other parameters than the current ones."""
    try:
        return _HASHER.check_needs_rehash(encoded)
    except InvalidHashError:
        return True
