"""The storage contract (see ``hush.storage.base``), run against every physical backend."""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Callable, Coroutine, Iterable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hush.storage import (
    MemoryStorage,
    PostgreSQLStorage,
    SQLiteStorage,
    StorageError,
    TxnOp,
    open_storage,
)

from .conftest import Backend

MiB = 1 << 20


def put_all(backend: Backend, keys: Iterable[str], value: bytes = b"v") -> None:
    """Store ``value`` under every key in one transaction (one round trip's worth of setup)."""
    backend.run(backend.store.transaction([TxnOp("put", key, value) for key in keys]))


def reference_list(keys: Iterable[str], prefix: str) -> list[str]:
    """Vault's list semantics, computed the obvious way over the whole key set."""
    entries = set()
    for key in keys:
        if key.startswith(prefix):
            name, slash, _ = key[len(prefix) :].partition("/")
            entries.add(name + slash)
    return sorted(entries)


# --- get / put / delete -------------------------------------------------------------------------


def test_get_missing_key_is_none(backend: Backend) -> None:
    assert backend.run(backend.store.get("nope")) is None


def test_put_get_delete_roundtrip(backend: Backend) -> None:
    store = backend.store
    backend.run(store.put("app/config", b"secret"))
    assert backend.run(store.get("app/config")) == b"secret"
    backend.run(store.delete("app/config"))
    assert backend.run(store.get("app/config")) is None
    assert backend.run(store.list("")) == []


def test_put_overwrites(backend: Backend) -> None:
    backend.run(backend.store.put("k", b"one"))
    backend.run(backend.store.put("k", b"two"))
    assert backend.run(backend.store.get("k")) == b"two"
    assert backend.run(backend.store.list("")) == ["k"]


def test_delete_missing_key_is_fine(backend: Backend) -> None:
    backend.run(backend.store.delete("never/stored"))
    assert backend.run(backend.store.get("never/stored")) is None


@pytest.mark.parametrize(
    "value",
    [b"", b"\x00", b"a\x00b\x00", bytes(range(256)), os.urandom(MiB - 1) + b"\x00"],
    ids=["empty", "nul", "embedded-nul", "all-bytes", "1MiB"],
)
def test_binary_values_round_trip(backend: Backend, value: bytes) -> None:
    backend.run(backend.store.put("blob", value))
    assert backend.run(backend.store.get("blob")) == value


@pytest.mark.parametrize(
    "key",
    ["ünïcödé/ключ", "with space/and more", "100%/%2F%00", "under_score", "emoji/😀", "'quote\"",
     "back\\slash", "/leading", "double//slash", "a.b-c~d"],
)  # fmt: skip
def test_unusual_key_characters_round_trip(backend: Backend, key: str) -> None:
    backend.run(backend.store.put(key, b"x"))
    assert backend.run(backend.store.get(key)) == b"x"
    prefix = key[: key.rfind("/") + 1]
    assert key[len(prefix) :] in backend.run(backend.store.list(prefix))


@pytest.mark.parametrize("key", ["", "trailing/", "nul\x00byte", "x" * 2049])
def test_invalid_keys_are_rejected(backend: Backend, key: str) -> None:
    store = backend.store
    calls: list[Callable[[], Coroutine[Any, Any, object]]] = [
        lambda: store.get(key),
        lambda: store.put(key, b"v"),
        lambda: store.delete(key),
        lambda: store.schedule(key, 1.0),
        lambda: store.unschedule(key),
    ]
    for call in calls:
        with pytest.raises(ValueError):
            backend.run(call())
    assert backend.run(store.list("")) == []


@pytest.mark.parametrize("prefix", ["no-slash", "nul\x00/"])
def test_invalid_list_prefix_is_rejected(backend: Backend, prefix: str) -> None:
    with pytest.raises(ValueError):
        backend.run(backend.store.list(prefix))


# --- list ---------------------------------------------------------------------------------------


def test_list_returns_immediate_children_sorted_with_folders_once(backend: Backend) -> None:
    put_all(backend, ["app/b", "app/a", "app/sub/x", "app/sub/y/z", "app/sub2/q", "other/k"])
    assert backend.run(backend.store.list("app/")) == ["a", "b", "sub/", "sub2/"]
    assert backend.run(backend.store.list("app/sub/")) == ["x", "y/"]


def test_list_empty_prefix_lists_top_level(backend: Backend) -> None:
    put_all(backend, ["core/keyring", "core/seal", "logical/u1/a", "top"])
    assert backend.run(backend.store.list("")) == ["core/", "logical/", "top"]


def test_list_shows_key_and_folder_of_same_name(backend: Backend) -> None:
    put_all(backend, ["a", "a/b"])
    assert backend.run(backend.store.list("")) == ["a", "a/"]
    assert backend.run(backend.store.list("a/")) == ["b"]


def test_list_orders_by_code_point_around_the_slash(backend: Backend) -> None:
    # '!' and '.' sort before '/', '0' right after it: a folder must not swallow its neighbours.
    put_all(backend, ["a!", "a.x", "a/1", "a/2/3", "a0", "a0/x", "b"])
    assert backend.run(backend.store.list("")) == ["a!", "a.x", "a/", "a0", "a0/", "b"]


def test_list_missing_prefix_is_empty(backend: Backend) -> None:
    put_all(backend, ["a/b"])
    assert backend.run(backend.store.list("nothing/")) == []
    assert backend.run(backend.store.list("a/b/")) == []


def test_list_forgets_folders_whose_keys_are_deleted(backend: Backend) -> None:
    put_all(backend, ["f/x/1", "f/x/2", "f/y"])
    backend.run(backend.store.delete("f/x/1"))
    assert backend.run(backend.store.list("f/")) == ["x/", "y"]
    backend.run(backend.store.delete("f/x/2"))
    assert backend.run(backend.store.list("f/")) == ["y"]
    backend.run(backend.store.delete("f/y"))
    assert backend.run(backend.store.list("")) == []


def test_list_with_many_deep_descendants(backend: Backend) -> None:
    deep = [f"tree/f{f:02d}/d1/d2/d3/k{i:03d}" for f in range(30) for i in range(50)]
    leaves = [f"tree/leaf{i}" for i in range(10)] + ["tree/f05", "treehouse/x"]
    put_all(backend, deep + leaves)
    expected = sorted([f"f{f:02d}/" for f in range(30)] + [f"leaf{i}" for i in range(10)] + ["f05"])
    assert backend.run(backend.store.list("tree/")) == expected
    assert backend.run(backend.store.list("tree/f07/d1/d2/d3/")) == [f"k{i:03d}" for i in range(50)]
    assert backend.run(backend.store.list("")) == ["tree/", "treehouse/"]


KEY_ALPHABET = "ab/0.!%_ é😀"
keys_strategy = st.sets(
    st.text(KEY_ALPHABET, min_size=1, max_size=8).filter(lambda k: not k.endswith("/")),
    max_size=25,
)


def test_list_matches_reference_for_random_key_sets(backend: Backend) -> None:
    examples = 20 if backend.kind == "postgresql" else 50

    @settings(max_examples=examples, deadline=None, database=None)
    @given(keys=keys_strategy, deleted=keys_strategy)
    def check(keys: set[str], deleted: set[str]) -> None:
        store = backend.store
        put_all(backend, keys)
        try:
            backend.run(store.transaction([TxnOp("delete", key) for key in deleted]))
            remaining = keys - deleted
            folders = {k[: i + 1] for k in keys for i, c in enumerate(k) if c == "/"}
            for prefix in sorted(folders | {""}):
                assert backend.run(store.list(prefix)) == reference_list(remaining, prefix)
        finally:
            backend.run(store.transaction([TxnOp("delete", key) for key in keys]))

    check()


# --- transaction --------------------------------------------------------------------------------


def test_transaction_applies_puts_and_deletes_in_order(backend: Backend) -> None:
    store = backend.store
    put_all(backend, ["old"])
    ops = [
        TxnOp("put", "x", b"1"),
        TxnOp("put", "x", b"2"),
        TxnOp("put", "gone", b"g"),
        TxnOp("delete", "gone"),
        TxnOp("delete", "old"),
        TxnOp("delete", "revived"),
        TxnOp("put", "revived", b"r"),
    ]
    backend.run(store.transaction(ops))
    assert backend.run(store.get("x")) == b"2"
    assert backend.run(store.get("gone")) is None
    assert backend.run(store.get("old")) is None
    assert backend.run(store.get("revived")) == b"r"


def test_empty_transaction_is_fine(backend: Backend) -> None:
    backend.run(backend.store.transaction([]))


@pytest.mark.parametrize(
    "bad_op",
    [TxnOp("put", "bad\x00key", b"v"), TxnOp("put", "no-value"), TxnOp("delete", "dir/")],
    ids=["nul-key", "put-without-value", "trailing-slash"],
)
def test_transaction_with_invalid_later_op_applies_nothing(backend: Backend, bad_op: TxnOp) -> None:
    store = backend.store
    put_all(backend, ["keep"], b"before")
    ops = [TxnOp("put", "new", b"n"), TxnOp("put", "keep", b"after"), TxnOp("delete", "keep")]
    with pytest.raises(ValueError):
        backend.run(store.transaction([*ops, bad_op]))
    assert backend.run(store.get("new")) is None
    assert backend.run(store.get("keep")) == b"before"


def test_transaction_failing_in_database_applies_nothing(db_backend: Backend) -> None:
    store = db_backend.store
    put_all(db_backend, ["keep"], b"before")
    db_backend.inject_failure("boom")
    ops = [TxnOp("put", "new", b"n"), TxnOp("delete", "keep"), TxnOp("put", "boom", b"b")]
    with pytest.raises(StorageError) as info:
        db_backend.run(store.transaction(ops))
    assert "b'" not in str(info.value)
    assert db_backend.run(store.get("new")) is None
    assert db_backend.run(store.get("keep")) == b"before"
    db_backend.run(store.put("after", b"ok"))  # the connection is usable again
    assert db_backend.run(store.list("")) == ["after", "keep"]


# --- due-time index -----------------------------------------------------------------------------


def test_claim_due_returns_earliest_first_up_to_limit(backend: Backend) -> None:
    store = backend.store
    for key, due_at in [("a", 30.0), ("b", 10.0), ("c", 20.0), ("later", 40.0), ("b2", 10.0)]:
        backend.run(store.schedule(key, due_at))
    claimed = backend.run(store.claim_due(now=35.0, limit=3))
    assert [(e.key, e.due_at) for e in claimed] == [("b", 10.0), ("b2", 10.0), ("c", 20.0)]
    assert [e.key for e in backend.run(store.claim_due(now=35.0, limit=10))] == ["a"]
    assert backend.run(store.claim_due(now=35.0, limit=0)) == []


def test_claim_due_holds_entries_until_now_plus_hold(backend: Backend) -> None:
    store = backend.store
    backend.run(store.schedule("lease/1", 100.0))
    assert [e.key for e in backend.run(store.claim_due(100.0, 10, hold=30.0))] == ["lease/1"]
    assert backend.run(store.claim_due(100.0, 10, hold=30.0)) == []
    assert backend.run(store.claim_due(129.5, 10, hold=30.0)) == []
    again = backend.run(store.claim_due(130.0, 10, hold=30.0))
    assert [(e.key, e.due_at) for e in again] == [("lease/1", 130.0)]


def test_claim_due_with_prefix_leaves_other_keys_alone(backend: Backend) -> None:
    store = backend.store
    for key, due_at in [("lease/a", 5.0), ("leasex", 1.0), ("rotate/b", 2.0), ("lease/b", 3.0)]:
        backend.run(store.schedule(key, due_at))
    claimed = backend.run(store.claim_due(10.0, 10, hold=100.0, prefix="lease/"))
    assert [e.key for e in claimed] == ["lease/b", "lease/a"]
    # Keys outside the prefix were neither returned nor pushed back.
    others = backend.run(store.claim_due(10.0, 10))
    assert [(e.key, e.due_at) for e in others] == [("leasex", 1.0), ("rotate/b", 2.0)]
    assert backend.run(store.claim_due(10.0, 10, prefix="\U0010ffff")) == []


def test_unschedule_many_removes_only_the_named_keys(backend: Backend) -> None:
    store = backend.store
    for number in range(5):
        backend.run(store.schedule(f"many/{number}", float(number)))
    backend.run(store.unschedule_many(["many/1", "many/3", "many/missing"]))
    backend.run(store.unschedule_many([]))
    assert [e.key for e in backend.run(store.claim_due(10.0, 10))] == ["many/0", "many/2", "many/4"]


def test_claim_due_with_prefix_claims_only_that_owners_keys(backend: Backend) -> None:
    store = backend.store
    for key, due_at in [("sys/lease/1", 1.0), ("mnt/a/rot/x", 2.0), ("mnt/a0", 2.5)]:
        backend.run(store.schedule(key, due_at))
    backend.run(store.schedule("mnt/a/rot/y", 3.0))
    backend.run(store.schedule("mnt/b/rot/z", 1.5))
    claimed = backend.run(store.claim_due(10.0, 10, prefix="mnt/a/"))
    assert [e.key for e in claimed] == ["mnt/a/rot/x", "mnt/a/rot/y"]
    # Keys outside the prefix were neither returned nor held.
    rest = backend.run(store.claim_due(10.0, 10))
    assert [e.key for e in rest] == ["sys/lease/1", "mnt/b/rot/z", "mnt/a0"]


def test_unschedule_removes_entry_and_missing_is_fine(backend: Backend) -> None:
    store = backend.store
    backend.run(store.schedule("k", 1.0))
    backend.run(store.unschedule("k"))
    backend.run(store.unschedule("never"))
    assert backend.run(store.claim_due(1e12, 10)) == []


def test_schedule_again_moves_the_entry(backend: Backend) -> None:
    store = backend.store
    backend.run(store.schedule("k", 5.0))
    backend.run(store.schedule("k", 50.0))
    assert backend.run(store.claim_due(10.0, 10)) == []
    assert [(e.key, e.due_at) for e in backend.run(store.claim_due(50.0, 10))] == [("k", 50.0)]
    backend.run(store.schedule("k", 1.0))
    assert [e.key for e in backend.run(store.claim_due(2.0, 10))] == ["k"]


def test_due_index_is_separate_from_values(backend: Backend) -> None:
    backend.run(backend.store.schedule("sched/only", 1.0))
    assert backend.run(backend.store.get("sched/only")) is None
    assert backend.run(backend.store.list("")) == []


def test_concurrent_claims_never_return_the_same_entry(backend: Backend) -> None:
    store = backend.store
    for i in range(40):
        backend.run(store.schedule(f"due/{i:02d}", float(i)))

    async def claim_concurrently() -> list[list[str]]:
        batches = await asyncio.gather(*(store.claim_due(100.0, 5) for _ in range(10)))
        return [[entry.key for entry in batch] for batch in batches]

    claimed = [key for batch in backend.run(claim_concurrently()) for key in batch]
    assert sorted(claimed) == [f"due/{i:02d}" for i in range(40)]


# --- backend specifics --------------------------------------------------------------------------


def test_sqlite_data_persists_across_reopen(tmp_path: Path) -> None:
    path = str(tmp_path / "nested" / "dirs" / "hush.db")

    async def write() -> None:
        store = SQLiteStorage(path)
        await store.open()
        await store.transaction([TxnOp("put", "a/b", b"\x00value"), TxnOp("put", "c", b"")])
        await store.schedule("a/b", 7.0)
        await store.close()

    async def read() -> tuple[bytes | None, list[str], list[str]]:
        store = SQLiteStorage(path)
        await store.open()
        try:
            claimed = [e.key for e in await store.claim_due(7.0, 10)]
            return await store.get("a/b"), await store.list(""), claimed
        finally:
            await store.close()

    asyncio.run(write())
    assert asyncio.run(read()) == (b"\x00value", ["a/", "c"], ["a/b"])


def test_sqlite_files_are_private(tmp_path: Path) -> None:
    path = tmp_path / "hush.db"

    async def file_modes() -> dict[str, int]:
        store = SQLiteStorage(str(path))
        await store.open()
        try:
            await store.put("k", b"v")
            files = [p for p in tmp_path.iterdir() if p.name.startswith("hush.db")]
            return {p.name: stat.S_IMODE(p.stat().st_mode) for p in files}
        finally:
            await store.close()

    modes = asyncio.run(file_modes())
    assert modes == {
        "hush.db": 0o600,
        "hush.db-wal": 0o600,
        "hush.db-shm": 0o600,
        "hush.db.lock": 0o600,
    }


def test_sqlite_unopenable_path_is_storage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StorageError):
        asyncio.run(SQLiteStorage(str(blocker / "hush.db")).open())


def test_postgresql_errors_never_reveal_the_dsn() -> None:
    dsn = "postgresql://hush:pw-s3cret@127.0.0.1:1/hush"
    store = PostgreSQLStorage(dsn, timeout=0.5)
    with pytest.raises(StorageError) as info:
        asyncio.run(store.open())
    assert "s3cret" not in str(info.value) and "127.0.0.1" not in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__
    with pytest.raises(ValueError) as bad_dsn:
        PostgreSQLStorage("host=x password=pw-s3cret =oops")
    assert "s3cret" not in str(bad_dsn.value)
    assert bad_dsn.value.__suppress_context__


@pytest.mark.parametrize("table", ["", "1abc", "a-b", 'x"; DROP TABLE y', "t" * 49])
def test_postgresql_rejects_unsafe_table_names(table: str) -> None:
    with pytest.raises(ValueError):
        PostgreSQLStorage("postgresql://localhost/x", table=table)


def test_open_storage_builds_each_kind(tmp_path: Path) -> None:
    assert isinstance(open_storage("inmem", {}), MemoryStorage)
    assert isinstance(open_storage("memory", {}), MemoryStorage)
    assert isinstance(open_storage("sqlite", {"path": str(tmp_path / "h.db")}), SQLiteStorage)
    store = open_storage("postgresql", {"connection_url": "postgresql://h/db", "table": "t1"})
    assert isinstance(store, PostgreSQLStorage)


def test_open_storage_reads_pg_dsn_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUSH_PG_DSN", "postgresql://h/db")
    assert isinstance(open_storage("postgresql", {}), PostgreSQLStorage)
    monkeypatch.delenv("HUSH_PG_DSN")
    with pytest.raises(ValueError, match="HUSH_PG_DSN"):
        open_storage("postgresql", {})


@pytest.mark.parametrize(
    ("kind", "options", "message"),
    [
        ("raft", {}, "inmem, memory, postgresql, sqlite"),
        ("sqlite", {}, "path"),
        ("sqlite", {"path": "x", "pth": "y"}, "pth"),
        ("postgresql", {"connection_url": "postgresql://h/db", "max_parallel": "0"}, "positive"),
    ],
)
def test_open_storage_rejects_bad_config(kind: str, options: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        open_storage(kind, options)


def test_get_many_returns_values_in_order_with_none_for_missing(backend: Backend) -> None:
    put_all(backend, ["a/1", "b"], b"x")
    backend.run(backend.store.put("b", b"y"))
    assert backend.run(backend.store.get_many(["b", "missing", "a/1", "b"])) == [
        b"y",
        None,
        b"x",
        b"y",
    ]
    assert backend.run(backend.store.get_many([])) == []
