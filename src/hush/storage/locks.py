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


class _NamedLock:
    """One name's asyncio lock and how many tasks hold or wait for it."""

    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0


class LocalLocks:
    """Process-local locks by name: the in-process half of every :meth:`Storage.exclusive`.

    One lock per *name*, not per stripe: a task holding one name may take another (the mount
    table, then a new KV v2 mount's upgrade marker) without waiting for itself, as it did
    when the two names happened to share one of 1,024 stripes (a hang about once in a thousand
    KV v2 mounts). A name's lock is dropped when nobody holds or waits for it.
    """

    def __init__(self) -> None:
        self._locks: dict[str, _NamedLock] = {}
        self._held: set[str] = set()

    @asynccontextmanager
    async def exclusive(self, name: str) -> AsyncIterator[None]:
        """Hold ``name`` for the duration of the block."""
        entry = self._locks.get(name)
        if entry is None:
            entry = self._locks[name] = _NamedLock()
        entry.users += 1
        try:
            async with entry.lock:
                yield
        finally:
            entry.users -= 1
            if entry.users == 0:
                del self._locks[name]

    def size(self) -> int:
        """How many names have a lock now (held or awaited)."""
        return len(self._locks)

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
