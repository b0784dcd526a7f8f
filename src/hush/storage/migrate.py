"""Offline storage migration: copy every entry from one backend to another, verified, resumable.

What ``hush operator migrate`` runs (Vault's ``operator migrate``). Values are copied as they are
stored (ciphertext; the migration never needs a key), in key order, in batches. Each batch is
written in one destination transaction together with a checkpoint (the batch's last key), then
read back and compared byte for byte. A migration that stops for any reason (crash, ``kill -9``,
lost connection) resumes after the checkpoint when run again; ``start`` restarts from a given
key like Vault's ``-start``. A destination that already holds data and no checkpoint is refused.
The due-time index is copied last, then the checkpoint is removed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from hush.storage.base import Storage, TxnOp

__all__ = ["CHECKPOINT_KEY", "MigrationError", "MigrationResult", "migrate_storage"]

CHECKPOINT_KEY = "core/migration-checkpoint"
DEFAULT_BATCH = 1000

Progress = Callable[[int, int], None]


class MigrationError(Exception):
    """The migration cannot start or an entry did not verify; the message says which."""


@dataclass(frozen=True, slots=True)
class MigrationResult:
    """What a finished migration did."""

    copied: int
    due_entries: int
    total: int
    resumed_after: str | None
    seconds: float


async def migrate_storage(
    source: Storage,
    destination: Storage,
    *,
    start: str | None = None,
    progress: Progress | None = None,
    batch_size: int = DEFAULT_BATCH,
) -> MigrationResult:
    """Copy ``source`` into ``destination`` (both open); see the module docstring."""
    began = time.monotonic()
    total = await source.count()
    checkpoint = await destination.get(CHECKPOINT_KEY)
    resumed_after: str | None = None
    copied = 0
    if start is not None:
        after = start
        first = await source.get(start) if start else None
        if first is not None:
            await _copy_batch(destination, [(start, first)], "", start)
        resumed_after = start
    elif checkpoint is not None:
        after = checkpoint.decode("utf-8")
        resumed_after = after
    else:
        if await destination.scan("", 1) or await destination.scan_due("", 1):
            raise MigrationError(
                "the destination storage is not empty; migrate into an empty store, or give "
                "-start to copy from a key onwards"
            )
        after = ""
    if resumed_after is not None:
        copied += await _count_up_to(source, resumed_after)
    if progress is not None:
        progress(copied, total)
    while raw := await source.scan(after, batch_size):
        batch = [(key, value) for key, value in raw if key != CHECKPOINT_KEY]
        if batch:
            await _copy_batch(destination, batch, after, batch[-1][0])
            copied += len(batch)
        after = raw[-1][0]
        if progress is not None:
            progress(copied, total)
    due = await _copy_due(source, destination, batch_size)
    await destination.delete(CHECKPOINT_KEY)
    return MigrationResult(copied, due, total, resumed_after, time.monotonic() - began)


async def _copy_batch(
    destination: Storage, batch: list[tuple[str, bytes]], after: str, last: str
) -> None:
    ops = [TxnOp("put", key, value) for key, value in batch]
    ops.append(TxnOp("put", CHECKPOINT_KEY, last.encode("utf-8")))
    await destination.transaction(ops)
    expected = dict(batch)
    found: dict[str, bytes] = {}
    cursor = after  # every key of the batch sorts after it (scan is exclusive)
    while True:
        window = await destination.scan(cursor, len(batch) + 1)
        for key, value in window:
            if key in expected:
                found[key] = value
        if not window or window[-1][0] >= last:
            break
        cursor = window[-1][0]
    for key, value in expected.items():
        if found.get(key) != value:
            raise MigrationError(
                f"verification failed for key {key!r}: the destination does not hold the "
                "bytes just written; nothing after the last checkpoint is trusted"
            )


async def _count_up_to(source: Storage, last: str) -> int:
    """Entries with keys <= ``last`` (already copied when resuming), for the progress bar."""
    count, after = 0, ""
    while batch := await source.scan(after, 5000):
        below = [k for k, _ in batch if k <= last]
        count += len(below)
        if len(below) < len(batch):
            break
        after = batch[-1][0]
    return count


async def _copy_due(source: Storage, destination: Storage, batch_size: int) -> int:
    count, after = 0, ""
    while batch := await source.scan_due(after, batch_size):
        for entry in batch:
            await destination.schedule(entry.key, entry.due_at)
        copied = {e.key: e.due_at for e in await destination.scan_due(after, len(batch) + 1)}
        for entry in batch:
            if copied.get(entry.key) != entry.due_at:
                raise MigrationError(f"verification failed for due-time entry {entry.key!r}")
        count += len(batch)
        after = batch[-1].key
    return count
