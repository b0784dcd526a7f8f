"""Storage views: a backend sees only keys under its own prefix (Vault's ``BarrierView``)."""

from __future__ import annotations

import builtins
import math
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol, runtime_checkable

from hush.storage.base import DueEntry, TxnOp, walk_keys

__all__ = ["DueIndex", "LogicalStorage", "StorageView"]


class LogicalStorage(Protocol):
    """Plaintext key/value storage as engines see it (the barrier or a view of it)."""

    async def get(self, path: str) -> bytes | None:
        """Read a value."""

    async def put(self, path: str, value: bytes) -> None:
        """Write a value."""

    async def delete(self, path: str) -> None:
        """Delete a value."""

    async def list(self, prefix: str) -> list[str]:
        """Immediate children of a prefix."""

    async def transaction(self, ops: Sequence[TxnOp]) -> None:
        """Apply operations atomically."""

    def exclusive(self, name: str) -> AbstractAsyncContextManager[None]:
        """A critical section on ``name`` across every process and node sharing the store."""
        ...


@runtime_checkable
class DueIndex(Protocol):
    """The storage due-time index (the barrier passes it through; views scope it)."""

    async def schedule(self, key: str, due_at: float) -> None:
        """Insert or move ``key``."""

    async def unschedule(self, key: str) -> None:
        """Remove ``key``."""

    async def claim_due(
        self, now: float, limit: int, hold: float = 30.0, *, prefix: str = ""
    ) -> builtins.list[DueEntry]:
        """Claim due entries under ``prefix``."""


class StorageView:
    """A :class:`LogicalStorage` whose keys are all prefixed; no caller can name keys outside."""

    def __init__(self, parent: LogicalStorage, prefix: str) -> None:
        if not prefix.endswith("/"):
            raise ValueError("view prefix must end with '/'")
        self._parent = parent
        self._prefix = prefix

    @property
    def prefix(self) -> str:
        """The prefix every key of this view is stored under."""
        return self._prefix

    def sub_view(self, prefix: str) -> StorageView:
        """A view nested inside this one."""
        return StorageView(self._parent, self._prefix + prefix)

    async def get(self, path: str) -> bytes | None:
        """Read ``path`` inside the view."""
        return await self._parent.get(self._prefix + path)

    async def put(self, path: str, value: bytes) -> None:
        """Write ``path`` inside the view."""
        await self._parent.put(self._prefix + path, value)

    async def delete(self, path: str) -> None:
        """Delete ``path`` inside the view."""
        await self._parent.delete(self._prefix + path)

    async def list(self, prefix: str) -> list[str]:
        """List ``prefix`` inside the view."""
        return await self._parent.list(self._prefix + prefix)

    async def transaction(self, ops: Sequence[TxnOp]) -> None:
        """Apply ``ops`` (keys relative to the view) atomically."""
        await self._parent.transaction(
            [TxnOp(op.op, self._prefix + op.key, op.value) for op in ops]
        )

    def exclusive(self, name: str) -> AbstractAsyncContextManager[None]:
        """A store-wide critical section on ``name`` (scoped to this view)."""
        return self._parent.exclusive(self._prefix + name)

    # -- due-time index, scoped to the view: a backend sees and claims only its own entries ------

    def _due_index(self) -> DueIndex:
        if not isinstance(self._parent, DueIndex):
            raise TypeError("this storage has no due-time index")
        return self._parent

    async def schedule(self, key: str, due_at: float) -> None:
        """Insert or move ``key`` (inside the view) in the due-time index."""
        await self._due_index().schedule(self._prefix + key, due_at)

    async def unschedule(self, key: str) -> None:
        """Remove ``key`` (inside the view) from the due-time index."""
        await self._due_index().unschedule(self._prefix + key)

    async def claim_due(
        self, now: float, limit: int, hold: float = 30.0, *, prefix: str = ""
    ) -> builtins.list[DueEntry]:
        """Claim due entries of this view only; keys come back relative to the view."""
        claimed = await self._due_index().claim_due(now, limit, hold, prefix=self._prefix + prefix)
        return [DueEntry(e.key[len(self._prefix) :], e.due_at) for e in claimed]

    async def clear(self) -> None:
        """Delete every key in the view (used when a mount is disabled)."""
        keys = [key async for key in walk_keys(self.list, "")]
        for start in range(0, len(keys), 500):
            await self.transaction([TxnOp("delete", k) for k in keys[start : start + 500]])
        if isinstance(self._parent, DueIndex):
            # The view's due-time entries go too, or nobody would ever claim them again.
            while entries := await self.claim_due(math.inf, 500):
                for entry in entries:
                    await self.unschedule(entry.key)
