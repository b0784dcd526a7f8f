"""Store-wide locks (``Storage.exclusive`` and ``Storage.try_hold``) on every backend.

A child process opened on the same SQLite file or PostgreSQL table stands for another worker
process or node: what one holds, the other must not get, and ``kill -9`` frees it.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time

from .conftest import Backend


def test_exclusive_serialises_read_modify_write(backend: Backend) -> None:
    store = backend.store

    async def increment() -> None:
        async with store.exclusive("counter"):
            current = int((await store.get("counter")) or b"0")
            await asyncio.sleep(0)  # give every other task the chance to interleave
            await store.put("counter", str(current + 1).encode())

    async def many() -> None:
        await asyncio.gather(*(increment() for _ in range(20)))

    backend.run(many())
    assert backend.run(store.get("counter")) == b"20"


def test_try_hold_is_granted_once_until_released(backend: Backend) -> None:
    store = backend.store

    async def scenario() -> tuple[bool, bool, bool, bool]:
        first = await store.try_hold("background")
        second = await store.try_hold("background")
        assert first is not None
        alive = await first.alive()
        await first.release()
        third = await store.try_hold("background")
        if third is not None:
            await third.release()
        return alive, second is None, third is not None, await first.alive()

    assert backend.run(scenario()) == (True, True, True, False)


_HOLDER = """
import asyncio, sys, time
from hush.storage import PostgreSQLStorage, SQLiteStorage

async def main(kind, location, dsn, mode):
    store = SQLiteStorage(location) if kind == "sqlite" else PostgreSQLStorage(dsn, table=location)
    await store.open()
    if mode == "hold":
        held = await store.try_hold("background")
        print("held" if held else "refused", flush=True)
        await asyncio.sleep(60)
    else:
        async with store.exclusive("shared"):
            print("in", flush=True)
            await asyncio.sleep(1.0)
        print("out", flush=True)
        await store.close()

asyncio.run(main(*sys.argv[1:]))
"""


def _holder(backend: Backend, mode: str) -> subprocess.Popen[str]:
    """A child process (another worker or node) that takes a lock and reports it."""
    child = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, backend.kind, backend.location, backend.pg_dsn, mode],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    return child


def _stop(child: subprocess.Popen[str]) -> None:
    child.send_signal(signal.SIGKILL)
    child.wait(5)
    if child.stdout is not None:
        child.stdout.close()


def test_exclusive_excludes_another_process(db_backend: Backend) -> None:
    child = _holder(db_backend, "exclusive")
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "in"

        async def wait_for_lock() -> float:
            started = time.monotonic()
            async with db_backend.store.exclusive("shared"):
                return time.monotonic() - started

        waited = db_backend.run(wait_for_lock())
        assert child.stdout.readline().strip() == "out"
        assert waited > 0.5
    finally:
        _stop(child)


def test_try_hold_is_refused_while_another_process_holds_it_and_freed_by_kill(
    db_backend: Backend,
) -> None:
    child = _holder(db_backend, "hold")
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "held"
        assert db_backend.run(db_backend.store.try_hold("background")) is None
    finally:
        _stop(child)  # SIGKILL: the holder gets no chance to release anything

    async def take_after_kill() -> bool:
        for _ in range(50):
            held = await db_backend.store.try_hold("background")
            if held is not None:
                await held.release()
                return True
            await asyncio.sleep(0.1)
        return False

    assert db_backend.run(take_after_kill())
