"""Where transit keys live: ``policy/<name>`` in the mount's (barrier-encrypted) storage view.

Parsed keys are cached per process, but every use re-reads the stored bytes (one small read) and
reuses the parsed key only while they are unchanged: a rotation, configuration change or deletion
made by another node or worker process applies to the very next request here. A per-key
store-wide lock (:meth:`Storage.exclusive`) serialises read-modify-write changes (rotate,
configure, trim) across nodes the way Vault's lock manager does within one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import orjson

from hush.barrier.view import LogicalStorage
from hush.core.errors import InvalidRequest
from hush.engines.transit.keys import KeyPolicy, KeyType, KeyVersion

__all__ = ["POLICY_PREFIX", "KeyStore", "generate_version"]

POLICY_PREFIX = "policy/"
_CONFIG_PREFIX = "config/"


async def generate_version(key_type: KeyType, key_size: int = 0) -> KeyVersion:
    """A new random key version; RSA generation runs in a thread so the server keeps serving."""
    if key_type.is_rsa:
        return await asyncio.to_thread(KeyVersion.generate, key_type, key_size)
    return KeyVersion.generate(key_type, key_size)


class KeyStore:
    """Loads, caches, changes and deletes the named keys of one transit mount."""

    def __init__(self, storage: LogicalStorage) -> None:
        self._storage = storage
        # name -> (stored bytes, parsed key): parsing is the cost worth saving, not the read.
        self._cache: dict[str, tuple[bytes, KeyPolicy]] = {}

    def lock(self, name: str) -> AbstractAsyncContextManager[None]:
        """The store-wide lock that serialises changes to key ``name``."""
        return self._storage.exclusive("lock/" + name)

    async def get(self, name: str) -> KeyPolicy | None:
        """The key ``name`` as stored now, or ``None``."""
        blob = await self._storage.get(POLICY_PREFIX + name)
        if blob is None:
            self._cache.pop(name, None)
            return None
        cached = self._cache.get(name)
        if cached is not None and cached[0] == blob:
            return cached[1]
        policy = KeyPolicy.from_bytes(blob)
        self._cache[name] = (blob, policy)
        return policy

    async def require(self, name: str, missing: str = "encryption key not found") -> KeyPolicy:
        """The key ``name``, or a 400 with Vault's ``missing`` text."""
        policy = await self.get(name)
        if policy is None:
            raise InvalidRequest(missing)
        return policy

    async def put(self, policy: KeyPolicy) -> None:
        """Persist ``policy`` (callers hold its lock)."""
        blob = policy.to_bytes()
        await self._storage.put(POLICY_PREFIX + policy.name, blob)
        self._cache[policy.name] = (blob, policy)

    async def update(
        self,
        name: str,
        change: Callable[[KeyPolicy], KeyPolicy],
        missing: str = "encryption key not found",
    ) -> KeyPolicy:
        """Apply ``change`` to the current key under its lock and persist the result."""
        async with self.lock(name):
            updated = change(await self.require(name, missing))
            await self.put(updated)
            return updated

    async def delete(self, name: str) -> None:
        """Remove key ``name`` and every version of it."""
        await self._storage.delete(POLICY_PREFIX + name)
        self._cache.pop(name, None)

    async def names(self) -> list[str]:
        """Every key name, sorted."""
        return sorted(await self._storage.list(POLICY_PREFIX))

    async def config(self, name: str) -> dict[str, Any]:
        """A small engine setting document (``cache``, ``keys``); empty when never written."""
        blob = await self._storage.get(_CONFIG_PREFIX + name)
        return dict(orjson.loads(blob)) if blob is not None else {}

    async def put_config(self, name: str, values: dict[str, Any]) -> None:
        """Store an engine setting document."""
        await self._storage.put(_CONFIG_PREFIX + name, orjson.dumps(values))

    def forget(self) -> None:
        """Drop the cache (on cleanup, so key material does not outlive the mount)."""
        self._cache.clear()

    def forget_one(self, name: str) -> None:
        """Drop one key from the cache (after it was written or deleted behind the cache)."""
        self._cache.pop(name, None)
