"""The snapshot file format: round trip, and every kind of damage refused before use."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hush.storage import DueEntry
from hush.storage.snapshot import SnapshotError, read_snapshot, write_snapshot

ENTRIES = [("core/keyring", b"\x00\x01"), ("logical/x/é", b""), ("z", b"v" * 1000)]
DUE = [DueEntry("lease/a", 12.5)]


def _snapshot() -> bytes:
    return write_snapshot(ENTRIES, DUE, storage_type="sqlite", version="test")


def _resealed(body: bytes) -> bytes:
    """A body with a correct checksum, to reach the structural checks."""
    return body + b"END" + hashlib.sha256(body).digest()


def test_round_trip() -> None:
    snapshot = read_snapshot(_snapshot())
    assert snapshot.entries == ENTRIES
    assert snapshot.due == DUE
    assert snapshot.header["storage_type"] == "sqlite"
    assert snapshot.header["entries"] == 3


@given(st.integers(min_value=0), st.integers(min_value=0, max_value=7))
@settings(max_examples=200, deadline=None)
def test_any_flipped_bit_is_refused(position: int, bit: int) -> None:
    blob = bytearray(_snapshot())
    blob[position % len(blob)] ^= 1 << bit
    with pytest.raises(SnapshotError):
        read_snapshot(bytes(blob))


@pytest.mark.parametrize("cut", [1, 10, 40, 100])
def test_truncation_is_refused(cut: int) -> None:
    with pytest.raises(SnapshotError):
        read_snapshot(_snapshot()[:-cut])


def test_structural_damage_with_a_valid_checksum_is_refused() -> None:
    body = _snapshot()[:-35]
    with pytest.raises(SnapshotError, match="unknown record type"):
        read_snapshot(_resealed(body + b"X\x00\x00\x00\x01a"))
    with pytest.raises(SnapshotError, match="truncated inside a record"):
        read_snapshot(_resealed(body + b"E\x00\x00\x00\x05ab"))
    with pytest.raises(SnapshotError, match="invalid storage key"):
        read_snapshot(_resealed(body + b"E\x00\x00\x00\x02a/\x00\x00\x00\x00"))
    with pytest.raises(SnapshotError, match="counts do not match"):
        read_snapshot(_resealed(body + b"E\x00\x00\x00\x01q\x00\x00\x00\x00"))


def test_not_a_snapshot() -> None:
    with pytest.raises(SnapshotError, match="not a Hush snapshot"):
        read_snapshot(b"PK\x03\x04")
