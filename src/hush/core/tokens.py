"""Token store (minimal core: root tokens; the full token store builds on this).

Tokens are never stored: an entry lives under the HMAC-SHA256 of the token with a per-cluster
salt, so a storage dump (even decrypted) reveals no usable token. Lookup hashes the presented token
and reads one key; the storage key comparison is the only comparison, and a final constant-time
check guards against a corrupted index.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import orjson

from hush.barrier.view import LogicalStorage
from hush.crypto import (
    SecretBytes,
    constant_time_equal,
    hmac_sha256,
    random_bytes,
    random_token_string,
)
from hush.storage.base import TxnOp

__all__ = ["SERVICE_TOKEN_PREFIX", "TokenEntry", "TokenStore"]

SERVICE_TOKEN_PREFIX = "hss."  # noqa: S105 - a prefix, not a secret
_SALT_PATH = "salt"
_ID_PREFIX = "id/"
_ACCESSOR_PREFIX = "accessor/"


@dataclass(slots=True)
class TokenEntry:
    """What Hush knows about a token (never the token itself)."""

    accessor: str
    policies: list[str]
    path: str
    display_name: str = "token"
    creation_time: int = field(default_factory=lambda: int(time.time()))
    ttl: int = 0
    expire_time: float = 0.0
    meta: dict[str, str] = field(default_factory=dict)
    token_hash: str = ""

    @property
    def is_root(self) -> bool:
        """Whether the token carries the ``root`` policy."""
        return "root" in self.policies

    def expired(self, now: float) -> bool:
        """Whether the token's TTL has run out (0 means no expiry)."""
        return self.expire_time != 0.0 and now >= self.expire_time


class TokenStore:
    """Creates and looks up tokens under a storage view (``sys/token/`` of the barrier)."""

    def __init__(self, storage: LogicalStorage) -> None:
        self._storage = storage
        self._salt: SecretBytes | None = None

    async def setup(self) -> None:
        """Load (or create once) the salt; called on unseal."""
        salt = await self._storage.get(_SALT_PATH)
        if salt is None:
            salt = random_bytes(32)
            await self._storage.put(_SALT_PATH, salt)
        self._salt = SecretBytes(salt)

    def teardown(self) -> None:
        """Forget the salt (on seal)."""
        self._salt = None

    def hash_token(self, token: SecretBytes) -> str:
        """The salted hash under which ``token``'s entry is stored."""
        if self._salt is None:
            raise RuntimeError("token store is not set up")
        return hmac_sha256(self._salt.reveal(), token.reveal()).hex()

    async def create_root(self, token_id: str | None = None) -> tuple[SecretBytes, TokenEntry]:
        """Mint a root token (``token_id`` lets dev mode choose it); returns token and entry."""
        token = SecretBytes(
            (token_id or SERVICE_TOKEN_PREFIX + random_token_string(24)).encode("utf-8")
        )
        entry = TokenEntry(
            accessor=random_token_string(24),
            policies=["root"],
            path="auth/token/root",
            display_name="root",
        )
        await self.store(token, entry)
        return token, entry

    async def store(self, token: SecretBytes, entry: TokenEntry) -> None:
        """Persist ``entry`` for ``token`` and its accessor index atomically."""
        entry.token_hash = self.hash_token(token)
        blob = orjson.dumps(asdict(entry))
        await self._storage.transaction(
            [
                TxnOp("put", _ID_PREFIX + entry.token_hash, blob),
                TxnOp("put", _ACCESSOR_PREFIX + entry.accessor, entry.token_hash.encode()),
            ]
        )

    async def lookup(self, token: SecretBytes, now: float | None = None) -> TokenEntry | None:
        """The live entry for ``token``, or ``None`` if unknown or expired."""
        token_hash = self.hash_token(token)
        blob = await self._storage.get(_ID_PREFIX + token_hash)
        if blob is None:
            return None
        entry = TokenEntry(**orjson.loads(blob))
        if not constant_time_equal(entry.token_hash, token_hash):
            return None
        if entry.expired(time.time() if now is None else now):
            return None
        return entry

    async def revoke(self, entry: TokenEntry) -> None:
        """Delete a token and its accessor index."""
        await self._storage.transaction(
            [
                TxnOp("delete", _ID_PREFIX + entry.token_hash),
                TxnOp("delete", _ACCESSOR_PREFIX + entry.accessor),
            ]
        )
