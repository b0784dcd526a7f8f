"""Whole-store access on every backend: scan in key order, count, atomic replace_all."""

from __future__ import annotations

import pytest

from hush.storage import DueEntry
from hush.storage.base import InvalidKeyError

from .conftest import Backend

KEYS = ["a", "a/b", "a-b", "a0", "b/c/d", "core/keyring", "é", "z\u4e16", "Z"]


def test_scan_returns_every_entry_in_code_point_order_in_batches(backend: Backend) -> None:
    store = backend.store
    for key in KEYS:
        backend.run(store.put(key, key.encode() + b"\x00\xff"))
    seen: list[tuple[str, bytes]] = []
    after = ""
    while batch := backend.run(store.scan(after, 2)):
        assert len(batch) <= 2
        seen += batch
        after = batch[-1][0]
    assert [k for k, _ in seen] == sorted(KEYS)
    assert all(value == key.encode() + b"\x00\xff" for key, value in seen)
    assert backend.run(store.count()) == len(KEYS)


def test_scan_due_lists_the_due_index_by_key(backend: Backend) -> None:
    store = backend.store
    backend.run(store.schedule("lease/b", 20.0))
    backend.run(store.schedule("lease/a", 30.5))
    assert backend.run(store.scan_due("", 10)) == [
        DueEntry("lease/a", 30.5),
        DueEntry("lease/b", 20.0),
    ]
    assert backend.run(store.scan_due("lease/a", 10)) == [DueEntry("lease/b", 20.0)]


def test_replace_all_swaps_values_and_due_index(backend: Backend) -> None:
    store = backend.store
    backend.run(store.put("old/x", b"1"))
    backend.run(store.schedule("old/due", 5.0))
    backend.run(store.replace_all([("new/y", b"2"), ("new/z/w", b"3")], [DueEntry("d", 9.0)]))
    assert backend.run(store.get("old/x")) is None
    assert backend.run(store.list("")) == ["new/"]
    assert backend.run(store.scan("", 10)) == [("new/y", b"2"), ("new/z/w", b"3")]
    assert backend.run(store.scan_due("", 10)) == [DueEntry("d", 9.0)]
    assert backend.run(store.claim_due(10.0, 5)) == [DueEntry("d", 9.0)]


def test_replace_all_with_a_bad_key_changes_nothing(backend: Backend) -> None:
    store = backend.store
    backend.run(store.put("keep", b"1"))
    with pytest.raises(InvalidKeyError):
        backend.run(store.replace_all([("ok", b"2"), ("bad/", b"3")], []))
    assert backend.run(store.scan("", 10)) == [("keep", b"1")]


def test_dump_returns_everything_in_key_order(backend: Backend) -> None:
    store = backend.store
    for key in KEYS:
        backend.run(store.put(key, b"v-" + key.encode()))
    backend.run(store.schedule("lease/a", 1.5))
    entries, due = backend.run(store.dump())
    assert entries == [(key, b"v-" + key.encode()) for key in sorted(KEYS)]
    assert due == [DueEntry("lease/a", 1.5)]
    backend.run(store.put("after", b"x"))  # the reader is usable again afterwards
    assert backend.run(store.get("after")) == b"x"
