"""Keeping one node's routing and authorisation state in step with the shared store.

See :mod:`hush.core.epoch` for the authorisation epoch and docs/architecture.md ("All-active
cluster") for the guarantee. This class owns the per-request epoch check, the reload it triggers,
the read-modify-write discipline for the mount tables and the cluster-safe keyring rotation.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from hush.barrier.barrier import Barrier, BarrierKeyStatus
from hush.core.audit import AuditBroker
from hush.core.epoch import EPOCH_PATH, AuthorisationEpoch, bump_op, parse_epoch
from hush.core.errors import Sealed
from hush.core.mounts import MountTable
from hush.core.tokens import UNREAD, TokenStore, Unread
from hush.crypto import SecretBytes
from hush.storage.base import TxnOp

__all__ = ["ClusterSync"]


class ClusterSync:
    """Reloads mounts, auth methods, audit devices and keyring when the epoch moved."""

    def __init__(
        self,
        *,
        barrier: Barrier,
        epoch: AuthorisationEpoch,
        tokens: TokenStore,
        token_prefix: str,
        tables: tuple[MountTable, MountTable],
        audit: AuditBroker,
        lock: asyncio.Lock,
    ) -> None:
        self._barrier = barrier
        self._epoch = epoch
        self._tokens = tokens
        self._token_prefix = token_prefix
        self._tables = tables
        self._audit = audit
        # The core's lock: reloads never interleave with a local mount change or a seal.
        self._lock = lock
        # The epoch this node's mount tables, audit devices and keyring match.
        self._seen: int | None = None

    async def mark_loaded(self) -> None:
        """Record the current epoch; call on unseal *before* loading what it guards."""
        self._seen = await self._epoch.read()

    def forget(self) -> None:
        """Nothing is loaded any more (on seal)."""
        self._seen = None

    async def read_epoch_and_token(
        self, token: SecretBytes | None
    ) -> tuple[int, bytes | Unread | None]:
        """The epoch and (for a service token) its stored entry, in one storage round trip."""
        key = self._tokens.entry_key(token) if token is not None and len(token) > 0 else None
        if key is None:
            return parse_epoch(await self._barrier.get(EPOCH_PATH)), UNREAD
        raw_epoch, stored = await self._barrier.get_many([EPOCH_PATH, self._token_prefix + key])
        return parse_epoch(raw_epoch), stored

    async def sync(self, known: int | None = None) -> int:
        """If the epoch (``known``, or read now) moved, reload what it guards; return it.

        Policies and ACLs are checked against the returned value by the policy store; tokens
        are never cached, so revocation needs nothing here.
        """
        epoch = await self._epoch.read() if known is None else known
        if epoch == self._seen:
            return epoch
        async with self._lock:
            if self._barrier.sealed:
                raise Sealed
            epoch = await self._epoch.read()
            if epoch != self._seen:
                await self._barrier.reload_keyring()
                for table in self._tables:
                    await table.sync()
                await self._audit.sync()
                self._seen = epoch
        return epoch

    def changing(self, table: MountTable) -> AbstractAsyncContextManager[None]:
        """Hold the table's store-wide lock and start from the stored table (read-modify-write)."""
        return self._changing(table)

    @asynccontextmanager
    async def _changing(self, table: MountTable) -> AsyncIterator[None]:
        async with self._lock, self._barrier.exclusive(table.lock_name):
            await table.sync()
            yield

    async def rotate_keyring(self) -> BarrierKeyStatus:
        """Add a keyring term (``sys/rotate``); every node picks it up on its next request."""
        bump = bump_op()
        assert bump.value is not None
        sealed_bump = TxnOp("put", bump.key, self._barrier.seal_value(bump.key, bump.value))
        async with self._lock:
            return await self._barrier.rotate(extra=[sealed_bump])
