"""Where the KMS layer keeps its records in the transit mount's storage view.

``kms/key/<id>`` holds a :class:`KmsKey` (the material is the transit key ``policy/<id>``), and
``kms/alias/<quoted name>`` the key id an alias points to (alias names contain ``/``, so they are
percent-quoted into one storage segment). A key and its transit material are written in one
transaction, so a failed CreateKey leaves neither.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Mapping

import orjson

from hush.barrier.view import LogicalStorage
from hush.engines.transit.keys import KeyPolicy
from hush.engines.transit.kms_errors import KeyNotFound, KeyUnavailable
from hush.engines.transit.kms_model import KmsKey, parse_key_reference
from hush.engines.transit.store import POLICY_PREFIX, KeyStore
from hush.storage.base import TxnOp

__all__ = ["KmsStore"]

_KEY_PREFIX = "kms/key/"
_ALIAS_PREFIX = "kms/alias/"


def _quote(alias: str) -> str:
    return urllib.parse.quote(alias, safe="")


class KmsStore:
    """KMS keys and aliases of one transit mount, next to the mount's :class:`KeyStore`."""

    def __init__(self, storage: LogicalStorage, keys: KeyStore) -> None:
        self._storage = storage
        self.keys = keys

    # ---- keys ---------------------------------------------------------------------------------

    async def get(self, key_id: str) -> KmsKey | None:
        """The KMS record of ``key_id``, or ``None``."""
        blob = await self._storage.get(_KEY_PREFIX + key_id)
        return KmsKey.from_bytes(blob) if blob is not None else None

    async def require(self, key_id: str) -> KmsKey:
        """The KMS record of ``key_id`` or ``NotFoundException``."""
        key = await self.get(key_id)
        if key is None:
            raise KeyNotFound(f"Key '{key_id[:80]}' does not exist")
        return key

    async def resolve(self, reference: str) -> KmsKey:
        """The key named by an id, key ARN, alias name or alias ARN."""
        kind, value = parse_key_reference(reference)
        if kind == "alias":
            target = await self.alias_target(value)
            if target is None:
                raise KeyNotFound(f"Alias {value[:256]} is not found.")
            return await self.require(target)
        if kind == "invalid":
            raise KeyNotFound(f"Invalid keyId '{reference[:256]}'")
        return await self.require(value)

    async def material(self, key: KmsKey) -> KeyPolicy:
        """The transit key ring of ``key`` (``KeyUnavailableException`` if it was deleted)."""
        policy = await self.keys.get(key.key_id)
        if policy is None:
            raise KeyUnavailable(f"{key.arn_suffix} is unavailable.")
        return policy

    async def create(self, key: KmsKey, policy: KeyPolicy) -> None:
        """Store a new key's record and its transit material atomically."""
        await self._storage.transaction(
            [
                TxnOp("put", POLICY_PREFIX + policy.name, policy.to_bytes()),
                TxnOp("put", _KEY_PREFIX + key.key_id, key.to_bytes()),
            ]
        )
        self.keys.forget_one(policy.name)

    async def change(
        self, key_id: str, change: Callable[[KmsKey], KmsKey], *, pending_ok: bool = False
    ) -> KmsKey:
        """Apply ``change`` to a key's record under its lock; a key pending deletion refuses
        (KMSInvalidStateException) unless ``pending_ok``."""
        async with self.keys.lock(key_id):
            key = await self.require(key_id)
            if not pending_ok:
                key.require_not_pending_deletion()
            updated = change(key)
            await self.put(updated)
            return updated

    async def put(self, key: KmsKey) -> None:
        """Persist a changed record (callers hold the transit key's lock)."""
        await self._storage.put(_KEY_PREFIX + key.key_id, key.to_bytes())

    async def destroy(self, key: KmsKey) -> None:
        """Delete a key whose deletion date passed: record, material and its aliases, at once."""
        ops = [
            TxnOp("delete", _KEY_PREFIX + key.key_id),
            TxnOp("delete", POLICY_PREFIX + key.key_id),
        ]
        ops += [
            TxnOp("delete", _ALIAS_PREFIX + _quote(name))
            for name, target in (await self.aliases()).items()
            if target == key.key_id
        ]
        await self._storage.transaction(ops)
        self.keys.forget_one(key.key_id)

    async def ids(self) -> list[str]:
        """Every KMS key id, sorted."""
        return sorted(await self._storage.list(_KEY_PREFIX))

    # ---- aliases ------------------------------------------------------------------------------

    async def alias_target(self, alias: str) -> str | None:
        """The key id ``alias`` points to, or ``None``."""
        blob = await self._storage.get(_ALIAS_PREFIX + _quote(alias))
        return str(orjson.loads(blob)["TargetKeyId"]) if blob is not None else None

    async def put_alias(self, alias: str, key_id: str) -> None:
        """Point ``alias`` at ``key_id``."""
        await self._storage.put(
            _ALIAS_PREFIX + _quote(alias), orjson.dumps({"TargetKeyId": key_id})
        )

    async def delete_alias(self, alias: str) -> None:
        """Remove ``alias``."""
        await self._storage.delete(_ALIAS_PREFIX + _quote(alias))

    async def aliases(self) -> Mapping[str, str]:
        """Every alias name and its target key id, sorted by name."""
        names = [urllib.parse.unquote(n) for n in await self._storage.list(_ALIAS_PREFIX)]
        result: dict[str, str] = {}
        for name in sorted(names):
            target = await self.alias_target(name)
            if target is not None:
                result[name] = target
        return result
