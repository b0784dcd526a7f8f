"""The physical storage interface: opaque bytes under string keys, no crypto.

Keys are ``/``-separated paths (``core/keyring``, ``logical/<uuid>/foo/bar``). Values are opaque
bytes (ciphertext, once the barrier is above). Every backend implements the same contract, checked
by ``tests/contract/test_storage_contract.py``:

* ``list(prefix)`` has Vault's semantics: only the immediate children of ``prefix`` (which is ``""``
  or ends with ``/``), sub-folders returned once with a trailing ``/``, sorted; it never loads the
  whole subtree when a folder has deep descendants.
* ``transaction(ops)`` applies every operation or none.
* The due-time index (``schedule``/``unschedule``/``claim_due``) lets lease expiry and rotation
  find due work without loading everything: ``claim_due(now, limit, hold)`` returns up to
  ``limit`` entries with ``due_at <= now`` (earliest first) and pushes each one's ``due_at`` to
  ``now + hold``, so a claimer that dies lets the work come due again; the claimer calls
  ``unschedule`` when done. ``prefix`` limits the claim to keys starting with it, so
  independent claimers (lease expiry ``lease/``, rotation) never push each other's work back.
* ``scan``/``scan_due``/``count``/``replace_all`` walk or replace the whole store in key order,
  in bounded batches; storage migration and snapshots use them.
"""

from __future__ import annotations

import abc
import builtins
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Literal

from hush.storage.locks import HeldLock, LocalLocks

__all__ = [
    "DueEntry",
    "HeldLock",
    "InvalidKeyError",
    "Storage",
    "StorageError",
    "TxnOp",
    "child_entry",
    "prefix_upper_bound",
    "validate_key",
    "validate_ops",
    "validate_prefix",
    "walk_keys",
]

MAX_KEY_LENGTH = 2048


class StorageError(Exception):
    """The backend could not complete an operation (unreachable, I/O error).

    Its message never carries values or connection strings.
    """


@dataclass(frozen=True, slots=True)
class TxnOp:
    """One operation inside :meth:`Storage.transaction`."""

    op: Literal["put", "delete"]
    key: str
    value: bytes | None = None


@dataclass(frozen=True, slots=True)
class DueEntry:
    """An entry of the due-time index returned by :meth:`Storage.claim_due`."""

    key: str
    due_at: float


class InvalidKeyError(ValueError):
    """A key or list prefix no backend can store (too long, NUL); callers turn it into a 400."""


def validate_key(key: str) -> None:
    """Reject keys no backend should store: empty, too long, NUL, or a trailing ``/``."""
    if not key or len(key) > MAX_KEY_LENGTH or "\x00" in key or key.endswith("/"):
        raise InvalidKeyError("invalid storage key")


def validate_prefix(prefix: str) -> None:
    """A list prefix is ``""`` or ends with ``/``."""
    if prefix and not prefix.endswith("/"):
        raise ValueError("list prefix must be empty or end with '/'")
    if "\x00" in prefix or len(prefix) > MAX_KEY_LENGTH:
        raise InvalidKeyError("invalid list prefix")


def prefix_upper_bound(prefix: str) -> str | None:
    """The smallest string greater than every string starting with ``prefix`` (``None``: none)."""
    while prefix:
        last = ord(prefix[-1])
        if last < 0x10FFFF:
            return prefix[:-1] + chr(last + 1)
        prefix = prefix[:-1]
    return None


def child_entry(prefix: str, key: str) -> str:
    """What ``key`` shows as in ``list(prefix)``: its next name, with a ``/`` if it is a folder."""
    rest = key[len(prefix) :]
    slash = rest.find("/")
    return rest if slash < 0 else rest[: slash + 1]


async def walk_keys(
    list_children: Callable[[str], Awaitable[Sequence[str]]], prefix: str
) -> AsyncIterator[str]:
    """Every key below the folder ``prefix``, depth first, listing one folder at a time.

    ``list_children`` has ``list``'s semantics (immediate children, sub-folders ending in ``/``),
    so a walk never loads more than one folder's listing at once.
    """
    pending = [prefix]
    while pending:
        folder = pending.pop()
        for child in await list_children(folder):
            if child.endswith("/"):
                pending.append(folder + child)
            else:
                yield folder + child


def validate_ops(ops: Sequence[TxnOp]) -> None:
    """Check every operation of a transaction up front, so a bad one means none is applied."""
    for op in ops:
        if op.op == "put":
            if not isinstance(op.value, bytes):
                raise ValueError("transaction put needs a bytes value")
        elif op.op != "delete":
            raise ValueError("transaction operation must be 'put' or 'delete'")
        validate_key(op.key)


class Storage(abc.ABC):
    """A physical backend. All methods are coroutines; implementations never block the loop long."""

    name: str = "abstract"
    _local_locks: LocalLocks | None = None

    async def open(self) -> None:  # noqa: B027 - optional hook
        """Connect, create schema if needed. Called once before use."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections and threads."""

    @abc.abstractmethod
    async def get(self, key: str) -> bytes | None:
        """Return the value under ``key`` or ``None``."""

    @abc.abstractmethod
    async def put(self, key: str, value: bytes) -> None:
        """Store ``value`` under ``key`` durably before returning."""

    @abc.abstractmethod
    async def delete(self, key: str) -> None:
        """Remove ``key``; deleting a missing key is not an error."""

    @abc.abstractmethod
    async def list(self, prefix: str) -> list[str]:
        """Immediate children of ``prefix``, folders with a trailing ``/``, sorted."""

    @abc.abstractmethod
    async def transaction(self, ops: Sequence[TxnOp]) -> None:
        """Apply all of ``ops`` atomically and durably, in order."""

    @abc.abstractmethod
    async def schedule(self, key: str, due_at: float) -> None:
        """Insert or move ``key`` in the due-time index (``due_at`` in Unix seconds)."""

    @abc.abstractmethod
    async def unschedule(self, key: str) -> None:
        """Remove ``key`` from the due-time index; missing is not an error."""

    async def unschedule_many(self, keys: Sequence[str]) -> None:
        """Remove several keys from the due-time index (backends override with one statement)."""
        for key in keys:
            await self.unschedule(key)

    @abc.abstractmethod
    async def claim_due(
        self, now: float, limit: int, hold: float = 30.0, *, prefix: str = ""
    ) -> builtins.list[DueEntry]:
        """Claim up to ``limit`` entries due at ``now``; their ``due_at`` becomes ``now + hold``.

        Only keys starting with ``prefix`` are claimed (all keys when it is empty).
        """

    async def get_many(self, keys: Sequence[str]) -> builtins.list[bytes | None]:
        """The values under ``keys``, in order (``None`` where absent); one round trip where the
        backend can (the request pipeline reads the authorisation epoch and the token together)."""
        return [await self.get(key) for key in keys]

    def exclusive(self, name: str) -> AbstractAsyncContextManager[None]:
        """A critical section on ``name`` that excludes every process sharing this store.

        The default covers one process only (right for in-memory storage); shared backends
        override it. A holder may take another name (the mount table, then a new mount's
        marker), always in the same order, or two nodes could wait for each other; the same name
        twice waits for ever.
        """
        return self._locals().exclusive(name)

    async def try_hold(self, name: str) -> HeldLock | None:
        """Take the long-lived lock ``name`` if nobody holds it; ``None`` if someone does."""
        return self._locals().try_hold(name)

    def _locals(self) -> LocalLocks:
        if self._local_locks is None:
            self._local_locks = LocalLocks()
        return self._local_locks

    # -- whole-store access (storage migration, snapshots) ------------------------------------

    async def scan(self, after: str, limit: int) -> builtins.list[tuple[str, bytes]]:
        """Up to ``limit`` entries whose keys sort after ``after`` (``""``: from the start).

        Keys are in code point order (= UTF-8 byte order), the same on every backend.
        """
        raise NotImplementedError(f"{self.name} storage cannot be scanned")

    async def scan_due(self, after: str, limit: int) -> builtins.list[DueEntry]:
        """Up to ``limit`` due-time index entries whose keys sort after ``after``."""
        raise NotImplementedError(f"{self.name} storage cannot be scanned")

    async def count(self) -> int:
        """How many entries (values, not due-time entries) the store holds."""
        raise NotImplementedError(f"{self.name} storage cannot count")

    async def dump(self) -> tuple[builtins.list[tuple[str, bytes]], builtins.list[DueEntry]]:
        """Every entry and due-time entry; backends that can make it one consistent view do.

        This default pages through :meth:`scan`; a write racing with it may or may not show.
        """
        entries: builtins.list[tuple[str, bytes]] = []
        while batch := await self.scan(entries[-1][0] if entries else "", 5000):
            entries += batch
        due: builtins.list[DueEntry] = []
        while due_batch := await self.scan_due(due[-1].key if due else "", 5000):
            due += due_batch
        return entries, due

    async def replace_all(
        self, entries: Sequence[tuple[str, bytes]], due: Sequence[DueEntry]
    ) -> None:
        """Atomically make the store hold exactly ``entries`` and ``due`` (snapshot restore)."""
        raise NotImplementedError(f"{self.name} storage cannot be replaced")
