"""Where AppRole keeps its state, in the mount's (barrier-encrypted) storage view.

Layout::

    salt                              random key of the role-id and accessor indexes
    role/<name>                       a Role
    role_id/<HMAC(salt, role_id)>     {"name": ...}: which role a role ID belongs to
    secret_id/<HMAC(k, name)>/<HMAC(k, secret_id)>
                                      a SecretIdEntry (k: the role's random hmac_key)
    accessor/<HMAC(salt, accessor)>   {"secret_id_hmac", "role_name_hmac"}

Secret IDs and role IDs only ever appear as HMACs, so reading storage (even decrypted) does
not give a credential. Every read-modify-write (a login spending one use, a role update, a
tidy batch) holds the mount's one store-wide lock (:meth:`Storage.exclusive`, so it also
excludes other nodes and worker processes), and each change that touches several keys is one
storage transaction, so a secret ID with ``num_uses=1`` logs in exactly once cluster-wide.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from typing import Any

import orjson

from hush.auth.approle.model import Role, SecretIdEntry
from hush.barrier.view import LogicalStorage
from hush.core.errors import InvalidRequest
from hush.crypto import SecretBytes, constant_time_equal, hmac_sha256, random_bytes
from hush.storage.base import TxnOp

__all__ = ["AppRoleStore"]

_SALT = "salt"
_ROLE = "role/"
_ROLE_ID = "role_id/"
_SECRET = "secret_id/"
_ACCESSOR = "accessor/"
_BATCH = 128


class AppRoleStore:
    """Roles, the role-id index, secret IDs and their accessors for one AppRole mount."""

    def __init__(self, storage: LogicalStorage) -> None:
        self._storage = storage
        self._salt: bytes | None = None

    @property
    def lock(self) -> AbstractAsyncContextManager[None]:
        """The mount's read-modify-write lock (``async with store.lock:``), store-wide."""
        return self._storage.exclusive("lock")

    async def load_salt(self) -> None:
        """Read (or create, the first time) the mount's index salt."""
        blob = await self._storage.get(_SALT)
        if blob is None:
            blob = random_bytes(32)
            await self._storage.put(_SALT, blob)
        self._salt = blob

    def _index(self, value: str) -> str:
        if self._salt is None:
            raise RuntimeError("AppRoleStore used before load_salt()")
        return hmac_sha256(self._salt, value.encode()).hex()

    @staticmethod
    def _hmac(role: Role, value: bytes) -> str:
        return hmac_sha256(bytes.fromhex(role.hmac_key), value).hex()

    def _secret_key(self, role: Role, secret_hmac: str) -> str:
        return f"{_SECRET}{self._hmac(role, role.name.encode())}/{secret_hmac}"

    # -- roles --------------------------------------------------------------------------------

    async def role(self, name: str) -> Role | None:
        """The role ``name`` (names are lowercase)."""
        blob = await self._storage.get(_ROLE + name.lower())
        return Role.from_bytes(blob) if blob is not None else None

    async def role_names(self) -> list[str]:
        """Every role name, sorted."""
        return sorted(await self._storage.list(_ROLE))

    async def role_by_id(self, role_id: str) -> Role | None:
        """The role a role ID belongs to."""
        blob = await self._storage.get(_ROLE_ID + self._index(role_id))
        if blob is None:
            return None
        return await self.role(orjson.loads(blob)["name"])

    async def write_role(
        self, name: str, change: Callable[[Role | None], Role], *, must_exist: bool = False
    ) -> Role | None:
        """Apply ``change`` to the current role under the lock; persist role and index.

        Returns ``None`` (and changes nothing) when ``must_exist`` and there is no such role.
        Raises :class:`InvalidRequest` if the result has no constraint or takes another role's
        role ID.
        """
        async with self.lock:
            current = await self.role(name)
            if current is None and must_exist:
                return None
            updated = change(current)
            if not updated.has_constraint():
                raise InvalidRequest("at least one constraint should be enabled on the role")
            ops = [TxnOp("put", _ROLE + updated.name, updated.to_bytes())]
            owner = await self._storage.get(_ROLE_ID + self._index(updated.role_id))
            if owner is not None and orjson.loads(owner)["name"] != updated.name:
                raise InvalidRequest("role_id already in use")
            if current is not None and current.role_id != updated.role_id:
                ops.append(TxnOp("delete", _ROLE_ID + self._index(current.role_id)))
            if owner is None:
                index = orjson.dumps({"name": updated.name})
                ops.append(TxnOp("put", _ROLE_ID + self._index(updated.role_id), index))
            await self._storage.transaction(ops)
            return updated

    async def delete_role(self, role: Role) -> None:
        """Delete a role, its role-id index and every secret ID issued for it."""
        folder = f"{_SECRET}{self._hmac(role, role.name.encode())}/"
        for batch in _batches(await self._storage.list(folder)):
            async with self.lock:
                ops: list[TxnOp] = []
                for secret_hmac in batch:
                    entry = await self._secret(folder + secret_hmac)
                    if entry is not None:
                        ops.append(TxnOp("delete", _ACCESSOR + self._index(entry.accessor)))
                    ops.append(TxnOp("delete", folder + secret_hmac))
                await self._storage.transaction(ops)
        async with self.lock:
            await self._storage.transaction(
                [
                    TxnOp("delete", _ROLE_ID + self._index(role.role_id)),
                    TxnOp("delete", _ROLE + role.name),
                ]
            )

    # -- secret IDs ---------------------------------------------------------------------------

    async def _secret(self, key: str) -> SecretIdEntry | None:
        blob = await self._storage.get(key)
        return SecretIdEntry.from_bytes(blob) if blob is not None else None

    def _deletion(self, key: str, entry: SecretIdEntry) -> list[TxnOp]:
        return [TxnOp("delete", key), TxnOp("delete", _ACCESSOR + self._index(entry.accessor))]

    async def register(self, role: Role, secret_id: SecretBytes, entry: SecretIdEntry) -> None:
        """Store a new secret ID (its HMAC) and its accessor index in one transaction."""
        secret_hmac = self._hmac(role, secret_id.reveal())
        key = self._secret_key(role, secret_hmac)
        accessor = {
            "secret_id_hmac": secret_hmac,
            "role_name_hmac": self._hmac(role, role.name.encode()),
        }
        async with self.lock:
            if await self._storage.get(key) is not None:
                raise InvalidRequest("SecretID is already registered")
            await self._storage.transaction(
                [
                    TxnOp("put", _ACCESSOR + self._index(entry.accessor), orjson.dumps(accessor)),
                    TxnOp("put", key, entry.to_bytes()),
                ]
            )

    async def lookup(self, role: Role, secret_id: SecretBytes) -> SecretIdEntry | None:
        """The entry of a secret ID of ``role`` (``None`` if unknown)."""
        return await self._secret(self._secret_key(role, self._hmac(role, secret_id.reveal())))

    async def _by_accessor(self, role: Role, accessor: str) -> str | None:
        blob = await self._storage.get(_ACCESSOR + self._index(accessor))
        if blob is None:
            return None
        raw: dict[str, Any] = orjson.loads(blob)
        if not constant_time_equal(raw["role_name_hmac"], self._hmac(role, role.name.encode())):
            return None  # an accessor of another role is not this role's business
        return self._secret_key(role, raw["secret_id_hmac"])

    async def lookup_accessor(self, role: Role, accessor: str) -> SecretIdEntry | None:
        """The entry of the secret ID behind ``accessor``, if it belongs to ``role``."""
        key = await self._by_accessor(role, accessor)
        return await self._secret(key) if key is not None else None

    async def destroy(self, role: Role, secret_id: SecretBytes) -> bool:
        """Delete a secret ID and its accessor; whether there was one."""
        key = self._secret_key(role, self._hmac(role, secret_id.reveal()))
        return await self._destroy_key(key)

    async def destroy_accessor(self, role: Role, accessor: str) -> bool:
        """Delete the secret ID behind ``accessor``; whether there was one."""
        key = await self._by_accessor(role, accessor)
        return key is not None and await self._destroy_key(key)

    async def _destroy_key(self, key: str) -> bool:
        async with self.lock:
            entry = await self._secret(key)
            if entry is None:
                return False
            await self._storage.transaction(self._deletion(key, entry))
            return True

    async def accessors(self, role: Role) -> list[str]:
        """The accessors of every secret ID of ``role``, sorted."""
        folder = f"{_SECRET}{self._hmac(role, role.name.encode())}/"
        found: list[str] = []
        for secret_hmac in await self._storage.list(folder):
            entry = await self._secret(folder + secret_hmac)
            if entry is not None:
                found.append(entry.accessor)
        return sorted(found)

    async def consume(
        self,
        role: Role,
        secret_id: SecretBytes,
        now: float,
        check: Callable[[SecretIdEntry], None],
    ) -> SecretIdEntry | None:
        """Spend one use of a secret ID at login; ``None`` if it is unknown or expired.

        ``check`` runs on a live entry before anything changes (address bindings) and may
        raise to refuse the login without spending a use. A last use deletes the entry and
        its accessor in one transaction; otherwise the count goes down by one.
        """
        key = self._secret_key(role, self._hmac(role, secret_id.reveal()))
        async with self.lock:
            entry = await self._secret(key)
            if entry is None:
                return None
            if entry.expired(now):
                await self._storage.transaction(self._deletion(key, entry))
                return None
            check(entry)
            if entry.num_uses == 1:
                await self._storage.transaction(self._deletion(key, entry))
            elif entry.num_uses > 1:
                spent = replace(entry, num_uses=entry.num_uses - 1, last_updated_time=now)
                await self._storage.transaction([TxnOp("put", key, spent.to_bytes())])
            return entry

    async def tidy(self, now: float) -> int:
        """Delete expired secret IDs and dangling accessors, in batches; returns how many."""
        removed = 0
        for folder in await self._storage.list(_SECRET):
            prefix = _SECRET + folder
            for batch in _batches(await self._storage.list(prefix)):
                async with self.lock:
                    ops: list[TxnOp] = []
                    for secret_hmac in batch:
                        entry = await self._secret(prefix + secret_hmac)
                        if entry is not None and entry.expired(now):
                            ops += self._deletion(prefix + secret_hmac, entry)
                    if ops:
                        await self._storage.transaction(ops)
                        removed += len(ops) // 2
        for batch in _batches(await self._storage.list(_ACCESSOR)):
            async with self.lock:
                ops = []
                for name in batch:
                    blob = await self._storage.get(_ACCESSOR + name)
                    if blob is None:
                        continue
                    raw = orjson.loads(blob)
                    secret_key = f"{_SECRET}{raw['role_name_hmac']}/{raw['secret_id_hmac']}"
                    if await self._storage.get(secret_key) is None:
                        ops.append(TxnOp("delete", _ACCESSOR + name))
                if ops:
                    await self._storage.transaction(ops)
        return removed


def _batches(items: list[str]) -> list[list[str]]:
    return [items[start : start + _BATCH] for start in range(0, len(items), _BATCH)]
