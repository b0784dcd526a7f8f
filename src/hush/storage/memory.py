"""An in-process storage backend for ``hush server -dev`` and tests; nothing survives a restart."""

from __future__ import annotations

import bisect
import builtins
from collections.abc import Sequence

from hush.storage.base import (
    DueEntry,
    Storage,
    TxnOp,
    validate_key,
    validate_ops,
    validate_prefix,
)

__all__ = ["MemoryStorage"]


def _entries(key: str) -> list[tuple[str, str]]:
    """``(folder, entry)`` per level of ``key``: ``a/b/c`` -> ``("", "a/"), ("a/", "b/"), ...``."""
    parts = key.split("/")
    pairs: list[tuple[str, str]] = []
    folder = ""
    for part in parts[:-1]:
        pairs.append((folder, part + "/"))
        folder += part + "/"
    pairs.append((folder, parts[-1]))
    return pairs


class MemoryStorage(Storage):
    """Dict-backed storage with the same contract as the durable backends.

    Listing keeps a per-folder index of children (with a count of keys below each sub-folder), so
    ``list`` costs O(children) however deep the tree is, like the SQL backends' index seeks.
    Every method runs without awaiting, so each call is atomic with respect to the event loop.
    """

    name = "inmem"

    def __init__(self) -> None:
        """Create an empty store."""
        self._values: dict[str, bytes] = {}
        self._children: dict[str, dict[str, int]] = {}
        self._due_at: dict[str, float] = {}
        # Sorted (due_at, key) pairs: the due-time index.
        self._due_order: list[tuple[float, str]] = []

    async def get(self, key: str) -> bytes | None:
        """Return the value under ``key`` or ``None``."""
        validate_key(key)
        return self._values.get(key)

    async def put(self, key: str, value: bytes) -> None:
        """Store ``value`` under ``key``."""
        validate_key(key)
        self._put(key, value)

    async def delete(self, key: str) -> None:
        """Remove ``key``; a missing key is not an error."""
        validate_key(key)
        self._delete(key)

    async def list(self, prefix: str) -> list[str]:
        """Immediate children of ``prefix``, folders with a trailing ``/``, sorted."""
        validate_prefix(prefix)
        return sorted(self._children.get(prefix, ()))

    async def transaction(self, ops: Sequence[TxnOp]) -> None:
        """Apply ``ops`` in order; validation happens first, so nothing can fail halfway."""
        validate_ops(ops)
        for op in ops:
            if op.op == "put":
                assert op.value is not None  # checked by validate_ops
                self._put(op.key, op.value)
            else:
                self._delete(op.key)

    async def schedule(self, key: str, due_at: float) -> None:
        """Insert or move ``key`` in the due-time index."""
        validate_key(key)
        self._unschedule(key)
        due_at = float(due_at)
        self._due_at[key] = due_at
        bisect.insort(self._due_order, (due_at, key))

    async def unschedule(self, key: str) -> None:
        """Remove ``key`` from the due-time index; missing is not an error."""
        validate_key(key)
        self._unschedule(key)

    async def unschedule_many(self, keys: Sequence[str]) -> None:
        """Remove several keys from the due-time index."""
        for key in keys:
            validate_key(key)
        for key in keys:
            self._unschedule(key)

    async def claim_due(
        self, now: float, limit: int, hold: float = 30.0, *, prefix: str = ""
    ) -> builtins.list[DueEntry]:
        """Claim up to ``limit`` due entries under ``prefix``; ``due_at`` becomes ``now + hold``."""
        claimed: builtins.list[DueEntry] = []
        for due_at, key in self._due_order:
            if len(claimed) >= limit or due_at > now:
                break
            if key.startswith(prefix):
                claimed.append(DueEntry(key=key, due_at=due_at))
        for entry in claimed:
            self._unschedule(entry.key)
        for entry in claimed:
            self._due_at[entry.key] = now + hold
            bisect.insort(self._due_order, (now + hold, entry.key))
        return claimed

    def _put(self, key: str, value: bytes) -> None:
        if key not in self._values:
            for folder, entry in _entries(key):
                children = self._children.setdefault(folder, {})
                children[entry] = children.get(entry, 0) + 1
        self._values[key] = bytes(value)

    def _delete(self, key: str) -> None:
        if self._values.pop(key, None) is None:
            return
        for folder, entry in _entries(key):
            children = self._children[folder]
            children[entry] -= 1
            if not children[entry]:
                del children[entry]
                if not children:
                    del self._children[folder]

    def _unschedule(self, key: str) -> None:
        due_at = self._due_at.pop(key, None)
        if due_at is not None:
            index = bisect.bisect_left(self._due_order, (due_at, key))
            del self._due_order[index]

    async def scan(self, after: str, limit: int) -> builtins.list[tuple[str, bytes]]:
        """Entries after ``after`` in key order (sorts the keys: fine for a test store)."""
        keys = sorted(k for k in self._values if k > after)[:limit]
        return [(k, self._values[k]) for k in keys]

    async def scan_due(self, after: str, limit: int) -> builtins.list[DueEntry]:
        """Due-time entries after ``after`` in key order."""
        keys = sorted(k for k in self._due_at if k > after)[:limit]
        return [DueEntry(k, self._due_at[k]) for k in keys]

    async def count(self) -> int:
        """Number of values."""
        return len(self._values)

    async def replace_all(
        self, entries: Sequence[tuple[str, bytes]], due: Sequence[DueEntry]
    ) -> None:
        """Swap the whole store (no await inside, so atomic for the event loop)."""
        for key, value in entries:
            validate_key(key)
            if not isinstance(value, bytes):
                raise ValueError("replace_all needs bytes values")
        for entry in due:
            validate_key(entry.key)
        self._values, self._children, self._due_at, self._due_order = {}, {}, {}, []
        for key, value in entries:
            self._put(key, value)
        for entry in due:
            self._due_at[entry.key] = entry.due_at
            bisect.insort(self._due_order, (entry.due_at, entry.key))
