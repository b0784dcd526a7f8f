"""An acknowledged write survives ``kill -9`` of the writing process (SQLite and PostgreSQL).

A child process writes keys in a loop and prints each key only after ``put()`` returned; the parent
SIGKILLs it at a random moment, reopens the store and checks every printed key.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

import hush
from hush.storage import PostgreSQLStorage, SQLiteStorage, Storage

from .conftest import drop_pg_tables, pg_table_name

pytestmark = pytest.mark.slow

CHILD = """
import asyncio, os, sys
from hush.storage import PostgreSQLStorage, SQLiteStorage

kind, location, cycle = sys.argv[1:]

async def main() -> None:
    if kind == "sqlite":
        store = SQLiteStorage(location)
    else:
        store = PostgreSQLStorage(os.environ["HUSH_TEST_PG_DSN"], table=location)
    await store.open()
    i = 0
    while True:
        key = f"c{cycle}/k{i}"
        await store.put(key, key.encode() * 3 + b"\\x00")
        print(key, flush=True)
        i += 1

asyncio.run(main())
"""


def expected_value(key: str) -> bytes:
    """The value the child writes under ``key``."""
    return key.encode() * 3 + b"\x00"


def write_until_killed(kind: str, location: str, cycle: int, tmp_path: Path, dsn: str) -> list[str]:
    """Run the child writer, SIGKILL it mid-stream, and return the keys it acknowledged."""
    out_path = tmp_path / f"acked-{cycle}.txt"
    err_path = tmp_path / f"stderr-{cycle}.txt"
    env = {**os.environ, "HUSH_TEST_PG_DSN": dsn, "PYTHONPATH": str(Path(hush.__file__).parents[1])}
    args = [sys.executable, "-c", CHILD, kind, location, str(cycle)]
    with out_path.open("w") as out, err_path.open("w") as err:
        with subprocess.Popen(args, stdout=out, stderr=err, env=env) as child:
            try:
                deadline = time.monotonic() + 60  # a loaded machine starts Python slowly
                while not out_path.read_text():  # wait for the first acknowledged write
                    if child.poll() is not None or time.monotonic() > deadline:
                        pytest.fail(f"writer did not start: {err_path.read_text()[-2000:]}")
                    time.sleep(0.02)
                time.sleep(random.uniform(0.3, 0.7))
                os.kill(child.pid, signal.SIGKILL)
            finally:
                child.kill()
        assert child.returncode == -signal.SIGKILL
    # A line without its newline was being written when the child died: not acknowledged.
    return out_path.read_text().split("\n")[:-1]


async def missing_or_wrong(store: Storage, keys: list[str]) -> list[str]:
    """The acknowledged keys that did not survive with the right value."""
    await store.open()
    try:
        return [key for key in keys if await store.get(key) != expected_value(key)]
    finally:
        await store.close()


def test_sqlite_acknowledged_writes_survive_sigkill(tmp_path: Path) -> None:
    path = str(tmp_path / "durable.db")
    acked: list[str] = []
    for cycle in range(5):
        new = write_until_killed("sqlite", path, cycle, tmp_path, dsn="")
        assert new, "the writer acknowledged nothing before it was killed"
        acked += new
        assert asyncio.run(missing_or_wrong(SQLiteStorage(path), acked)) == []
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        db.close()


@pytest.mark.postgres
def test_postgresql_acknowledged_writes_survive_sigkill(tmp_path: Path, pg_dsn: str) -> None:
    table = pg_table_name()
    try:
        asyncio.run(missing_or_wrong(PostgreSQLStorage(pg_dsn, table=table), []))  # schema
        acked: list[str] = []
        for cycle in range(3):
            new = write_until_killed("postgresql", table, cycle, tmp_path, dsn=pg_dsn)
            assert new, "the writer acknowledged nothing before it was killed"
            acked += new
            store = PostgreSQLStorage(pg_dsn, table=table)
            assert asyncio.run(missing_or_wrong(store, acked)) == []
    finally:
        drop_pg_tables(pg_dsn, table)
