"""A shared durable backend on PostgreSQL, for several Hush nodes in front of one database.

Uses psycopg 3's async driver and an ``AsyncConnectionPool`` of autocommit connections: a single
statement commits on its own, and :meth:`PostgreSQLStorage.transaction` opens an explicit one.
Errors never quote the connection string, which may contain a password.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import itertools
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TypeVar

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool

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

__all__ = ["PostgreSQLStorage"]

_T = TypeVar("_T")
# Dead peers are noticed by TCP keepalive within about 10 s even without a clean close.
_KEEPALIVE = {"keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2,
              "keepalives_count": 3}  # fmt: skip
# A request waits this long for a pooled connection before it answers 503 (database gone or
# saturated) instead of hanging.
_ACQUIRE_TIMEOUT = 5.0
# After a connection failure, requests wait only this long (fast 503s during an outage) until a
# statement succeeds again.
_OUTAGE_ACQUIRE_TIMEOUT = 0.5
_LOCK_KEY = "SELECT hashtextextended(%s, 0)"

_Conn = psycopg.AsyncConnection[TupleRow]

# Unquoted-identifier characters only, and short enough that "<table>_due_by_time" stays within
# PostgreSQL's 63-byte identifier limit.
_TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,47}")

# COLLATE "C" orders keys by UTF-8 bytes (= Python's code point order) whatever the database's
# locale is, so ``list`` is sorted like the other backends and range scans on the primary key work.
_SCHEMA = (
    'CREATE TABLE IF NOT EXISTS {kv} (key TEXT COLLATE "C" PRIMARY KEY, value BYTEA NOT NULL)',
    'CREATE TABLE IF NOT EXISTS {due} (key TEXT COLLATE "C" PRIMARY KEY,'
    " due_at DOUBLE PRECISION NOT NULL)",
    "CREATE INDEX IF NOT EXISTS {due_by_time} ON {due} (due_at, key)",
)

# One round trip, one index seek per child: see the matching comment in sqlite.py. After a
# sub-folder ``p + c + '/'`` the next seek starts at ``p + c + '0'`` ('0' sorts right after '/'), so
# a folder's descendants are skipped, never read.
_LIST_SQL = """
WITH RECURSIVE step(k) AS (
  SELECT (SELECT key FROM {{kv}} WHERE key > %(prefix)s {upper} ORDER BY key LIMIT 1)
  UNION ALL
  SELECT CASE WHEN strpos(substr(k, %(n)s::int + 1), '/') > 0
    THEN (SELECT key FROM {{kv}}
          WHERE key >= substr(k, 1, %(n)s::int + strpos(substr(k, %(n)s::int + 1), '/') - 1) || '0'
          {upper} ORDER BY key LIMIT 1)
    ELSE (SELECT key FROM {{kv}} WHERE key > k {upper} ORDER BY key LIMIT 1)
  END
  FROM step WHERE k IS NOT NULL
)
SELECT k FROM step WHERE k IS NOT NULL
"""

# SKIP LOCKED in the same statement as the UPDATE: two nodes claiming at once each lock and
# move disjoint rows, and a row another node moved past ``now`` is re-checked and skipped.
_CLAIM_SQL = """
WITH claimed AS (
  SELECT key, due_at FROM {due} WHERE due_at <= %(now)s AND key >= %(low)s
    AND (%(high)s::text IS NULL OR key < %(high)s::text)
  ORDER BY due_at, key LIMIT %(limit)s FOR UPDATE SKIP LOCKED
)
UPDATE {due} AS d SET due_at = %(until)s FROM claimed WHERE d.key = claimed.key
RETURNING claimed.key, claimed.due_at
"""


class PostgreSQLStorage(Storage):
    """Durable storage in two PostgreSQL tables: ``<table>`` (values) and ``<table>_due``."""

    name = "postgresql"

    def __init__(
        self,
        dsn: str,
        table: str = "hush_store",
        min_size: int = 1,
        max_size: int = 10,
        *,
        timeout: float = 30.0,
    ) -> None:
        """Check the settings; nothing connects until :meth:`open`.

        ``timeout`` bounds the wait for a pooled connection (and for the pool to open).
        """
        if not _TABLE_NAME.fullmatch(table):
            raise ValueError("PostgreSQL table name must be a plain identifier of at most 48 chars")
        try:
            conninfo_to_dict(dsn)
        except psycopg.Error:
            # psycopg's message quotes the string, password included.
            raise ValueError("invalid PostgreSQL connection URL") from None
        self._dsn = dsn
        self._table = table
        self._min_size = min_size
        self._max_size = max_size
        self._timeout = timeout
        self._normal_acquire_timeout = min(timeout, _ACQUIRE_TIMEOUT)
        self._unreachable = False
        self._check_task: asyncio.Task[None] | None = None
        self._pool: AsyncConnectionPool[_Conn] | None = None
        # Critical sections hold a connection while their body uses the main pool: a separate
        # pool means lock holders can never starve the work they wait for.
        self._lock_pool: AsyncConnectionPool[_Conn] | None = None
        names = {
            "kv": sql.Identifier(table),
            "due": sql.Identifier(f"{table}_due"),
            "due_by_time": sql.Identifier(f"{table}_due_by_time"),
        }
        self._schema = [sql.SQL(statement).format(**names) for statement in _SCHEMA]
        self._get = sql.SQL("SELECT value FROM {kv} WHERE key = %s").format(**names)
        self._get_many = sql.SQL("SELECT key, value FROM {kv} WHERE key = ANY(%s)").format(**names)
        self._put = sql.SQL(
            "INSERT INTO {kv} (key, value) VALUES (%s, %s)"
            " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"
        ).format(**names)
        self._delete = sql.SQL("DELETE FROM {kv} WHERE key = %s").format(**names)
        self._list_top = sql.SQL(_LIST_SQL.format(upper="")).format(**names)
        self._list_under = sql.SQL(_LIST_SQL.format(upper="AND key < %(upper)s")).format(**names)
        self._schedule = sql.SQL(
            "INSERT INTO {due} (key, due_at) VALUES (%s, %s)"
            " ON CONFLICT (key) DO UPDATE SET due_at = EXCLUDED.due_at"
        ).format(**names)
        self._unschedule = sql.SQL("DELETE FROM {due} WHERE key = %s").format(**names)
        self._unschedule_many = sql.SQL("DELETE FROM {due} WHERE key = ANY(%s)").format(**names)
        self._claim = sql.SQL(_CLAIM_SQL).format(**names)
        self._scan = sql.SQL(
            "SELECT key, value FROM {kv} WHERE key > %s ORDER BY key LIMIT %s"
        ).format(**names)
        self._scan_due = sql.SQL(
            "SELECT key, due_at FROM {due} WHERE key > %s ORDER BY key LIMIT %s"
        ).format(**names)
        self._count = sql.SQL("SELECT count(*) FROM {kv}").format(**names)
        self._dump = sql.SQL("SELECT key, value FROM {kv} ORDER BY key").format(**names)
        self._dump_due = sql.SQL("SELECT key, due_at FROM {due} ORDER BY key").format(**names)
        self._clear = [sql.SQL("DELETE FROM {kv}").format(**names)]
        self._clear.append(sql.SQL("DELETE FROM {due}").format(**names))
        self._insert_due = sql.SQL("INSERT INTO {due} (key, due_at) VALUES (%s, %s)").format(
            **names
        )

    async def open(self) -> None:
        """Open the pool, waiting for ``min_size`` connections, and create the tables if needed."""
        self._pool = AsyncConnectionPool(
            self._dsn,
            min_size=self._min_size,
            max_size=self._max_size,
            kwargs={"autocommit": True, **_KEEPALIVE},
            timeout=self._timeout,
            open=False,
            name=f"hush-{self._table}",
        )
        self._lock_pool = AsyncConnectionPool(
            self._dsn,
            min_size=1,
            max_size=self._max_size,
            kwargs={"autocommit": True, **_KEEPALIVE},
            timeout=self._timeout,
            open=False,
            name=f"hush-{self._table}-locks",
        )
        try:
            await self._pool.open(wait=True, timeout=self._timeout)
            await self._lock_pool.open(wait=True, timeout=self._timeout)
            await self._run("open", self._create_schema)
        except psycopg.Error as exc:
            await self.close()
            raise _storage_error("open", exc) from None
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Close every pooled connection; safe to call twice."""
        for pool in (self._pool, self._lock_pool):
            if pool is not None:
                await pool.close()
        self._pool = self._lock_pool = None

    async def get(self, key: str) -> bytes | None:
        """Return the value under ``key`` or ``None``."""
        validate_key(key)
        rows = await self._fetch("get", self._get, (key,))
        return None if not rows else bytes(rows[0][0])

    async def get_many(self, keys: Sequence[str]) -> builtins.list[bytes | None]:
        """The values under ``keys`` in one statement (``None`` where absent)."""
        for key in keys:
            validate_key(key)
        rows = await self._fetch("get", self._get_many, (list(keys),))
        found = {str(key): bytes(value) for key, value in rows}
        return [found.get(key) for key in keys]

    async def put(self, key: str, value: bytes) -> None:
        """Store ``value`` under ``key``; returns after the commit."""
        validate_key(key)
        await self._fetch("put", self._put, (key, value))

    async def delete(self, key: str) -> None:
        """Remove ``key``; a missing key is not an error."""
        validate_key(key)
        await self._fetch("delete", self._delete, (key,))

    async def list(self, prefix: str) -> builtins.list[str]:
        """Immediate children of ``prefix``, folders with a trailing ``/``, sorted."""
        validate_prefix(prefix)
        params = {"prefix": prefix, "n": len(prefix), "upper": prefix[:-1] + "0"}
        query = self._list_under if prefix else self._list_top
        rows = await self._fetch("list", query, params)
        return sorted(child_entry(prefix, str(row[0])) for row in rows)

    async def transaction(self, ops: Sequence[TxnOp]) -> None:
        """Apply ``ops`` in order inside one database transaction."""
        validate_ops(ops)

        async def apply(conn: _Conn) -> None:
            # Runs of the same operation go through executemany, which psycopg pipelines: one
            # round trip per run rather than per key (a 1,000-entry migration batch). Order holds.
            async with conn.transaction(), conn.cursor() as cursor:
                for kind, run in itertools.groupby(ops, key=lambda op: op.op):
                    if kind == "put":
                        await cursor.executemany(self._put, [(op.key, op.value) for op in run])
                    else:
                        await cursor.executemany(self._delete, [(op.key,) for op in run])

        await self._run("transaction", apply)

    async def schedule(self, key: str, due_at: float) -> None:
        """Insert or move ``key`` in the due-time index."""
        validate_key(key)
        await self._fetch("schedule", self._schedule, (key, due_at))

    async def unschedule(self, key: str) -> None:
        """Remove ``key`` from the due-time index; missing is not an error."""
        validate_key(key)
        await self._fetch("unschedule", self._unschedule, (key,))

    async def unschedule_many(self, keys: Sequence[str]) -> None:
        """Remove several keys from the due-time index in one statement."""
        for key in keys:
            validate_key(key)
        if keys:
            await self._fetch("unschedule", self._unschedule_many, (list(keys),))

    async def claim_due(
        self, now: float, limit: int, hold: float = 30.0, *, prefix: str = ""
    ) -> builtins.list[DueEntry]:
        """Claim up to ``limit`` due entries under ``prefix``; ``due_at`` becomes ``now + hold``."""
        if limit <= 0:
            return []
        params = {
            "now": now,
            "limit": limit,
            "until": now + hold,
            "low": prefix,
            "high": prefix_upper_bound(prefix),
        }
        rows = await self._fetch("claim_due", self._claim, params)
        entries = [DueEntry(key=str(key), due_at=float(due_at)) for key, due_at in rows]
        # RETURNING does not keep the CTE's order.
        return sorted(entries, key=lambda entry: (entry.due_at, entry.key))

    def exclusive(self, name: str) -> AbstractAsyncContextManager[None]:
        """A transaction-scoped advisory lock on ``name``: excludes every node on this database."""
        return self._exclusive(name)

    @asynccontextmanager
    async def _exclusive(self, name: str) -> AsyncIterator[None]:
        # The process-local stripe first, so one node's contenders queue in memory instead of
        # each holding a pooled connection while they wait.
        async with self._locals().exclusive(name):
            if self._lock_pool is None:
                raise StorageError("postgresql storage is not open")
            try:
                async with (
                    self._lock_pool.connection(timeout=self._acquire_timeout) as conn,
                    conn.transaction(),
                ):
                    await conn.execute(
                        "SELECT pg_advisory_xact_lock((" + _LOCK_KEY + "))", (self._lock(name),)
                    )
                    yield
            except psycopg.OperationalError as exc:
                self._outage()
                raise _storage_error("lock", exc) from None
            except psycopg.Error as exc:
                raise _storage_error("lock", exc) from None

    async def try_hold(self, name: str) -> HeldLock | None:
        """A session advisory lock on a dedicated connection; dies with the connection."""
        try:
            conn = await psycopg.AsyncConnection.connect(
                make_conninfo(self._dsn, connect_timeout=5, **_KEEPALIVE), autocommit=True
            )
        except psycopg.Error as exc:
            raise _storage_error("lock", exc) from None
        try:
            cursor = await conn.execute(
                "SELECT pg_try_advisory_lock((" + _LOCK_KEY + "))", (self._lock(name),)
            )
            row = await cursor.fetchone()
        except psycopg.Error as exc:
            await conn.close()
            raise _storage_error("lock", exc) from None
        if row is None or not row[0]:
            await conn.close()
            return None
        return _SessionLock(conn)

    def _lock(self, name: str) -> str:
        # Scoped by table, so two stores in one database never share locks.
        return f"hush:{self._table}:{name}"

    async def scan(self, after: str, limit: int) -> builtins.list[tuple[str, bytes]]:
        """Entries after ``after`` in key order (COLLATE "C": UTF-8 byte order)."""
        rows = await self._fetch("scan", self._scan, (after, limit))
        return [(str(key), bytes(value)) for key, value in rows]

    async def scan_due(self, after: str, limit: int) -> builtins.list[DueEntry]:
        """Due-time entries after ``after`` in key order."""
        rows = await self._fetch("scan_due", self._scan_due, (after, limit))
        return [DueEntry(str(key), float(due_at)) for key, due_at in rows]

    async def count(self) -> int:
        """Number of values."""
        rows = await self._fetch("count", self._count, ())
        return int(rows[0][0])

    async def dump(self) -> tuple[builtins.list[tuple[str, bytes]], builtins.list[DueEntry]]:
        """Every entry, read in one REPEATABLE READ transaction: one consistent view."""

        async def read(
            conn: _Conn,
        ) -> tuple[builtins.list[tuple[str, bytes]], builtins.list[DueEntry]]:
            async with conn.transaction():
                await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                rows = await (await conn.execute(self._dump)).fetchall()
                due = await (await conn.execute(self._dump_due)).fetchall()
            return (
                [(str(k), bytes(v)) for k, v in rows],
                [DueEntry(str(k), float(d)) for k, d in due],
            )

        return await self._run("dump", read)

    async def replace_all(
        self, entries: Sequence[tuple[str, bytes]], due: Sequence[DueEntry]
    ) -> None:
        """Delete everything and insert ``entries`` and ``due`` in one transaction."""
        validate_ops([TxnOp("put", key, value) for key, value in entries])
        for entry in due:
            validate_key(entry.key)

        async def replace(conn: _Conn) -> None:
            async with conn.transaction():
                for statement in self._clear:
                    await conn.execute(statement)
                async with conn.cursor() as cursor:
                    await cursor.executemany(self._put, list(entries))
                    await cursor.executemany(self._insert_due, [(e.key, e.due_at) for e in due])

        await self._run("replace_all", replace)

    async def _create_schema(self, conn: _Conn) -> None:
        async with conn.transaction():
            # Serialise concurrent first starts: simultaneous CREATE TABLE IF NOT EXISTS can still
            # collide on PostgreSQL's catalog and fail one node.
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtext(%s))", (f"hush:{self._table}",)
            )
            for statement in self._schema:
                await conn.execute(statement)

    async def _fetch(
        self, operation: str, query: sql.Composed, params: Sequence[object] | Mapping[str, object]
    ) -> builtins.list[TupleRow]:
        """Run one autocommitted statement and return its rows (none for a plain write)."""

        async def run(conn: _Conn) -> builtins.list[TupleRow]:
            cursor = await conn.execute(query, params)
            return await cursor.fetchall() if cursor.description is not None else []

        return await self._run(operation, run)

    async def _run(self, operation: str, work: Callable[[_Conn], Awaitable[_T]]) -> _T:
        if self._pool is None:
            raise StorageError("postgresql storage is not open")
        try:
            async with self._pool.connection(timeout=self._acquire_timeout) as conn:
                result = await work(conn)
        except psycopg.OperationalError as exc:
            self._outage()
            raise _storage_error(operation, exc) from None
        except psycopg.Error as exc:
            raise _storage_error(operation, exc) from None
        self._unreachable = False
        return result

    def _outage(self) -> None:
        """A connection failed: answer fast from now on and weed out the other dead connections.

        Connections are not probed on every checkout (that would double each request's round
        trips); after a failure the idle ones are checked once in the background instead, so a
        PostgreSQL restart costs a few 503s, not one per pooled connection.
        """
        self._unreachable = True
        if self._check_task is None or self._check_task.done():
            pools = [p for p in (self._pool, self._lock_pool) if p is not None]
            self._check_task = asyncio.get_running_loop().create_task(_check_pools(pools))

    @property
    def _acquire_timeout(self) -> float:
        return _OUTAGE_ACQUIRE_TIMEOUT if self._unreachable else self._normal_acquire_timeout


async def _check_pools(pools: builtins.list[AsyncConnectionPool[_Conn]]) -> None:
    for pool in pools:
        with contextlib.suppress(Exception):
            await pool.check()


class _SessionLock(HeldLock):
    """A session-level advisory lock; PostgreSQL releases it when the connection closes."""

    def __init__(self, conn: _Conn) -> None:
        self._conn: _Conn | None = conn

    async def alive(self) -> bool:
        """Probe the connection: a lock on a dead connection has already been released."""
        if self._conn is None or self._conn.closed:
            return False
        try:
            await self._conn.execute("SELECT 1")
        except psycopg.Error:
            await self.release()
            return False
        return True

    async def release(self) -> None:
        """Close the connection, which releases the lock."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                await conn.close()


def _storage_error(operation: str, exc: psycopg.Error) -> StorageError:
    """A StorageError naming the failure class only: libpq messages can quote connection details."""
    sqlstate = f", SQLSTATE {exc.sqlstate}" if exc.sqlstate else ""
    return StorageError(f"postgresql storage: {operation} failed ({type(exc).__name__}{sqlstate})")
