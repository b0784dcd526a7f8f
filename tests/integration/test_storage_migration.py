"""``hush operator migrate``: sqlite -> postgresql -> sqlite, verified, resumable, refusing.

The store is made by a real server (init, a KV mount, secrets, a token with a TTL) plus a bulk of
barrier-encrypted entries written with Hush's own barrier, so the copy is checked both through
the API and entry by entry in decrypted form.
"""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from hush.barrier.barrier import Barrier
from hush.crypto import SecretBytes
from hush.storage import SQLiteStorage, Storage, TxnOp, open_storage
from tests.support.server import HushProcess, free_port, start_hush, write_config

BULK = int(os.environ.get("HUSH_TEST_MIGRATION_ENTRIES", "5000"))


def _hush(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hush.cli.main", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=900,
    )


def _migrate_file(path: Path, source: str, destination: str) -> Path:
    path.write_text(
        f'storage_source "{source.split(":", 1)[0]}" {{\n{_options(source)}}}\n'
        f'storage_destination "{destination.split(":", 1)[0]}" {{\n{_options(destination)}}}\n'
    )
    return path


def _options(spec: str) -> str:
    kind, rest = spec.split(":", 1)
    if kind == "sqlite":
        return f'  path = "{rest}"\n'
    return f'  connection_url = "{rest}"\n'


@pytest.fixture
def pg_database(pg_dsn: str) -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    name = f"hush_migrate_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield make_conninfo(pg_dsn, dbname=name)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _make_store(workdir: Path, entries: int) -> tuple[Path, SecretBytes, str]:
    """A sqlite store with real server state plus ``entries`` bulk entries; (path, key, token)."""
    path = workdir / "source.db"
    port = free_port()
    config = write_config(workdir, port, "sqlite", path=str(path))
    server = start_hush(workdir, [f"-config={config}"], port=port)
    try:
        init = server.client().sys.initialize(secret_shares=1, secret_threshold=1)
        server.client().sys.submit_unseal_key(init["keys"][0])
        client = server.client(init["root_token"])
        client.sys.enable_secrets_engine("kv", path="kv", options={"version": "1"})
        for i in range(20):
            client.secrets.kv.v1.create_or_update_secret(
                f"app/{i}", {"value": f"secret-{i}"}, mount_point="kv"
            )
    finally:
        server.stop()
    key = SecretBytes(base64.b64decode(init["keys_base64"][0]))

    async def bulk() -> None:
        storage = SQLiteStorage(str(path))
        await storage.open()
        barrier = Barrier(storage)
        await barrier.unseal(key)
        for start in range(0, entries, 500):
            await barrier.transaction(
                [
                    TxnOp("put", f"bulk/{i:07d}", f"value-{i}-{'x' * (i % 50)}".encode())
                    for i in range(start, min(start + 500, entries))
                ]
            )
        for i in range(30):  # due-time index entries (lease expiry uses them)
            await storage.schedule(f"expire/lease-{i:03d}", 1_800_000_000.0 + i)
        await storage.close()

    asyncio.run(bulk())
    return path, key, str(init["root_token"])


def _decrypted(kind: str, location: str, key: SecretBytes) -> tuple[dict[str, bytes], list[str]]:
    """Every entry of a store, decrypted where the barrier encrypted it; and its due keys."""

    async def read() -> tuple[dict[str, bytes], list[str]]:
        options = {"path": location} if kind == "sqlite" else {"connection_url": location}
        storage: Storage = open_storage(kind, options)
        await storage.open()
        barrier = Barrier(storage)
        await barrier.unseal(key)
        plain: dict[str, bytes] = {}
        after = ""
        while batch := await storage.scan(after, 2000):
            for name, raw in batch:
                if name.startswith("core/") and name != "core/cluster":
                    plain[name] = raw  # barrier-internal records: compare their bytes
                else:
                    value = await barrier.get(name)
                    assert value is not None
                    plain[name] = value
            after = batch[-1][0]
        due = [entry.key for entry in await storage.scan_due("", 100000)]
        await storage.close()
        return plain, due

    return asyncio.run(read())


def test_sqlite_to_postgresql_to_sqlite_is_identical(tmp_path: Path, pg_database: str) -> None:
    source, key, root = _make_store(tmp_path, BULK)
    there = _hush("operator", "migrate", "-config",
                  str(_migrate_file(tmp_path / "m1.hcl", f"sqlite:{source}",
                                    f"postgresql:{pg_database}")))  # fmt: skip
    assert there.returncode == 0, there.stderr
    assert "Success! All of the keys have been migrated" in there.stdout
    back_path = tmp_path / "back.db"
    back = _hush("operator", "migrate", "-config",
                 str(_migrate_file(tmp_path / "m2.hcl", f"postgresql:{pg_database}",
                                   f"sqlite:{back_path}")))  # fmt: skip
    assert back.returncode == 0, back.stderr

    original, original_due = _decrypted("sqlite", str(source), key)
    middle, middle_due = _decrypted("postgresql", pg_database, key)
    final, final_due = _decrypted("sqlite", str(back_path), key)
    assert len(original) >= BULK + 20
    assert original == middle == final
    assert original_due == middle_due == final_due and original_due
    assert "core/migration-checkpoint" not in final

    # The migrated store serves the same data through the API.
    port = free_port()
    config = write_config(tmp_path, port, "sqlite", path=str(back_path))
    server: HushProcess = start_hush(tmp_path, [f"-config={config}"], port=port)
    try:
        server.client().sys.submit_unseal_key(base64.b64encode(key.reveal()).decode())
        secret = server.client(root).secrets.kv.v1.read_secret("app/7", mount_point="kv")
        assert secret["data"] == {"value": "secret-7"}
    finally:
        server.stop()


def test_migration_into_a_non_empty_destination_is_refused(tmp_path: Path) -> None:
    source, _, _ = _make_store(tmp_path, 10)
    destination = tmp_path / "dest.db"
    with sqlite3.connect(destination) as db:
        db.execute("CREATE TABLE kv (key TEXT PRIMARY KEY, value BLOB NOT NULL)")
        db.execute("INSERT INTO kv VALUES ('someone/else', x'00')")
    result = _hush("operator", "migrate", "-config",
                   str(_migrate_file(tmp_path / "m.hcl", f"sqlite:{source}",
                                     f"sqlite:{destination}")))  # fmt: skip
    assert result.returncode == 1
    assert "the destination storage is not empty" in result.stderr
    with sqlite3.connect(destination) as db:
        assert db.execute("SELECT count(*) FROM kv").fetchone() == (1,)


def test_killed_migration_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    source, key, _ = _make_store(tmp_path, max(BULK * 4, 20000))
    destination = tmp_path / "dest.db"
    config = _migrate_file(tmp_path / "m.hcl", f"sqlite:{source}", f"sqlite:{destination}")
    process = subprocess.Popen(
        [sys.executable, "-m", "hush.cli.main", "operator", "migrate", "-config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            if destination.exists():
                try:
                    with sqlite3.connect(destination, timeout=1) as db:
                        row = db.execute(
                            "SELECT value FROM kv WHERE key = 'core/migration-checkpoint'"
                        ).fetchone()
                except sqlite3.OperationalError:
                    row = None
                if row is not None:
                    break
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(10)
    with sqlite3.connect(destination) as db:
        copied = db.execute("SELECT count(*) FROM kv").fetchone()[0]
    total = len(_decrypted("sqlite", str(source), key)[0])
    assert 0 < copied < total, "the kill should land mid-migration"

    resumed = _hush("operator", "migrate", "-config", str(config))
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed after" in resumed.stdout
    assert _decrypted("sqlite", str(source), key) == _decrypted("sqlite", str(destination), key)
