"""Store-wide locks (``Storage.exclusive`` and ``Storage.try_hold``) on every backend.

A child process opened on the same SQLite file or PostgreSQL table stands for another worker
process or node: what one holds, the other must not get, and ``kill -9`` frees it.
"""

from __future__ import annotations

import asyncio
import itertools
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from hush.storage.locks import lock_slot

from .conftest import Backend


def _stripe_twin(name: str) -> str:
    """Another name whose lock stripe (1 of 1,024) is the same as ``name``'s."""
    slot = lock_slot(name)
    return next(
        candidate
        for candidate in (f"twin-{i}" for i in itertools.count())
        if lock_slot(candidate) == slot
    )


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
        if mode == "ready-exclusive":
            print("ready", flush=True)
        async with store.exclusive("shared"):
            print("in", flush=True)
            await asyncio.sleep(3.0)
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

        # The child holds the lock 3 s after saying "in": a loaded machine may take a while to
        # get here, but not 2.5 s, so the wait below is still at least 0.5 s.
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
        for _ in range(300):  # up to 30 s: generous for a loaded machine
            held = await db_backend.store.try_hold("background")
            if held is not None:
                await held.release()
                return True
            await asyncio.sleep(0.1)
        return False

    assert db_backend.run(take_after_kill())


_CONTENDER = """
import asyncio, random, sys, time
from hush.storage import PostgreSQLStorage, SQLiteStorage

async def main(kind, location, dsn, seconds):
    store = SQLiteStorage(location) if kind == "sqlite" else PostgreSQLStorage(dsn, table=location)
    await store.open()
    done = 0
    deadline = time.monotonic() + float(seconds)

    async def worker() -> None:
        nonlocal done
        while time.monotonic() < deadline:
            name = f"counter/{random.randrange(64)}"
            async with store.exclusive(name):
                current = int((await store.get(name)) or b"0")
                await asyncio.sleep(0)
                await store.put(name, str(current + 1).encode())
            done += 1

    await asyncio.gather(*(worker() for _ in range(24)))
    await store.close()
    print(done, flush=True)

asyncio.run(main(*sys.argv[1:]))
"""


def test_many_tasks_in_several_processes_contend_without_errors_or_lost_updates(
    db_backend: Backend,
) -> None:
    """Worker processes, each with many tasks waiting on different stripes at once.

    On SQLite the kernel's deadlock detection for ``lockf`` looks at processes, not threads: a
    process holding one stripe while another of its threads waits for a second one looks like
    a deadlock to a sibling doing the reverse (EDEADLK) although none exists. Every increment a
    child reports must be in storage, and no child may fail.
    """
    children = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                _CONTENDER,
                db_backend.kind,
                db_backend.location,
                db_backend.pg_dsn,
                "4",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    results = [child.communicate(timeout=120) for child in children]
    for child, (_, err) in zip(children, results, strict=True):
        assert child.returncode == 0, err[-2000:]
    reported = sum(int(out.strip()) for out, _ in results)

    async def stored_total() -> int:
        values = [await db_backend.store.get(f"counter/{i}") for i in range(64)]
        return sum(int(v or b"0") for v in values)

    assert reported > 0
    assert db_backend.run(stored_total()) == reported


_OPENER = """
import asyncio, sys, time
from hush.storage import SQLiteStorage

async def main(path, start):
    time.sleep(max(0.0, float(start) - time.time()))
    store = SQLiteStorage(path)
    await store.open()
    await store.put("opened/" + sys.argv[3], b"1")
    await store.close()

asyncio.run(main(*sys.argv[1:3]))
"""


def test_worker_processes_opening_a_new_sqlite_file_together_all_succeed(tmp_path: Path) -> None:
    """Every worker of a node opens the (new) file at start; none may fail to switch it to WAL."""
    for attempt in range(3):
        path = tmp_path / f"new-{attempt}.db"
        start = time.time() + 1.0
        children = [
            subprocess.Popen(
                [sys.executable, "-c", _OPENER, str(path), str(start), str(n)],
                stderr=subprocess.PIPE,
                text=True,
            )
            for n in range(6)
        ]
        errors = [child.communicate(timeout=60)[1] for child in children]
        failed = [
            err[-800:] for child, err in zip(children, errors, strict=True) if child.returncode
        ]
        assert not failed, failed[0]


def test_two_names_on_one_stripe_nest_without_waiting_for_themselves(backend: Backend) -> None:
    """A holder may take a second name (the mount table, then a new KV v2 mount's upgrade
    marker); when the two names share a stripe it used to wait for itself for ever."""
    store = backend.store
    twin = _stripe_twin("outer")

    async def nested() -> bytes | None:
        async with store.exclusive("outer"), store.exclusive(twin):
            await store.put("nested", b"done")
        return await store.get("nested")

    assert backend.run(asyncio.wait_for(nested(), 10)) == b"done"


def _line_within(child: subprocess.Popen[str], seconds: float) -> str | None:
    assert child.stdout is not None
    ready, _, _ = select.select([child.stdout], [], [], seconds)
    return child.stdout.readline().strip() if ready else None


def test_leaving_an_inner_name_on_the_same_stripe_keeps_the_outer_one_held(
    db_backend: Backend,
) -> None:
    """On SQLite a stripe is one byte of a lock file, locked per process: the inner section's
    unlock must not free the outer one for the other processes."""
    store = db_backend.store
    twin = _stripe_twin("shared")

    async def scenario() -> tuple[str | None, str | None, str | None]:
        async with store.exclusive("shared"):
            async with store.exclusive(twin):
                pass
            child = _holder(db_backend, "ready-exclusive")
            try:
                ready = await asyncio.to_thread(_line_within, child, 60)
                early = await asyncio.to_thread(_line_within, child, 1.5)
            except BaseException:
                _stop(child)
                raise
        try:
            late = await asyncio.to_thread(_line_within, child, 60)
        finally:
            _stop(child)
        return ready, early, late

    assert db_backend.run(asyncio.wait_for(scenario(), 150)) == ("ready", None, "in")
