"""Fixtures for the storage contract suite: one ``backend`` fixture per physical backend.

PostgreSQL is a real server (``HUSH_TEST_PG_DSN``); each test gets its own table, dropped at the
end. Without a reachable server the PostgreSQL cases skip, except under ``CI`` where they fail.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sqlite3
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import pytest
from psycopg import sql

from hush.storage import MemoryStorage, PostgreSQLStorage, SQLiteStorage, Storage

T = TypeVar("T")

DEFAULT_PG_DSN = "postgresql://postgres@127.0.0.1:5432/test"


@dataclass
class Backend:
    """An open storage backend plus the event loop it lives on."""

    kind: str
    store: Storage
    runner: asyncio.Runner
    location: str = ""  # the SQLite path or the PostgreSQL table name
    pg_dsn: str = ""

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the backend's loop and return its result."""
        return self.runner.run(coro)

    def inject_failure(self, key: str) -> None:
        """Make the database itself reject any write of ``key`` (a trigger), to test rollback."""
        if self.kind == "sqlite":
            literal = "'" + key.replace("'", "''") + "'"
            db = sqlite3.connect(self.location, isolation_level=None)
            try:
                db.execute(
                    "CREATE TRIGGER fail_on_key BEFORE INSERT ON kv "
                    f"WHEN NEW.key = {literal} BEGIN SELECT RAISE(ABORT, 'injected'); END"
                )
            finally:
                db.close()
        elif self.kind == "postgresql":
            with psycopg.connect(self.pg_dsn, autocommit=True) as conn:
                function = sql.Identifier(f"{self.location}_fail")
                conn.execute(
                    sql.SQL(
                        "CREATE FUNCTION {f}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                        "IF NEW.key = {k} THEN RAISE EXCEPTION 'injected'; END IF; "
                        "RETURN NEW; END $$"
                    ).format(f=function, k=sql.Literal(key))
                )
                conn.execute(
                    sql.SQL(
                        "CREATE TRIGGER fail_on_key BEFORE INSERT ON {t} "
                        "FOR EACH ROW EXECUTE FUNCTION {f}()"
                    ).format(t=sql.Identifier(self.location), f=function)
                )
        else:
            raise NotImplementedError(self.kind)


def pg_table_name() -> str:
    """A table name no other test uses."""
    return f"hush_test_{secrets.token_hex(6)}"


def drop_pg_tables(dsn: str, table: str) -> None:
    """Drop everything a PostgreSQLStorage (and inject_failure) created for ``table``."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        for name in (table, f"{table}_due"):
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("DROP FUNCTION IF EXISTS {}").format(sql.Identifier(f"{table}_fail")))


@pytest.fixture(scope="session")
def pg_dsn() -> str:
    """The test server's DSN; skips (or fails under CI) when it is unreachable."""
    dsn = os.environ.get("HUSH_TEST_PG_DSN", DEFAULT_PG_DSN)
    try:
        with psycopg.connect(dsn, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        reason = f"PostgreSQL unreachable via HUSH_TEST_PG_DSN ({type(exc).__name__})"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; PostgreSQL tests must run under CI")
        pytest.skip(reason)
    return dsn


def _make_backend(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    with asyncio.Runner() as runner:
        if kind == "memory":
            backend = Backend(kind, MemoryStorage(), runner)
        elif kind == "sqlite":
            path = str(tmp_path / "hush.db")
            backend = Backend(kind, SQLiteStorage(path), runner, location=path)
        else:
            dsn = request.getfixturevalue("pg_dsn")
            table = pg_table_name()
            request.addfinalizer(lambda: drop_pg_tables(dsn, table))
            store = PostgreSQLStorage(dsn, table=table, max_size=4)
            backend = Backend(kind, store, runner, location=table, pg_dsn=dsn)
        runner.run(backend.store.open())
        try:
            yield backend
        finally:
            runner.run(backend.store.close())


POSTGRES = pytest.param("postgresql", marks=pytest.mark.postgres)


@pytest.fixture(params=["memory", "sqlite", POSTGRES])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """Each backend in turn, open and empty."""
    yield from _make_backend(request.param, request, tmp_path)


@pytest.fixture(params=["sqlite", POSTGRES])
def db_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """The database-backed backends, where a failure can be injected mid-transaction."""
    yield from _make_backend(request.param, request, tmp_path)
