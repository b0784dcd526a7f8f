"""Where leases live: entries behind the barrier, expiry in the storage due-time index.

Layout inside ``sys/expire/`` (values encrypted by the barrier; keys, as everywhere, are not):

* ``id/<lease id>`` — the :class:`~hush.core.expiration.entry.LeaseEntry`;
* ``token/<token hash>/<sha256(lease id)>`` — the lease ids issued to (or standing for) a
  token, so revoking a token is a prefix listing, not a scan;
* ``irrevocable/<sha256(lease id)>`` — leases whose revocation gave up, for ``sys/leases``.

The due-time index holds ``lease/<lease id>`` at the time the lease must next be looked at (its
expiry, or its next revocation attempt). Writes go index first, entry second; deletes entry first,
index second: a crash in between leaves a due entry without a lease, which the expiry loop drops
when it comes due, and never a lease that no one will expire. A queued revocation
(:meth:`LeaseStore.bring_forward`) goes the other way: the lease already has a due entry, and
the expiry loop must never claim the earlier one and read the lease as it was before.
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Sequence
from typing import Protocol

from hush.barrier.view import LogicalStorage
from hush.core.expiration.entry import LeaseEntry, index_name
from hush.storage.base import DueEntry, InvalidKeyError, TxnOp, walk_keys

__all__ = ["DUE_PREFIX", "DueIndex", "LeaseStore", "valid_lease_id"]

DUE_PREFIX = "lease/"
_ID = "id/"
_TOKEN = "token/"
_IRREVOCABLE = "irrevocable/"


class DueIndex(Protocol):
    """The due-time index operations the barrier passes through to storage."""

    async def schedule(self, key: str, due_at: float) -> None:
        """Insert or move ``key``."""

    async def unschedule(self, key: str) -> None:
        """Remove ``key``."""

    async def unschedule_many(self, keys: Sequence[str]) -> None:
        """Remove several keys."""

    async def claim_due(
        self, now: float, limit: int, hold: float = 30.0, *, prefix: str = ""
    ) -> list[DueEntry]:
        """Claim due entries under ``prefix``."""


def valid_lease_id(lease_id: str) -> bool:
    """Whether ``lease_id`` could name a lease (callers answer "invalid lease" otherwise)."""
    if not lease_id or lease_id.startswith("/") or lease_id.endswith("/"):
        return False
    return all(part not in ("", ".", "..") for part in lease_id.split("/"))


class LeaseStore:
    """Reads and writes lease entries and their indexes; knows nothing of backends or tokens."""

    def __init__(self, storage: LogicalStorage, due: DueIndex) -> None:
        self._storage = storage
        self._due = due

    # -- entries -----------------------------------------------------------------------------

    async def load(self, lease_id: str) -> LeaseEntry | None:
        """The entry of ``lease_id``, or ``None`` (also for ids no lease could have)."""
        if not valid_lease_id(lease_id):
            return None
        try:
            blob = await self._storage.get(_ID + lease_id)
        except InvalidKeyError:
            return None
        return LeaseEntry.from_json(blob) if blob is not None else None

    async def create(self, entry: LeaseEntry) -> None:
        """Persist a new lease with its token index and schedule its expiry."""
        if entry.expire_time:
            await self._due.schedule(DUE_PREFIX + entry.lease_id, entry.expire_time)
        ops = [TxnOp("put", _ID + entry.lease_id, entry.to_json())]
        if entry.token_hash:
            ops.append(TxnOp("put", self._token_key(entry), entry.lease_id.encode()))
        await self._storage.transaction(ops)

    async def save(self, entry: LeaseEntry, due_at: float | None) -> None:
        """Update an entry; ``due_at`` moves it in the due-time index (``0``: take it out)."""
        if due_at:
            await self._due.schedule(DUE_PREFIX + entry.lease_id, due_at)
        ops = [TxnOp("put", _ID + entry.lease_id, entry.to_json())]
        if entry.irrevocable:
            ops.append(
                TxnOp("put", _IRREVOCABLE + index_name(entry.lease_id), entry.lease_id.encode())
            )
        await self._storage.transaction(ops)
        if due_at == 0:
            await self._due.unschedule(DUE_PREFIX + entry.lease_id)

    async def bring_forward(self, entry: LeaseEntry, due_at: float) -> None:
        """Update an entry whose due time moves *earlier* (a queued revocation): entry first.

        The reverse of :meth:`save`'s order on purpose: the expiry loop may claim the moved due
        entry the moment it is written, and must then read the updated lease (``expire_time``
        already passed), not the old one it would put back at the old expiry. A crash in
        between leaves the lease at its old due time, where it is expired anyway.
        """
        await self.save(entry, None)
        await self._due.schedule(DUE_PREFIX + entry.lease_id, due_at)

    async def delete(self, entry: LeaseEntry) -> None:
        """Remove a lease, its indexes and its due entry."""
        await self.delete_many([entry])

    async def delete_many(self, entries: Sequence[LeaseEntry]) -> None:
        """Remove leases with their indexes in one transaction, then their due entries at once."""
        ops: builtins.list[TxnOp] = []
        for entry in entries:
            ops += [
                TxnOp("delete", _ID + entry.lease_id),
                TxnOp("delete", _IRREVOCABLE + index_name(entry.lease_id)),
            ]
            if entry.token_hash:
                ops.append(TxnOp("delete", self._token_key(entry)))
        if not ops:
            return
        await self._storage.transaction(ops)
        await self._due.unschedule_many([DUE_PREFIX + entry.lease_id for entry in entries])

    async def unschedule(self, lease_id: str) -> None:
        """Take ``lease_id`` out of the due-time index."""
        await self._due.unschedule(DUE_PREFIX + lease_id)

    async def claim_due(self, now: float, limit: int, hold: float) -> builtins.list[str]:
        """Lease ids due at ``now`` (at most ``limit``), held for ``hold`` seconds."""
        claimed = await self._due.claim_due(now, limit, hold, prefix=DUE_PREFIX)
        return [entry.key[len(DUE_PREFIX) :] for entry in claimed]

    # -- listings ----------------------------------------------------------------------------

    async def list(self, prefix: str) -> builtins.list[str]:
        """Immediate children of ``prefix`` (``""`` or ending in ``/``) among lease ids."""
        try:
            return await self._storage.list(_ID + prefix)
        except InvalidKeyError:
            return []

    async def walk(self, prefix: str) -> AsyncIterator[str]:
        """Every lease id under the folder ``prefix``, depth first, one folder at a time."""
        async for lease_id in walk_keys(self.list, prefix):
            yield lease_id

    async def for_token(self, token_hash: str) -> builtins.list[str]:
        """Lease ids issued to (or standing for) the token stored under ``token_hash``."""
        folder = f"{_TOKEN}{token_hash}/"
        ids: builtins.list[str] = []
        for name in await self._storage.list(folder):
            blob = None if name.endswith("/") else await self._storage.get(folder + name)
            if blob is not None:
                ids.append(blob.decode())
        return ids

    async def drop_token_index(self, token_hash: str, lease_id: str) -> None:
        """Remove one by-token index entry whose lease is gone."""
        await self._storage.delete(f"{_TOKEN}{token_hash}/{index_name(lease_id)}")

    async def irrevocable(self) -> AsyncIterator[LeaseEntry]:
        """Every lease marked irrevocable."""
        for name in await self._storage.list(_IRREVOCABLE):
            blob = await self._storage.get(_IRREVOCABLE + name)
            entry = await self.load(blob.decode()) if blob is not None else None
            if entry is not None and entry.irrevocable:
                yield entry

    @staticmethod
    def _token_key(entry: LeaseEntry) -> str:
        return f"{_TOKEN}{entry.token_hash}/{index_name(entry.lease_id)}"
