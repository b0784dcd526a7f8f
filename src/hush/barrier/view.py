"""Storage views: a backend sees only keys under its own prefix (Vault's ``BarrierView``)."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from hush.storage.base import TxnOp

__all__ = ["LogicalStorage", "StorageView"]


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

    async def clear(self) -> None:
        """Delete every key in the view (used when a mount is disabled)."""
        pending = [""]
        keys: list[str] = []
        while pending:
            folder = pending.pop()
            for child in await self.list(folder):
                if child.endswith("/"):
                    pending.append(folder + child)
                else:
                    keys.append(folder + child)
        for start in range(0, len(keys), 500):
            await self.transaction([TxnOp("delete", k) for k in keys[start : start + 500]])
