"""Locks that span every process and node sharing one store.

Two kinds, both offered by every :class:`~hush.storage.base.Storage`:

* :meth:`Storage.exclusive` — a short critical section around a read-modify-write (KV v2 ``cas``,
  token use counts, the mount table, the keyring). On PostgreSQL it is a transaction-scoped
  advisory lock, so it covers every node; on SQLite a byte-range ``lockf`` on a side file, so it
  covers every worker process; in memory a process-local lock (there is only one process).
* :meth:`Storage.try_hold` — a long-lived lock held until released or the holder dies (the
  background-work lock). PostgreSQL: a session advisory lock on a dedicated connection (the
  server drops it when the connection goes, e.g. on ``kill -9``); SQLite: ``lockf`` on a side
  file (the kernel drops it when the process goes); memory: always granted to the one process.
"""

from __future__ import annotations

import abc
import asyncio
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

__all__ = ["HeldLock", "LocalHeldLock", "LocalLocks", "lock_slot"]

LOCK_STRIPES = 1024


def lock_slot(name: str) -> int:
    """A stable stripe number in ``[0, LOCK_STRIPES)`` for ``name`` (same in every process)."""
    return zlib.crc32(name.encode("utf-8")) % LOCK_STRIPES


class HeldLock(abc.ABC):
    """A long-lived lock returned by :meth:`Storage.try_hold`."""

    @abc.abstractmethod
    async def alive(self) -> bool:
        """Whether the lock is still held (``False`` once its connection or file is gone)."""

    @abc.abstractmethod
    async def release(self) -> None:
        """Give the lock up; safe to call twice."""


class LocalLocks:
    """Process-local striped locks: the in-process half of every :meth:`Storage.exclusive`."""

    def __init__(self) -> None:
        self._locks: dict[int, asyncio.Lock] = {}
        self._held: set[str] = set()

    def for_slot(self, slot: int) -> asyncio.Lock:
        """The asyncio lock of one stripe (created on first use)."""
        lock = self._locks.get(slot)
        if lock is None:
            lock = self._locks[slot] = asyncio.Lock()
        return lock

    @asynccontextmanager
    async def exclusive(self, name: str) -> AsyncIterator[None]:
        """Hold the stripe of ``name`` for the duration of the block."""
        async with self.for_slot(lock_slot(name)):
            yield

    def try_hold(self, name: str) -> HeldLock | None:
        """Take ``name`` unless this process already holds it."""
        if name in self._held:
            return None
        self._held.add(name)
        return LocalHeldLock(self._held, name)


class LocalHeldLock(HeldLock):
    """A long-lived lock that only this process can contend for."""

    def __init__(self, held: set[str], name: str) -> None:
        self._held = held
        self._name = name
        self._released = False

    async def alive(self) -> bool:
        """Held until released."""
        return not self._released

    async def release(self) -> None:
        """Let the name be taken again."""
        if not self._released:
            self._released = True
            self._held.discard(self._name)
