"""Where TOTP state lives in the mount's (barrier-encrypted) storage view.

* ``key/<name>``: the key (:meth:`TotpKey.to_bytes`).
* ``used/<name>``: the codes of that key already submitted for validation, each with the time
  it may be accepted again (Vault keeps these in a per-process cache; Hush keeps them in storage
  so a code used on one worker process or node is refused on every other one).

A check-and-record on ``used/<name>`` runs under the store-wide lock ``lock/<name>``
(:meth:`Storage.exclusive`), so parallel validations of one code see exactly one success.
Expired entries are dropped whenever the record is written and by :meth:`TotpStore.tidy`.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

import orjson

from hush.barrier.view import LogicalStorage
from hush.engines.totp.model import TotpKey
from hush.storage.base import TxnOp

__all__ = ["TotpStore"]

_KEY_PREFIX = "key/"
_USED_PREFIX = "used/"


class TotpStore:
    """Keys and used-code records of one ``totp`` mount."""

    def __init__(self, storage: LogicalStorage) -> None:
        self._storage = storage

    def lock(self, name: str) -> AbstractAsyncContextManager[None]:
        """The store-wide lock serialising validations of key ``name``."""
        return self._storage.exclusive("lock/" + name)

    async def get(self, name: str) -> TotpKey | None:
        """The key ``name``, or ``None``."""
        blob = await self._storage.get(_KEY_PREFIX + name)
        return TotpKey.from_bytes(blob) if blob is not None else None

    async def put(self, name: str, key: TotpKey) -> None:
        """Store (or replace) key ``name``; codes recorded for an older key are forgotten."""
        await self._storage.transaction(
            [TxnOp("put", _KEY_PREFIX + name, key.to_bytes()), TxnOp("delete", _USED_PREFIX + name)]
        )

    async def delete(self, name: str) -> None:
        """Remove key ``name`` and its used-code record."""
        await self._storage.transaction(
            [TxnOp("delete", _KEY_PREFIX + name), TxnOp("delete", _USED_PREFIX + name)]
        )

    async def names(self) -> list[str]:
        """Every key name, sorted."""
        return sorted(await self._storage.list(_KEY_PREFIX))

    async def used_codes(self, name: str, now: float) -> dict[str, float]:
        """Codes of ``name`` that may not be accepted before their recorded time (unexpired)."""
        blob = await self._storage.get(_USED_PREFIX + name)
        if blob is None:
            return {}
        recorded: dict[str, float] = orjson.loads(blob)
        return {code: until for code, until in recorded.items() if until > now}

    async def put_used_codes(self, name: str, codes: dict[str, float]) -> None:
        """Replace the used-code record of ``name`` (callers hold :meth:`lock`)."""
        if codes:
            await self._storage.put(_USED_PREFIX + name, orjson.dumps(codes))
        else:
            await self._storage.delete(_USED_PREFIX + name)

    async def tidy(self, now: float) -> int:
        """Drop expired used-code entries of every key; returns how many were dropped."""
        dropped = 0
        for name in await self._storage.list(_USED_PREFIX):
            async with self.lock(name):
                blob = await self._storage.get(_USED_PREFIX + name)
                if blob is None:
                    continue
                recorded: dict[str, float] = orjson.loads(blob)
                live = {code: until for code, until in recorded.items() if until > now}
                if len(live) != len(recorded):
                    dropped += len(recorded) - len(live)
                    await self.put_used_codes(name, live)
        return dropped
