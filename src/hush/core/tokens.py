"""The token store: service tokens (stored by salted hash) and batch tokens (sealed, stateless).

Storage layout inside the token view (``sys/token/``):

* ``salt`` — random salt for token hashes; ``batch-key`` — AES-256-GCM key for batch tokens.
* ``id/<hash>`` — a service token's entry under HMAC-SHA256(salt, token); the token is never stored.
* ``accessor/<HMAC(salt, accessor)>`` — the accessor and the hash of the token it names.
* ``parent/<parent hash>/<child hash>`` — the hierarchy, so revoking a parent finds its children.
* ``path/<h(seg 1)>/.../<h(seg n)>/<token hash>`` — the token's creation path (``auth/userpass/
  login/alice``), one salted hash per segment so usernames never show in keys: disabling an auth
  mount or ``revoke-prefix`` finds its tokens with a prefix scan.

Batch tokens are ``hsb.`` + base64url(AES-GCM(batch key, entry)): nothing is stored, they cannot be
renewed or revoked one by one, and they die with their parent. TTLs and use counts are enforced on
every lookup, not only by a background sweep.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

from hush.barrier.view import LogicalStorage
from hush.crypto import (
    DecryptionError,
    SecretBytes,
    aead_decrypt,
    aead_encrypt,
    constant_time_equal,
    hmac_sha256,
    random_bytes,
    random_token_string,
)
from hush.storage.base import TxnOp

__all__ = [
    "BATCH_TOKEN_PREFIX",
    "SERVICE_TOKEN_PREFIX",
    "UNREAD",
    "TokenEntry",
    "TokenStore",
    "Unread",
]

SERVICE_TOKEN_PREFIX = "hss."
BATCH_TOKEN_PREFIX = "hsb."
_SALT_PATH = "salt"
_BATCH_KEY_PATH = "batch-key"
_ID = "id/"
_ACCESSOR = "accessor/"
_PARENT = "parent/"
_PATH = "path/"
_BATCH_AAD = b"hush-batch-token-v1"
_TXN_BATCH = 500


class Unread:
    """Marker type: the caller has not read the token entry (``None`` means "read, absent")."""


UNREAD = Unread()


@dataclass(slots=True)
class TokenEntry:
    """What Hush knows about a token (never the token itself)."""

    accessor: str
    policies: list[str]
    path: str
    display_name: str = "token"
    creation_time: float = field(default_factory=time.time)
    creation_ttl: int = 0
    expire_time: float = 0.0
    explicit_max_ttl: int = 0
    period: int = 0
    num_uses: int = 0
    meta: dict[str, str] = field(default_factory=dict)
    parent_hash: str = ""
    orphan: bool = False
    renewable: bool = True
    type: str = "service"
    entity_id: str = ""
    role: str = ""
    token_hash: str = ""
    bound_cidrs: list[str] = field(default_factory=list)
    #: Accessor of the auth mount whose login minted the token ("" for token-store tokens):
    #: a token outlives neither the mount nor a re-enable of it at the same path.
    mount_accessor: str = ""

    @property
    def is_root(self) -> bool:
        """Whether the token carries the ``root`` policy."""
        return "root" in self.policies

    def expired(self, now: float) -> bool:
        """Whether the TTL has run out (``expire_time`` 0 means never)."""
        return self.expire_time != 0.0 and now >= self.expire_time

    def ttl_remaining(self, now: float) -> int:
        """Seconds left, 0 for tokens that never expire."""
        return 0 if self.expire_time == 0.0 else max(0, round(self.expire_time - now))

    def to_json(self) -> bytes:
        """Serialise for storage or sealing into a batch token."""
        return orjson.dumps(asdict(self))

    @classmethod
    def from_json(cls, blob: bytes) -> TokenEntry:
        """Inverse of :meth:`to_json` (unknown keys from newer versions are ignored)."""
        raw: dict[str, Any] = orjson.loads(blob)
        if raw.keys() <= _ENTRY_FIELDS:  # the usual case: written by this version
            return cls(**raw)
        known = {k: v for k, v in raw.items() if k in cls.__dataclass_fields__}
        return cls(**known)


_ENTRY_FIELDS = frozenset(TokenEntry.__dataclass_fields__)


class TokenStore:
    """Creates, finds, renews and revokes tokens inside the ``sys/token/`` view."""

    def __init__(self, storage: LogicalStorage) -> None:
        self._storage = storage
        self._salt: SecretBytes | None = None
        # HMAC keyed once with the salt; hash_token copies it (no key schedule per request).
        self._token_mac: hmac.HMAC | None = None
        self._batch_key: SecretBytes | None = None
        # Called with the hashes of revoked tokens (cubbyholes, leases go with their token).
        self.on_revoke: list[Callable[[list[str]], Awaitable[None]]] = []
        # Called with each new service token's entry (the expiration manager leases it).
        self.on_create: list[Callable[[TokenEntry], Awaitable[None]]] = []

    async def setup(self) -> None:
        """Load (or create once) the salt and the batch-token key; called on unseal."""
        self._salt = SecretBytes(await self._get_or_create(_SALT_PATH))
        self._token_mac = hmac.new(self._salt.reveal(), digestmod=hashlib.sha256)
        self._batch_key = SecretBytes(await self._get_or_create(_BATCH_KEY_PATH))

    async def _get_or_create(self, path: str) -> bytes:
        value = await self._storage.get(path)
        if value is None:
            value = random_bytes(32)
            await self._storage.put(path, value)
        return value

    def teardown(self) -> None:
        """Forget the salt and key (on seal)."""
        self._salt = None
        self._token_mac = None
        self._batch_key = None

    def _accessor_key(self, accessor: str) -> str:
        # Accessors are indexed by salted hash too, so storage keys (which are not encrypted)
        # never show one.
        return _ACCESSOR + hmac_sha256(self._require_salt(), b"accessor:" + accessor.encode()).hex()

    @staticmethod
    def _accessor_value(entry: TokenEntry) -> bytes:
        return orjson.dumps({"token_hash": entry.token_hash, "accessor": entry.accessor})

    def _path_folder(self, path: str) -> str:
        """The index folder of a creation path (segment-wise, so prefixes stay prefixes)."""
        salt = self._require_salt()
        segments = path.strip("/").split("/") if path.strip("/") else []
        hashed = [hmac_sha256(salt, b"path:" + s.encode()).hex()[:32] for s in segments]
        return _PATH + "".join(h + "/" for h in hashed)

    def _path_key(self, entry: TokenEntry) -> str:
        return self._path_folder(entry.path) + entry.token_hash

    def _require_salt(self) -> bytes:
        if self._salt is None:
            raise RuntimeError("token store is not set up")
        return self._salt.reveal()

    def hash_token(self, token: SecretBytes) -> str:
        """The salted hash under which ``token``'s entry is stored."""
        if self._token_mac is None:
            raise RuntimeError("token store is not set up")
        mac = self._token_mac.copy()
        mac.update(token.reveal())
        return mac.hexdigest()

    # -- creation ----------------------------------------------------------------------------

    async def create_root(self, token_id: str | None = None) -> tuple[SecretBytes, TokenEntry]:
        """Mint a root token (``token_id`` lets dev mode choose it); returns token and entry."""
        entry = TokenEntry(
            accessor="",
            policies=["root"],
            path="auth/token/root",
            display_name="root",
            orphan=True,
            renewable=False,
        )
        return await self.create(entry, token_id), entry

    async def create(self, entry: TokenEntry, token_id: str | None = None) -> SecretBytes:
        """Persist a new token for ``entry`` (service) or seal it (batch); returns the token."""
        if entry.type == "batch":
            return self._seal_batch(entry)
        token = SecretBytes(
            (token_id or SERVICE_TOKEN_PREFIX + random_token_string(24)).encode("utf-8")
        )
        entry.accessor = entry.accessor or random_token_string(24)
        entry.token_hash = self.hash_token(token)
        if await self._storage.get(_ID + entry.token_hash) is not None:
            raise ValueError("token id already in use")
        ops = [
            TxnOp("put", _ID + entry.token_hash, entry.to_json()),
            TxnOp("put", self._accessor_key(entry.accessor), self._accessor_value(entry)),
            TxnOp("put", self._path_key(entry), b""),
        ]
        if entry.parent_hash:
            ops.append(TxnOp("put", f"{_PARENT}{entry.parent_hash}/{entry.token_hash}", b""))
        await self._storage.transaction(ops)
        for hook in self.on_create:
            await hook(entry)
        return token

    def _seal_batch(self, entry: TokenEntry) -> SecretBytes:
        if self._batch_key is None:
            raise RuntimeError("token store is not set up")
        entry.accessor = ""
        entry.renewable = False
        blob = aead_encrypt(self._batch_key.reveal(), entry.to_json(), _BATCH_AAD)
        encoded = base64.urlsafe_b64encode(blob).decode().rstrip("=")
        return SecretBytes((BATCH_TOKEN_PREFIX + encoded).encode())

    def _open_batch(self, token: SecretBytes) -> TokenEntry | None:
        if self._batch_key is None:
            raise RuntimeError("token store is not set up")
        text = token.reveal()[len(BATCH_TOKEN_PREFIX) :]
        try:
            blob = base64.urlsafe_b64decode(text + b"=" * (-len(text) % 4))
            return TokenEntry.from_json(aead_decrypt(self._batch_key.reveal(), blob, _BATCH_AAD))
        except (DecryptionError, binascii.Error, ValueError, TypeError):
            return None

    # -- lookup ------------------------------------------------------------------------------

    def entry_key(self, token: SecretBytes) -> str | None:
        """The view-relative key of a service token's entry (``None`` for batch tokens).

        Lets the core read the entry together with the authorisation epoch in one round trip.
        """
        if token.reveal().startswith(BATCH_TOKEN_PREFIX.encode()):
            return None
        return _ID + self.hash_token(token)

    async def _load(
        self, token_hash: str, stored: bytes | Unread | None = UNREAD
    ) -> TokenEntry | None:
        blob = await self._storage.get(_ID + token_hash) if isinstance(stored, Unread) else stored
        if blob is None:
            return None
        entry = TokenEntry.from_json(blob)
        return entry if constant_time_equal(entry.token_hash, token_hash) else None

    async def lookup(
        self,
        token: SecretBytes,
        now: float | None = None,
        *,
        stored: bytes | Unread | None = UNREAD,
    ) -> TokenEntry | None:
        """The live entry for ``token``; ``None`` if unknown, expired (then revoked) or orphaned.

        ``stored`` is the entry's stored value when the caller already read it (see
        :meth:`entry_key`); it applies to service tokens only.
        """
        now = time.time() if now is None else now
        if token.reveal().startswith(BATCH_TOKEN_PREFIX.encode()):
            entry = self._open_batch(token)
            if entry is None or entry.expired(now):
                return None
            if entry.parent_hash and await self._live(entry.parent_hash, now) is None:
                return None
            return entry
        return await self._live(self.hash_token(token), now, stored)

    async def _live(
        self, token_hash: str, now: float, stored: bytes | Unread | None = UNREAD
    ) -> TokenEntry | None:
        entry = await self._load(token_hash, stored)
        if entry is None:
            return None
        if entry.expired(now):
            await self.revoke_tree(entry)
            return None
        return entry

    async def lookup_hash(self, token_hash: str) -> TokenEntry | None:
        """The live service-token entry stored under ``token_hash``."""
        return await self._live(token_hash, time.time())

    async def lookup_accessor(self, accessor: str) -> TokenEntry | None:
        """The live entry an accessor names."""
        if not accessor or "/" in accessor:
            return None
        blob = await self._storage.get(self._accessor_key(accessor))
        if blob is None:
            return None
        return await self._live(str(orjson.loads(blob)["token_hash"]), time.time())

    async def record_use(self, entry: TokenEntry) -> bool:
        """Count one use of a limited-use token; the last use revokes it (Vault's ``num_uses``).

        The count is re-read and decremented under a store-wide lock, so two nodes (or worker
        processes) spending the same token at once never both get the last use. Returns
        ``False`` when no use was left (the caller refuses the request).
        """
        if entry.num_uses <= 0 or entry.type == "batch":
            return True
        async with self._storage.exclusive(_ID + entry.token_hash):
            current = await self._load(entry.token_hash)
            if current is None or current.num_uses <= 0:
                return False
            entry.num_uses = current.num_uses
            if current.num_uses == 1:
                await self.revoke_tree(current)
                return True
            current.num_uses -= 1
            entry.num_uses = current.num_uses
            await self._storage.put(_ID + entry.token_hash, current.to_json())
        return True

    async def save(self, entry: TokenEntry) -> None:
        """Persist changes to an existing service token (renewal)."""
        await self._storage.put(_ID + entry.token_hash, entry.to_json())

    # -- revocation --------------------------------------------------------------------------

    async def _children(self, token_hash: str) -> list[str]:
        return [c for c in await self._storage.list(f"{_PARENT}{token_hash}/") if "/" not in c]

    async def revoke_tree(self, entry: TokenEntry) -> int:
        """Revoke a token and every descendant; returns how many tokens were revoked."""
        order: list[str] = []
        pending = [entry.token_hash]
        while pending:
            current = pending.pop()
            order.append(current)
            pending.extend(await self._children(current))
        ops: list[TxnOp] = []
        for token_hash in order:
            found = await self._load(token_hash)
            ops += [TxnOp("delete", _ID + token_hash)]
            if found is not None:
                ops.append(TxnOp("delete", self._accessor_key(found.accessor)))
                ops.append(TxnOp("delete", self._path_key(found)))
                if found.parent_hash:
                    ops.append(TxnOp("delete", f"{_PARENT}{found.parent_hash}/{token_hash}"))
        await self._apply(ops)
        await self._revoked(order)
        return len(order)

    async def revoke_orphan(self, entry: TokenEntry) -> None:
        """Revoke one token and make its children orphans."""
        ops: list[TxnOp] = []
        for child_hash in await self._children(entry.token_hash):
            child = await self._load(child_hash)
            if child is not None:
                child.parent_hash = ""
                child.orphan = True
                ops.append(TxnOp("put", _ID + child_hash, child.to_json()))
            ops.append(TxnOp("delete", f"{_PARENT}{entry.token_hash}/{child_hash}"))
        ops += [
            TxnOp("delete", _ID + entry.token_hash),
            TxnOp("delete", self._accessor_key(entry.accessor)),
            TxnOp("delete", self._path_key(entry)),
        ]
        if entry.parent_hash:
            ops.append(TxnOp("delete", f"{_PARENT}{entry.parent_hash}/{entry.token_hash}"))
        await self._apply(ops)
        await self._revoked([entry.token_hash])

    async def revoke_prefix(self, prefix: str) -> int:
        """Revoke every service token created under ``prefix`` (whole segments), with children.

        Batch tokens are not stored and cannot be found here; the core refuses those of a
        disabled auth mount through :attr:`TokenEntry.mount_accessor` instead.
        """
        folder = self._path_folder(prefix)
        pending, found = [folder], []
        while pending:
            current = pending.pop()
            for child in await self._storage.list(current):
                if child.endswith("/"):
                    pending.append(current + child)
                else:
                    found.append(current + child)
        revoked = 0
        for key in found:
            entry = await self._load(key.rsplit("/", 1)[1])
            if entry is None:
                await self._storage.delete(key)  # dangling index entry
                continue
            revoked += await self.revoke_tree(entry)
        return revoked

    async def _revoked(self, token_hashes: list[str]) -> None:
        for hook in self.on_revoke:
            await hook(token_hashes)

    async def _apply(self, ops: list[TxnOp]) -> None:
        for start in range(0, len(ops), _TXN_BATCH):
            await self._storage.transaction(ops[start : start + _TXN_BATCH])

    # -- maintenance -------------------------------------------------------------------------

    async def _accessor_index(self) -> list[tuple[str, dict[str, str]]]:
        found: list[tuple[str, dict[str, str]]] = []
        for key in await self._storage.list(_ACCESSOR):
            blob = None if key.endswith("/") else await self._storage.get(_ACCESSOR + key)
            if blob is not None:
                found.append((_ACCESSOR + key, orjson.loads(blob)))
        return found

    async def accessors(self) -> list[str]:
        """Every accessor (for ``auth/token/accessors``)."""
        return sorted(value["accessor"] for _, value in await self._accessor_index())

    async def tidy(self) -> dict[str, int]:
        """Remove expired tokens, dangling accessors and dangling parent links."""
        now = time.time()
        counts = {"expired": 0, "dangling_accessors": 0, "dangling_children": 0}
        for key, value in await self._accessor_index():
            entry = await self._load(value["token_hash"])
            if entry is None:
                await self._storage.delete(key)
                counts["dangling_accessors"] += 1
            elif entry.expired(now):
                counts["expired"] += await self.revoke_tree(entry)
        for parent in await self._storage.list(_PARENT):
            parent_hash = parent.rstrip("/")
            parent_alive = await self._load(parent_hash) is not None
            for child_hash in await self._children(parent_hash):
                if not parent_alive or await self._load(child_hash) is None:
                    await self._storage.delete(f"{_PARENT}{parent_hash}/{child_hash}")
                    counts["dangling_children"] += 1
        return counts
