"""Reading and writing secret records and version values in the mount's storage view.

A name is percent-quoted in storage keys (names may contain ``/``), so listing ``secret/`` sees
every secret at one level. A record and the values it gains or loses change in one transaction.
Values of a secret with a customer KMS key are stored encrypted under it (:mod:`.keys`).
Read-modify-writes of one secret hold the storage's ``exclusive`` lock on its name, which covers
every worker process (SQLite) and every node (PostgreSQL advisory lock).
"""

from __future__ import annotations

import base64
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote, unquote

import orjson

from hush.barrier.view import LogicalStorage
from hush.crypto import constant_time_equal
from hush.engines.awssm.keys import ValueCipher
from hush.engines.awssm.model import SecretRecord
from hush.framework.backend import SystemView
from hush.storage.base import TxnOp

__all__ = ["SecretStore", "SecretValue"]

_SECRET: Final = "secret/"
_VALUE: Final = "value/"
_LOCK: Final = "lock/"


@dataclass(frozen=True, slots=True, eq=False)
class SecretValue:
    """A version's value: exactly one of a string or bytes. Its repr shows neither."""

    string: str | None = None
    binary: bytes | None = None

    def __repr__(self) -> str:
        kind = "string" if self.string is not None else "binary"
        return f"SecretValue(<{kind} redacted>)"

    def same_as(self, other: SecretValue | None) -> bool:
        """Whether ``other`` holds the same value (constant-time: one side may be a guess)."""
        return other is not None and constant_time_equal(self.to_bytes(), other.to_bytes())

    def to_bytes(self) -> bytes:
        """The storage form."""
        if self.string is not None:
            return orjson.dumps({"s": self.string})
        return orjson.dumps({"b": base64.b64encode(self.binary or b"").decode()})

    @classmethod
    def from_bytes(cls, blob: bytes) -> SecretValue:
        """The inverse of :meth:`to_bytes`."""
        raw = orjson.loads(blob)
        if "s" in raw:
            return cls(string=str(raw["s"]))
        return cls(binary=base64.b64decode(raw["b"]))

    def wire(self) -> dict[str, str]:
        """``SecretString`` or ``SecretBinary`` (base64, as the JSON protocol sends blobs)."""
        if self.string is not None:
            return {"SecretString": self.string}
        return {"SecretBinary": base64.b64encode(self.binary or b"").decode()}


def _key(name: str) -> str:
    return quote(name, safe="")


class SecretStore:
    """Secret records and values inside one ``awssm`` mount."""

    def __init__(self, storage: LogicalStorage, system: SystemView | None = None) -> None:
        self._storage = storage
        self.cipher = ValueCipher(system)

    def lock(self, name: str) -> AbstractAsyncContextManager[None]:
        """The lock every read-modify-write of ``name`` holds, across processes and nodes.

        Never held twice at once by one task (``Storage.exclusive`` does not nest).
        """
        return self._storage.exclusive(_LOCK + _key(name))

    @property
    def storage(self) -> LogicalStorage:
        """The mount's storage view (for engine settings kept beside the secrets)."""
        return self._storage

    async def get(self, name: str) -> SecretRecord | None:
        """The record of ``name``, or ``None``."""
        blob = await self._storage.get(_SECRET + _key(name))
        return SecretRecord.from_bytes(blob) if blob is not None else None

    async def names(self) -> list[str]:
        """Every secret name (including those scheduled for deletion)."""
        return [unquote(k) for k in await self._storage.list(_SECRET) if not k.endswith("/")]

    async def value(self, record: SecretRecord, version_id: str) -> SecretValue | None:
        """One version's value (decrypted: ``DecryptionFailure`` when its KMS key refuses)."""
        blob = await self._storage.get(f"{_VALUE}{_key(record.name)}/{version_id}")
        if blob is None:
            return None
        return SecretValue.from_bytes(await self.cipher.open(record, version_id, blob))

    async def save(
        self,
        record: SecretRecord,
        *,
        new_values: dict[str, SecretValue] | None = None,
        dropped_versions: list[str] | None = None,
    ) -> None:
        """Write the record, its new values and drop pruned versions, atomically.

        New values are encrypted under the record's KMS key first, so a key that refuses
        (``EncryptionFailure``) leaves nothing written.
        """
        name = _key(record.name)
        ops = [TxnOp("put", _SECRET + name, record.to_bytes())]
        for vid, value in (new_values or {}).items():
            stored = await self.cipher.seal(record, vid, value.to_bytes())
            ops.append(TxnOp("put", f"{_VALUE}{name}/{vid}", stored))
        for vid in dropped_versions or []:
            ops.append(TxnOp("delete", f"{_VALUE}{name}/{vid}"))
        await self._storage.transaction(ops)

    async def touch(self, record: SecretRecord) -> None:
        """Write the record alone (access dates)."""
        await self._storage.put(_SECRET + _key(record.name), record.to_bytes())

    async def purge(self, record: SecretRecord) -> None:
        """Delete the secret and every value, atomically."""
        name = _key(record.name)
        ops = [TxnOp("delete", _SECRET + name)]
        ops += [TxnOp("delete", f"{_VALUE}{name}/{vid}") for vid in record.versions]
        await self._storage.transaction(ops)
