"""The authorisation epoch: one small value that moves whenever routing or authorisation changes.

Every change that affects who may do what, or which backend serves a path (policy writes, mount
and auth-method changes, audit devices, keyring rotation), commits a new epoch value *in the same
storage transaction* as the change itself. Every request reads the epoch once; a node whose
cached state was built under another value reloads it before it routes or authorises anything.
Nodes sharing one PostgreSQL database therefore never act on a change another node has already
acknowledged, without any message passing (see docs/architecture.md, "All-active cluster").

The value lives at the policy store's historical key, so stores written before it existed keep
working; it is a random number, not a counter (two nodes bumping at once still both move it).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from hush.barrier.view import LogicalStorage
from hush.storage.base import TxnOp

__all__ = ["EPOCH_PATH", "AuthorisationEpoch", "bump_op", "parse_epoch", "prefixed"]

EPOCH_PATH = "sys/policy/epoch"
_JUMP_BITS = 62


class AuthorisationEpoch:
    """Reads the epoch and commits changes together with a new epoch value."""

    def __init__(self, storage: LogicalStorage) -> None:
        self._storage = storage

    async def read(self) -> int:
        """The current epoch (0 before the first change)."""
        return parse_epoch(await self._storage.get(EPOCH_PATH))

    async def commit(self, ops: Sequence[TxnOp], prefix: str = "") -> None:
        """Apply ``ops`` (keys relative to ``prefix``) and move the epoch, atomically."""
        await self._storage.transaction([*prefixed(ops, prefix), bump_op()])


def parse_epoch(raw: bytes | None) -> int:
    """The epoch stored as ``raw`` (0 when never written)."""
    return int(raw.decode("ascii")) if raw else 0


def bump_op() -> TxnOp:
    """The operation that moves the epoch to a fresh value (add it to a transaction)."""
    return TxnOp("put", EPOCH_PATH, str(secrets.randbits(_JUMP_BITS) + 1).encode("ascii"))


def prefixed(ops: Sequence[TxnOp], prefix: str) -> list[TxnOp]:
    """``ops`` with ``prefix`` put in front of every key."""
    return [TxnOp(op.op, prefix + op.key, op.value) for op in ops]
