"""A single-node durable backend on one SQLite file (WAL mode, ``synchronous=FULL``).

Threading: every write runs on one dedicated writer connection inside a one-thread executor, so a
write's ``fsync`` never stalls the event loop and writes are serialised without SQLite's busy
retries. Reads run directly in the event-loop thread on a separate read-only connection: under WAL a
reader never waits for the writer and a point lookup or index seek takes microseconds, which is
cheaper than a hop through a thread pool.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import errno
import fcntl
import os
import random
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, TypeVar

from hush.storage.base import (
    DueEntry,
    HeldLock,
    Storage,
    StorageError,
    TxnOp,
    child_entry,
    prefix_upper_bound,
    validate_key,
    validate_ops,
    validate_prefix,
)
from hush.storage.locks import LOCK_STRIPES, lock_slot

__all__ = ["SQLiteStorage"]

_T = TypeVar("_T")

_SCHEMA = (
    # A rowid table (not WITHOUT ROWID) because values can be large; the primary-key index on
    # ``key`` is a covering index for listing, so listing never touches the values.
    "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS due (key TEXT PRIMARY KEY, due_at REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS due_by_time ON due (due_at, key)",
)

# Listing walks the key index with one seek per child instead of reading the subtree: after a
# leaf child it seeks to the next key, after a sub-folder ``p + c + '/'`` it seeks to
# ``p + c + '0'`` ('0' sorts right after '/'), skipping all of that folder's descendants. Each step
# returns the first key of the next child. TEXT uses the BINARY collation (UTF-8 byte order), which
# equals Python's code point order, so results come out in ``sorted`` order. ``{upper}`` bounds
# the scan to keys starting with the prefix; it is empty for the top level.
_LIST_SQL = """
WITH RECURSIVE step(k) AS (
  SELECT (SELECT key FROM kv WHERE key > :prefix {upper} ORDER BY key LIMIT 1)
  UNION ALL
  SELECT CASE WHEN instr(substr(k, :n + 1), '/') > 0
    THEN (SELECT key FROM kv
          WHERE key >= substr(k, 1, :n + instr(substr(k, :n + 1), '/') - 1) || '0' {upper}
          ORDER BY key LIMIT 1)
    ELSE (SELECT key FROM kv WHERE key > k {upper} ORDER BY key LIMIT 1)
  END
  FROM step WHERE k IS NOT NULL
)
SELECT k FROM step WHERE k IS NOT NULL
"""
_LIST_TOP = _LIST_SQL.format(upper="")
_LIST_UNDER = _LIST_SQL.format(upper="AND key < :upper")


class SQLiteStorage(Storage):
    """Durable storage in one SQLite file; an acknowledged write survives ``kill -9``."""

    name = "sqlite"

    def __init__(self, path: str) -> None:
        """Remember ``path``; nothing is opened until :meth:`open`."""
        self._path = path
        self._writer_thread: ThreadPoolExecutor | None = None
        self._writer: sqlite3.Connection | None = None
        self._reader: sqlite3.Connection | None = None
        # Worker processes sharing the file coordinate through byte-range locks on a side file:
        # bytes [0, LOCK_STRIPES) are critical sections, the ones after are long-lived locks.
        self._lock_fd: int | None = None
        #: How many critical sections of this process hold each stripe's byte (see exclusive).
        self._slot_users: dict[int, int] = {}

    async def open(self) -> None:
        """Create the file (mode 0600) and schema, and open the writer and reader connections."""
        self._writer_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hush-sqlite")
        try:
            await self._in_writer_thread(self._open_writer)
            # check_same_thread=False only so close() may run from another thread; reads themselves
            # happen on the event-loop thread.
            reader = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            self._reader = reader
            reader.execute("PRAGMA query_only = ON")
            reader.execute("PRAGMA busy_timeout = 1000")
            self._lock_fd = os.open(self._path + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        except (sqlite3.Error, OSError) as exc:
            await self.close()
            raise StorageError(f"sqlite storage: cannot open database ({exc})") from exc
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Close both connections and stop the writer thread; safe to call twice."""
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
        if self._writer_thread is not None:
            if self._writer is not None:
                await self._in_writer_thread(self._close_writer)
            self._writer_thread.shutdown(wait=True)
            self._writer_thread = None

    async def get(self, key: str) -> bytes | None:
        """Return the value under ``key`` or ``None``."""
        validate_key(key)
        row = self._read("get", "SELECT value FROM kv WHERE key = ?", (key,))
        return None if not row else bytes(row[0][0])

    async def put(self, key: str, value: bytes) -> None:
        """Store ``value`` under ``key``; returns after the commit is fsynced."""
        validate_key(key)
        await self._write("put", lambda db: _put(db, key, value))

    async def delete(self, key: str) -> None:
        """Remove ``key``; a missing key is not an error."""
        validate_key(key)
        await self._write("delete", lambda db: _delete(db, key))

    async def list(self, prefix: str) -> list[str]:
        """Immediate children of ``prefix``, folders with a trailing ``/``, sorted."""
        validate_prefix(prefix)
        params = {"prefix": prefix, "n": len(prefix), "upper": prefix[:-1] + "0"}
        rows = self._read("list", _LIST_UNDER if prefix else _LIST_TOP, params)
        return sorted(child_entry(prefix, str(row[0])) for row in rows)

    async def transaction(self, ops: Sequence[TxnOp]) -> None:
        """Apply ``ops`` in order inside one ``BEGIN IMMEDIATE`` ... ``COMMIT``."""
        validate_ops(ops)

        def apply(db: sqlite3.Connection) -> None:
            for op in ops:
                if op.op == "put":
                    assert op.value is not None  # checked by validate_ops
                    _put(db, op.key, op.value)
                else:
                    _delete(db, op.key)

        await self._write("transaction", apply)

    async def schedule(self, key: str, due_at: float) -> None:
        """Insert or move ``key`` in the due-time index."""
        validate_key(key)
        sql = (
            "INSERT INTO due (key, due_at) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET due_at = excluded.due_at"
        )
        await self._write("schedule", lambda db: db.execute(sql, (key, due_at)))

    async def unschedule(self, key: str) -> None:
        """Remove ``key`` from the due-time index; missing is not an error."""
        validate_key(key)
        sql = "DELETE FROM due WHERE key = ?"
        await self._write("unschedule", lambda db: db.execute(sql, (key,)))

    async def unschedule_many(self, keys: Sequence[str]) -> None:
        """Remove several keys from the due-time index in one write."""
        for key in keys:
            validate_key(key)
        rows = [(key,) for key in keys]
        if rows:
            sql = "DELETE FROM due WHERE key = ?"
            await self._write("unschedule", lambda db: db.executemany(sql, rows))

    async def claim_due(
        self, now: float, limit: int, hold: float = 30.0, *, prefix: str = ""
    ) -> builtins.list[DueEntry]:
        """Claim up to ``limit`` due entries under ``prefix``; ``due_at`` becomes ``now + hold``."""
        upper = prefix_upper_bound(prefix)
        # Two fixed statements (no string building): with and without an upper bound.
        sql = (
            "SELECT key, due_at FROM due WHERE due_at <= ? AND key >= ? AND key < ?"
            " ORDER BY due_at, key LIMIT ?"
            if upper is not None
            else "SELECT key, due_at FROM due WHERE due_at <= ? AND key >= ?"
            " ORDER BY due_at, key LIMIT ?"
        )
        bounds: tuple[str, ...] = (prefix,) if upper is None else (prefix, upper)

        def claim(db: sqlite3.Connection) -> builtins.list[DueEntry]:
            # Uses the due_by_time index: a range scan from the earliest entry, stopped by LIMIT.
            rows = db.execute(sql, (now, *bounds, max(limit, 0))).fetchall()
            db.executemany(
                "UPDATE due SET due_at = ? WHERE key = ?", [(now + hold, key) for key, _ in rows]
            )
            return [DueEntry(key=key, due_at=due_at) for key, due_at in rows]

        return await self._write("claim_due", claim)

    def exclusive(self, name: str) -> AbstractAsyncContextManager[None]:
        """A critical section on ``name`` shared by every process that opened this file."""
        return self._exclusive(name)

    @asynccontextmanager
    async def _exclusive(self, name: str) -> AsyncIterator[None]:
        slot = lock_slot(name)
        # lockf locks belong to the process: the asyncio lock of the name excludes this
        # process's own tasks, the byte-range lock of its stripe the other processes. Two names
        # of this process may share a stripe (held at once, or one inside the other): the byte
        # is locked by the first and unlocked by the last, or the inner one's unlock would
        # have left the outer one unprotected from the other processes.
        async with self._locals().exclusive(name):
            fd = self._require_lock_fd()
            if not self._slot_users.get(slot):
                await _lock_range(fd, slot)
            self._slot_users[slot] = self._slot_users.get(slot, 0) + 1
            try:
                yield
            finally:
                left = self._slot_users[slot] - 1
                if left:
                    self._slot_users[slot] = left
                else:
                    del self._slot_users[slot]
                    fcntl.lockf(fd, fcntl.LOCK_UN, 1, slot)

    async def try_hold(self, name: str) -> HeldLock | None:
        """A byte-range lock the kernel drops when this process exits (even on ``kill -9``)."""
        fd = self._require_lock_fd()
        offset = LOCK_STRIPES + lock_slot(name)
        local = self._locals().try_hold(name)
        if local is None:
            return None
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, offset)
        except OSError:
            await local.release()
            return None
        return _FileLock(fd, offset, local)

    def _require_lock_fd(self) -> int:
        if self._lock_fd is None:
            raise StorageError("sqlite storage is not open")
        return self._lock_fd

    async def scan(self, after: str, limit: int) -> builtins.list[tuple[str, bytes]]:
        """Entries after ``after`` in key order (BINARY collation: UTF-8 byte order)."""
        rows = self._read(
            "scan", "SELECT key, value FROM kv WHERE key > ? ORDER BY key LIMIT ?", (after, limit)
        )
        return [(str(key), bytes(value)) for key, value in rows]

    async def scan_due(self, after: str, limit: int) -> builtins.list[DueEntry]:
        """Due-time entries after ``after`` in key order."""
        rows = self._read(
            "scan_due",
            "SELECT key, due_at FROM due WHERE key > ? ORDER BY key LIMIT ?",
            (after, limit),
        )
        return [DueEntry(str(key), float(due_at)) for key, due_at in rows]

    async def count(self) -> int:
        """Number of values."""
        return int(self._read("count", "SELECT count(*) FROM kv", ())[0][0])

    async def dump(self) -> tuple[builtins.list[tuple[str, bytes]], builtins.list[DueEntry]]:
        """Every entry, read in one transaction of the reader connection: one consistent view."""
        if self._reader is None:
            raise StorageError("sqlite storage is not open")
        try:
            self._reader.execute("BEGIN")
            try:
                rows = self._reader.execute("SELECT key, value FROM kv ORDER BY key").fetchall()
                due = self._reader.execute("SELECT key, due_at FROM due ORDER BY key").fetchall()
            finally:
                self._reader.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StorageError(f"sqlite storage: dump failed ({exc})") from exc
        return (
            [(str(k), bytes(v)) for k, v in rows],
            [DueEntry(str(k), float(d)) for k, d in due],
        )

    async def replace_all(
        self, entries: Sequence[tuple[str, bytes]], due: Sequence[DueEntry]
    ) -> None:
        """Delete everything and insert ``entries`` and ``due`` in one transaction."""
        validate_ops([TxnOp("put", key, value) for key, value in entries])
        for entry in due:
            validate_key(entry.key)

        def replace(db: sqlite3.Connection) -> None:
            db.execute("DELETE FROM kv")
            db.execute("DELETE FROM due")
            db.executemany("INSERT INTO kv (key, value) VALUES (?, ?)", entries)
            db.executemany(
                "INSERT INTO due (key, due_at) VALUES (?, ?)", [(e.key, e.due_at) for e in due]
            )

        await self._write("replace_all", replace)

    def _open_writer(self) -> None:
        directory = os.path.dirname(os.path.abspath(self._path))
        os.makedirs(directory, mode=0o700, exist_ok=True)
        # Create the file ourselves so it is never world-readable, even briefly; SQLite gives the
        # -wal and -shm files the database file's permissions.
        os.close(os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600))
        os.chmod(self._path, 0o600)
        db = sqlite3.connect(self._path, isolation_level=None)
        self._writer = db
        db.execute("PRAGMA busy_timeout = 5000")
        _enable_wal(db)
        # FULL fsyncs the WAL on every commit: an acknowledged write survives a crash, not only
        # a killed process.
        db.execute("PRAGMA synchronous = FULL")
        for statement in _SCHEMA:
            db.execute(statement)

    def _close_writer(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def _read(
        self, operation: str, sql: str, params: Sequence[object] | Mapping[str, object]
    ) -> builtins.list[tuple[Any, ...]]:
        if self._reader is None:
            raise StorageError("sqlite storage is not open")
        try:
            return self._reader.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StorageError(f"sqlite storage: {operation} failed ({exc})") from exc

    async def _write(self, operation: str, work: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run ``work`` in one IMMEDIATE transaction on the writer thread."""

        def run() -> _T:
            db = self._writer
            if db is None:
                raise StorageError("sqlite storage is not open")
            try:
                db.execute("BEGIN IMMEDIATE")
                try:
                    result = work(db)
                    db.execute("COMMIT")
                except BaseException:
                    if db.in_transaction:
                        db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise StorageError(f"sqlite storage: {operation} failed ({exc})") from exc
            return result

        # If the awaiting task is cancelled the write still completes (or rolls back) in the
        # thread; it is never left half-applied.
        return await self._in_writer_thread(run)

    async def _in_writer_thread(self, work: Callable[[], _T]) -> _T:
        if self._writer_thread is None:
            raise StorageError("sqlite storage is not open")
        return await asyncio.get_running_loop().run_in_executor(self._writer_thread, work)


class _FileLock(HeldLock):
    """A long-lived byte-range lock on the side file."""

    def __init__(self, fd: int, offset: int, local: HeldLock) -> None:
        self._fd = fd
        self._offset = offset
        self._local = local
        self._held = True

    async def alive(self) -> bool:
        """Held until released (the kernel keeps it while the process lives)."""
        return self._held

    async def release(self) -> None:
        """Unlock the byte range."""
        if self._held:
            self._held = False
            # If the file was closed with the store, the lock already went with it.
            with contextlib.suppress(OSError):
                fcntl.lockf(self._fd, fcntl.LOCK_UN, 1, self._offset)
            await self._local.release()


# Polling, not a blocking ``lockf`` in a thread: lockf locks belong to the process, so while one
# task holds a stripe and another of its threads blocks on a second, the kernel's deadlock check
# refuses a sibling process doing the reverse with EDEADLK although no cycle exists (seen under
# load with two workers). A non-blocking request is never refused that way, needs no thread, and
# leaves nothing behind when the waiting task is cancelled.
_LOCK_BUSY = frozenset({errno.EACCES, errno.EAGAIN})
_LOCK_FIRST_PAUSE = 0.0005
_LOCK_MAX_PAUSE = 0.02


async def _lock_range(fd: int, offset: int) -> None:
    """Take the one-byte range at ``offset`` of the lock file, waiting while another has it."""
    pause = _LOCK_FIRST_PAUSE
    while True:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, offset)
            return
        except OSError as exc:
            if exc.errno not in _LOCK_BUSY:
                raise StorageError(f"sqlite storage lock failed: {exc.strerror}") from None
        await asyncio.sleep(pause * random.uniform(0.5, 1.5))  # noqa: S311 (jitter)
        pause = min(pause * 2, _LOCK_MAX_PAUSE)


def _enable_wal(db: sqlite3.Connection, limit: float = 10.0) -> None:
    """Switch ``db`` to WAL, retrying while a sibling process switches the same new file.

    Worker processes open a new database file together; SQLite refuses one of two connections
    that both hold a shared lock and want to change the journal mode with "database is locked"
    at once (no busy wait: waiting could deadlock), so the loser asks again.
    """
    deadline = time.monotonic() + limit
    while True:
        try:
            db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(0.02)


def _put(db: sqlite3.Connection, key: str, value: bytes) -> None:
    db.execute(
        "INSERT INTO kv (key, value) VALUES (?, ?)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def _delete(db: sqlite3.Connection, key: str) -> None:
    db.execute("DELETE FROM kv WHERE key = ?", (key,))
