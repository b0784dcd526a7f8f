"""Where transit keys live: ``policy/<name>`` in the mount's (barrier-encrypted) storage view.

Hush serves a node from one process, so an in-memory cache of parsed policies stays coherent, and
a per-key :class:`asyncio.Lock` serialises read-modify-write changes (rotate, configure, trim)
the way Vault's lock manager does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
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
        self._cache: dict[str, KeyPolicy] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def lock(self, name: str) -> asyncio.Lock:
        """The lock that serialises changes to key ``name``."""
        return self._locks.setdefault(name, asyncio.Lock())

    async def get(self, name: str) -> KeyPolicy | None:
        """The key ``name``, or ``None``."""
        cached = self._cache.get(name)
        if cached is not None:
            return cached
        blob = await self._storage.get(POLICY_PREFIX + name)
        if blob is None:
            return None
        policy = KeyPolicy.from_bytes(blob)
        self._cache[name] = policy
        return policy

    async def require(self, name: str, missing: str = "encryption key not found") -> KeyPolicy:
        """The key ``name``, or a 400 with Vault's ``missing`` text."""
        policy = await self.get(name)
        if policy is None:
            raise InvalidRequest(missing)
        return policy

    async def put(self, policy: KeyPolicy) -> None:
        """Persist ``policy`` (callers hold its lock)."""
        await self._storage.put(POLICY_PREFIX + policy.name, policy.to_bytes())
        self._cache[policy.name] = policy

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
