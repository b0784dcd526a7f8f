"""Where KV v2 keeps things in its mount's storage view, and the in-place upgrade from KV v1.

Layout (keys relative to the mount's view; every v2 key starts with ``/``, so its first path
segment is empty)::

    /config                   the mount's settings (MountConfig JSON)
    /upgraded                 marker: the v1 → v2 upgrade has run (JSON: time, secrets moved)
    /meta/<path>              one secret's KeyMetadata JSON; listing /meta/<folder>/ lists secrets
    /versions/<path>/<N>      the data object written as version N (JSON)

Why this cannot collide:

* **With v1 secrets.** KV v1 stores each secret's JSON object directly at ``<path>``, and both KV
  versions only accept paths without empty, ``.`` or ``..`` segments
  (:func:`hush.engines.kv.common.secret_path`). So no v1 key starts with ``/``: the v2 keys and the
  v1 keys are disjoint sets, whatever the secrets are called, and at the view's root the v2 data
  is exactly the one child ``/`` of ``list("")``. The upgrade therefore walks the view, skips that
  child, and everything else it finds is a v1 secret not yet moved.
* **Between secrets.** ``/meta/<path>`` is one key per path. In ``/versions/<path>/<N>`` the
  version number has no ``/``, so the key splits at its last ``/`` into exactly one (path, N).

Every change that touches more than one key (a new version and its metadata, pruning, destroy,
metadata delete, each upgrade batch) is one storage transaction, so metadata never names a version
whose data is missing and a crash leaves either the old or the new state.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import orjson

from hush.barrier.view import LogicalStorage
from hush.engines.kv.v2_model import KeyMetadata, MountConfig, rfc3339_nano
from hush.storage.base import TxnOp

__all__ = ["UPGRADE_BATCH", "V2Store", "upgrade_from_v1"]

CONFIG_KEY = "/config"
UPGRADE_KEY = "/upgraded"
META_PREFIX = "/meta/"
VERSIONS_PREFIX = "/versions/"
V2_ROOT_CHILD = "/"  # how the whole v2 namespace shows in list("")
UPGRADE_BATCH = 64  # secrets moved per transaction (three operations each)

log = logging.getLogger("hush.engines.kv")


def meta_key(path: str) -> str:
    """The storage key of ``path``'s metadata."""
    return META_PREFIX + path


def version_key(path: str, number: int) -> str:
    """The storage key of version ``number`` of ``path``."""
    return f"{VERSIONS_PREFIX}{path}/{number}"


class V2Store:
    """Typed reads of the layout above, and the transaction operations that change it."""

    def __init__(self, storage: LogicalStorage) -> None:
        self.storage = storage

    async def config(self) -> MountConfig:
        """The mount's settings (defaults if never configured)."""
        return MountConfig.from_json(await self.storage.get(CONFIG_KEY))

    async def save_config(self, config: MountConfig) -> None:
        """Replace the mount's settings."""
        await self.storage.put(CONFIG_KEY, config.to_json())

    async def has_metadata(self, path: str) -> bool:
        """Whether ``path`` exists as a secret (the create/update existence check)."""
        return await self.storage.get(meta_key(path)) is not None

    async def metadata(self, path: str) -> KeyMetadata | None:
        """``path``'s metadata, or ``None`` if there is no such secret."""
        blob = await self.storage.get(meta_key(path))
        return None if blob is None else KeyMetadata.from_json(blob)

    async def version_data(self, path: str, number: int) -> dict[str, Any] | None:
        """The data object of one version, or ``None`` if it is not stored (pruned, destroyed)."""
        blob = await self.storage.get(version_key(path, number))
        if blob is None:
            return None
        data: dict[str, Any] = orjson.loads(blob)
        return data

    async def list(self, folder: str) -> list[str]:
        """Secrets and sub-folders directly under ``folder`` (``""`` or ending with ``/``)."""
        return await self.storage.list(META_PREFIX + folder)

    async def save_metadata(self, path: str, meta: KeyMetadata) -> None:
        """Write metadata alone (soft delete, undelete, metadata settings)."""
        await self.storage.put(meta_key(path), meta.to_json())

    async def commit(self, ops: Sequence[TxnOp]) -> None:
        """Apply several changes atomically."""
        await self.storage.transaction(ops)

    @staticmethod
    def put_metadata(path: str, meta: KeyMetadata) -> TxnOp:
        """Operation: store ``path``'s metadata."""
        return TxnOp("put", meta_key(path), meta.to_json())

    @staticmethod
    def delete_metadata(path: str) -> TxnOp:
        """Operation: remove ``path``'s metadata."""
        return TxnOp("delete", meta_key(path))

    @staticmethod
    def put_version(path: str, number: int, data: dict[str, Any]) -> TxnOp:
        """Operation: store the data of version ``number``."""
        return TxnOp("put", version_key(path, number), orjson.dumps(data))

    @staticmethod
    def delete_version(path: str, number: int) -> TxnOp:
        """Operation: remove the data of version ``number`` (missing is fine)."""
        return TxnOp("delete", version_key(path, number))


async def _v1_keys(storage: LogicalStorage) -> AsyncIterator[str]:
    pending = [""]
    while pending:
        folder = pending.pop()
        for child in await storage.list(folder):
            if not folder and child == V2_ROOT_CHILD:
                continue  # the v2 namespace; no v1 path has an empty first segment
            if child.endswith("/"):
                pending.append(folder + child)
            else:
                yield folder + child


async def _move_batch(storage: LogicalStorage, keys: Sequence[str]) -> int:
    now = time.time_ns()
    ops: list[TxnOp] = []
    for key in keys:
        blob = await storage.get(key)
        if blob is None:
            continue
        if not isinstance(orjson.loads(blob), dict):
            # KV v1 only ever writes JSON objects; anything else is damage, not data to guess at.
            raise ValueError(f'kv upgrade: the value at "{key}" is not a JSON object')
        meta = KeyMetadata()
        meta.add_version(now, MountConfig())
        # Moving (not copying) in one transaction makes the upgrade resumable: after a crash the
        # keys still outside the v2 namespace are exactly the secrets not yet moved.
        ops += [
            V2Store.put_metadata(key, meta),
            TxnOp("put", version_key(key, 1), blob),
            TxnOp("delete", key),
        ]
    if ops:
        await storage.transaction(ops)
    return len(ops) // 3


async def upgrade_from_v1(storage: LogicalStorage, *, batch_size: int = UPGRADE_BATCH) -> int:
    """Turn every KV v1 secret in ``storage`` into version 1 of a v2 secret; runs once.

    Returns how many secrets were moved (0 when the upgrade had already run).
    """
    # Every node (and worker) restarts the mount when the upgrade is requested; one moves the
    # data, the others wait here and then find the marker.
    async with storage.exclusive(UPGRADE_KEY):
        return await _upgrade_once(storage, batch_size)


async def _upgrade_once(storage: LogicalStorage, batch_size: int) -> int:
    if await storage.get(UPGRADE_KEY) is not None:
        return 0
    moved = 0
    batch: list[str] = []
    async for key in _v1_keys(storage):
        batch.append(key)
        if len(batch) >= batch_size:
            moved += await _move_batch(storage, batch)
            batch = []
    moved += await _move_batch(storage, batch)
    marker = {"upgraded_at": rfc3339_nano(time.time_ns()), "secrets": moved}
    await storage.put(UPGRADE_KEY, orjson.dumps(marker))
    if moved:
        log.info("kv upgrade: moved %d version 1 secrets to version 2", moved)
    return moved
