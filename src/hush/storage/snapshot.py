"""The snapshot file: the whole physical store (ciphertext as stored) in one checksummed file.

Format, version 1 (all integers big-endian)::

    b"HUSH-SNAPSHOT\\n"                      magic, 14 bytes
    u32 header length, header               JSON: version, created (Unix seconds), storage_type,
                                            entries, due_entries, hush_version
    entries, each:  b"E" u32 key length, key (UTF-8), u32 value length, value
    due entries:    b"D" u32 key length, key (UTF-8), f64 due_at
    b"END" + SHA-256 of every byte before "END"

Values are copied as the storage holds them: barrier ciphertext, plus the barrier's own records
(seal configuration, the root key wrapped by the unseal key or seal, the keyring wrapped by the
root key). A snapshot is therefore only as readable as its keys: restoring it brings back the
unseal (or recovery) keys and seal that were current when it was taken. :func:`read_snapshot`
checks the checksum and the whole structure before returning anything, so a truncated or altered
file is refused before a single entry is written.
"""

from __future__ import annotations

import hashlib
import struct
import time
from dataclasses import dataclass

import orjson

from hush.crypto import constant_time_equal
from hush.storage.base import DueEntry, InvalidKeyError, validate_key

__all__ = ["MAGIC", "Snapshot", "SnapshotError", "read_snapshot", "write_snapshot"]

MAGIC = b"HUSH-SNAPSHOT\n"
VERSION = 1
_U32 = struct.Struct(">I")
_F64 = struct.Struct(">d")
_TRAILER = b"END"
_DIGEST = 32


class SnapshotError(ValueError):
    """The file is not a valid snapshot; the message says what is wrong (never a value)."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A decoded snapshot: its header and every entry."""

    header: dict[str, object]
    entries: list[tuple[str, bytes]]
    due: list[DueEntry]


def write_snapshot(
    entries: list[tuple[str, bytes]], due: list[DueEntry], *, storage_type: str, version: str
) -> bytes:
    """Encode a snapshot of ``entries`` and ``due``."""
    header = orjson.dumps(
        {
            "version": VERSION,
            "created": time.time(),
            "storage_type": storage_type,
            "entries": len(entries),
            "due_entries": len(due),
            "hush_version": version,
        }
    )
    parts = [MAGIC, _U32.pack(len(header)), header]
    for key, value in entries:
        raw = key.encode("utf-8")
        parts += [b"E", _U32.pack(len(raw)), raw, _U32.pack(len(value)), value]
    for entry in due:
        raw = entry.key.encode("utf-8")
        parts += [b"D", _U32.pack(len(raw)), raw, _F64.pack(entry.due_at)]
    body = b"".join(parts)
    return body + _TRAILER + hashlib.sha256(body).digest()


def read_snapshot(blob: bytes) -> Snapshot:
    """Decode and fully check a snapshot; :class:`SnapshotError` says why it is refused."""
    if not blob.startswith(MAGIC):
        raise SnapshotError("not a Hush snapshot (missing the HUSH-SNAPSHOT header)")
    if len(blob) < len(MAGIC) + _U32.size + len(_TRAILER) + _DIGEST:
        raise SnapshotError("the snapshot is truncated")
    body, trailer = blob[: -len(_TRAILER) - _DIGEST], blob[-len(_TRAILER) - _DIGEST :]
    digest = trailer[len(_TRAILER) :]
    if trailer[: len(_TRAILER)] != _TRAILER or not constant_time_equal(
        hashlib.sha256(body).digest(), digest
    ):
        raise SnapshotError("the snapshot checksum does not match: the file is damaged or altered")
    reader = _Reader(body, len(MAGIC))
    try:
        header = orjson.loads(reader.take(reader.u32()))
    except orjson.JSONDecodeError:
        raise SnapshotError("the snapshot header is not valid JSON") from None
    if not isinstance(header, dict) or header.get("version") != VERSION:
        raise SnapshotError(f"unsupported snapshot version (this Hush reads version {VERSION})")
    entries: list[tuple[str, bytes]] = []
    due: list[DueEntry] = []
    while not reader.done:
        kind = reader.take(1)
        key = reader.key()
        if kind == b"E":
            entries.append((key, reader.take(reader.u32())))
        elif kind == b"D":
            due.append(DueEntry(key, _F64.unpack(reader.take(_F64.size))[0]))
        else:
            raise SnapshotError("the snapshot holds an unknown record type")
    if (len(entries), len(due)) != (header.get("entries"), header.get("due_entries")):
        raise SnapshotError("the snapshot's record counts do not match its header")
    return Snapshot(header, entries, due)


class _Reader:
    def __init__(self, data: bytes, offset: int) -> None:
        self._data = data
        self._offset = offset

    @property
    def done(self) -> bool:
        return self._offset >= len(self._data)

    def take(self, size: int) -> bytes:
        end = self._offset + size
        if end > len(self._data):
            raise SnapshotError("the snapshot is truncated inside a record")
        chunk = self._data[self._offset : end]
        self._offset = end
        return chunk

    def u32(self) -> int:
        value: int = _U32.unpack(self.take(_U32.size))[0]
        return value

    def key(self) -> str:
        raw = self.take(self.u32())
        try:
            key = raw.decode("utf-8")
            validate_key(key)
        except (UnicodeDecodeError, InvalidKeyError):
            raise SnapshotError("the snapshot holds an invalid storage key") from None
        return key
