"""Scenario 8: unseal-to-ready time of a sealed Hush node holding N KV v2 secrets.

Seeding goes through Hush's own Python API, not HTTP, so 100k secrets take seconds: a core over
the SQLite file is initialised (one share), unsealed, KV v2 is mounted at ``secret/`` and every
secret is written with ``core.handle`` — the same engine code an HTTP write runs, minus HTTP and
audit — while :class:`BatchingStorage` holds the resulting storage writes and commits them in large
transactions instead of one fsynced transaction per secret. The stored bytes are what the API
would have stored. A file audit device is enabled last, so unseal opens it as in production.

Timing (one round): start ``hush server -config`` → first answer of ``sys/seal-status``
(listening) → ``PUT sys/unseal`` with the share → first ``200`` from a KV read with the root token.
"""

from __future__ import annotations

import asyncio
import builtins
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.peers import free_port, stop_process, wait_until
from hush.core.core import Core
from hush.core.mounts import MountEntry
from hush.core.request import Operation, Request
from hush.crypto import SecretBytes
from hush.engines import register_builtin_engines
from hush.framework.registry import Registry
from hush.storage.base import DueEntry, Storage, TxnOp
from hush.storage.sqlite import SQLiteStorage

__all__ = ["BatchingStorage", "SeededStore", "UnsealTiming", "measure_unseal", "seed_store"]

KV_PREFIX = "bench/many/s"
_FLUSH_EVERY = 20_000  # storage operations per SQLite transaction while seeding


class BatchingStorage(Storage):
    """Delegates to ``inner``; while :attr:`batching` is on, writes wait for :meth:`flush`.

    Reads see the pending writes, so code that reads what it just wrote behaves as usual.
    """

    name = "batching"

    def __init__(self, inner: Storage) -> None:
        """Wrap ``inner`` (opened and closed through this object)."""
        self.inner = inner
        self.batching = False
        self._pending: dict[str, bytes | None] = {}

    async def open(self) -> None:
        """Open the wrapped backend."""
        await self.inner.open()

    async def close(self) -> None:
        """Flush, then close the wrapped backend."""
        await self.flush()
        await self.inner.close()

    async def get(self, key: str) -> bytes | None:
        """The pending value of ``key`` if any, else the stored one."""
        if key in self._pending:
            return self._pending[key]
        return await self.inner.get(key)

    async def put(self, key: str, value: bytes) -> None:
        """Store now, or queue while batching."""
        await self.transaction([TxnOp("put", key, value)])

    async def delete(self, key: str) -> None:
        """Delete now, or queue while batching."""
        await self.transaction([TxnOp("delete", key)])

    async def list(self, prefix: str) -> builtins.list[str]:
        """Listing sees stored keys only (seeding never lists what it is writing)."""
        return await self.inner.list(prefix)

    async def transaction(self, ops: Sequence[TxnOp]) -> None:
        """Apply now, or queue every operation while batching (flushed in order)."""
        if not self.batching:
            await self.inner.transaction(ops)
            return
        for op in ops:
            self._pending[op.key] = op.value if op.op == "put" else None
        if len(self._pending) >= _FLUSH_EVERY:
            await self.flush()

    async def flush(self) -> None:
        """Commit every pending write in one transaction."""
        if not self._pending:
            return
        ops = [
            TxnOp("put", key, value) if value is not None else TxnOp("delete", key)
            for key, value in self._pending.items()
        ]
        self._pending = {}
        await self.inner.transaction(ops)

    async def schedule(self, key: str, due_at: float) -> None:
        """Delegated."""
        await self.inner.schedule(key, due_at)

    async def unschedule(self, key: str) -> None:
        """Delegated."""
        await self.inner.unschedule(key)

    async def claim_due(
        self, now: float, limit: int, hold: float = 30.0, *, prefix: str = ""
    ) -> builtins.list[DueEntry]:
        """Delegated."""
        return await self.inner.claim_due(now, limit, hold, prefix=prefix)


@dataclass(frozen=True, slots=True)
class SeededStore:
    """A sealed SQLite store ready to be served: its config file and how to unseal and read it."""

    secrets: int
    config_path: Path
    port: int
    unseal_key_hex: str
    root_token: str
    seed_seconds: float


@dataclass(frozen=True, slots=True)
class UnsealTiming:
    """One unseal-to-ready measurement, in seconds from process start."""

    listening_s: float
    unsealed_s: float
    ready_s: float

    @property
    def unseal_call_s(self) -> float:
        """Duration of the ``sys/unseal`` call alone."""
        return self.unsealed_s - self.listening_s


async def _seed(
    db_path: Path, secrets: int, audit_path: Path, tick: Callable[[int], None]
) -> tuple[str, str]:
    # build_core's wiring, with the batching wrapper between the core and SQLite.
    registry = Registry("secrets engine")
    register_builtin_engines(registry)
    storage = BatchingStorage(SQLiteStorage(str(db_path)))
    core = Core(storage, storage_type="sqlite", engines=registry)
    await core.open()
    result = await core.initialize(1, 1)
    share = result.shares[0]
    root = result.root_token.reveal().decode()
    await core.unseal_with_key(SecretBytes(share))
    await core.mount(MountEntry(path="secret/", type="kv", options={"version": "2"}))
    token = SecretBytes(root.encode())
    storage.batching = True
    for n in range(secrets):
        await core.handle(
            Request(
                id=str(uuid.uuid4()),
                operation=Operation.UPDATE,
                path=f"secret/data/{KV_PREFIX}{n:06d}",
                data={"data": {"user": f"svc-{n:06d}", "password": f"seeded-secret-value-{n:06d}"}},
                client_token=token,
            )
        )
        if n % 1000 == 999:
            tick(1000)
    await storage.flush()
    storage.batching = False
    await core.handle(
        Request(
            id=str(uuid.uuid4()),
            operation=Operation.UPDATE,
            path="sys/audit/file",
            data={"type": "file", "options": {"file_path": str(audit_path)}},
            client_token=token,
        )
    )
    await core.close()
    return share.hex(), root


def seed_store(
    workdir: Path, secrets: int, tick: Callable[[int], None] = lambda _n: None
) -> SeededStore:
    """Create a sealed SQLite store with ``secrets`` KV v2 secrets and its server config file."""
    directory = workdir / f"unseal-{secrets}"
    directory.mkdir(parents=True, exist_ok=True)
    db_path = directory / "hush.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    started = time.perf_counter()
    key_hex, root = asyncio.run(_seed(db_path, secrets, directory / "audit.log", tick))
    seconds = time.perf_counter() - started
    port = free_port()
    config_path = directory / "hush.hcl"
    config_path.write_text(
        f'storage "sqlite" {{\n  path = "{db_path}"\n}}\n\n'
        f'listener "tcp" {{\n  address = "127.0.0.1:{port}"\n  tls_disable = true\n}}\n'
    )
    return SeededStore(secrets, config_path, port, key_hex, root, seconds)


def measure_unseal(store: SeededStore, log_path: Path, timeout_s: float = 120.0) -> UnsealTiming:
    """Start a sealed server on ``store``, unseal it, and time until a KV read succeeds."""
    hush = Path(sys.executable).parent / "hush"
    base = f"http://127.0.0.1:{store.port}"
    probe_key = f"secret/data/{KV_PREFIX}{store.secrets - 1:06d}"
    with log_path.open("ab") as log, httpx.Client(base_url=base, timeout=10.0) as client:
        started = time.perf_counter()
        process = subprocess.Popen(
            [str(hush), "server", "-config", str(store.config_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_until(lambda: _answers(client, "/v1/sys/seal-status"), timeout_s, process)
            listening = time.perf_counter() - started
            reply = client.put("/v1/sys/unseal", json={"key": store.unseal_key_hex})
            reply.raise_for_status()
            if reply.json().get("sealed", True):
                raise RuntimeError(f"unseal did not complete: {reply.text[:200]}")
            unsealed = time.perf_counter() - started
            headers = {"X-Vault-Token": store.root_token}
            wait_until(
                lambda: client.get(f"/v1/{probe_key}", headers=headers).status_code == 200,
                timeout_s,
                process,
            )
            ready = time.perf_counter() - started
        finally:
            stop_process(process, signal.SIGTERM)
    return UnsealTiming(listening, unsealed, ready)


def _answers(client: httpx.Client, path: str) -> bool:
    try:
        return client.get(path).status_code == 200
    except httpx.TransportError:
        return False


if __name__ == "__main__":  # quick manual check: python -m bench.unseal N
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    work = Path(os.environ.get("TMPDIR", "/tmp")) / "hush-bench-unseal"
    seeded = seed_store(work, count)
    print(f"seeded {count} in {seeded.seed_seconds:.1f}s")
    for _ in range(3):
        print(measure_unseal(seeded, work / "server.log"))
