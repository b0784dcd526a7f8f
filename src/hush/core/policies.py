"""The policy store: ACL policies in storage, and a compiled cache that is never stale.

Policies live under ``acl/<name>`` in the store's view (the core gives it ``sys/policy/``); the
*authorisation epoch* lives at ``epoch`` in the same view and changes in the same storage
transaction as every policy write or delete. :meth:`PolicyStore.get_many` and
:meth:`PolicyStore.acl` read the epoch once per call and drop every cached policy and ACL when
it moved, so a change made on any node that shares the storage is seen by the next request
everywhere, for the cost of one small read. Nothing is loaded at unseal.
"""

from __future__ import annotations

import builtins
import json
import secrets
from collections.abc import Iterable, Sequence
from urllib.parse import quote, unquote

from hush.barrier.view import LogicalStorage
from hush.core.acl import (
    ACL,
    DEFAULT_POLICY,
    DEFAULT_POLICY_TEXT,
    ROOT_POLICY,
    Policy,
    PolicyError,
    canonical_policy_name,
    parse_policy,
)
from hush.core.errors import HushError, InvalidRequest
from hush.storage.base import TxnOp

__all__ = ["EPOCH_KEY", "POLICY_PREFIX", "PolicyStore"]

EPOCH_KEY = "epoch"
POLICY_PREFIX = "acl/"

_ROOT = Policy(name=ROOT_POLICY, rules=(), raw="")
# Epoch bumps jump by a random amount: the storage interface has no compare-and-set, so two
# nodes bumping from the same value at once must still write different values (a plain +1
# would let one node keep serving what it cached between the two writes).
_EPOCH_JUMP = 2**32
_MAX_CACHED_POLICIES = 10_000
_MAX_CACHED_ACLS = 1_024


def _key(name: str) -> str:
    # Quoted so a name containing "/" stays one key and "epoch" can never collide.
    return POLICY_PREFIX + quote(name, safe="")


class PolicyStore:
    """ACL policies by name, with root and default built in and a cross-node-safe cache."""

    def __init__(self, storage: LogicalStorage) -> None:
        self._storage = storage
        self._policies: dict[str, Policy | None] = {}
        self._acls: dict[tuple[str, ...], ACL] = {}
        self._cache_epoch: int | None = None

    async def setup(self) -> None:
        """Create the ``default`` policy if it is missing; reads one key, loads nothing else."""
        self._invalidate()
        if await self._storage.get(_key(DEFAULT_POLICY)) is None:
            await self._commit(
                [TxnOp("put", _key(DEFAULT_POLICY), _encode(DEFAULT_POLICY, DEFAULT_POLICY_TEXT))]
            )

    async def epoch(self) -> int:
        """The current authorisation epoch in storage (0 before the first policy change)."""
        raw = await self._storage.get(EPOCH_KEY)
        return int(raw.decode("ascii")) if raw else 0

    async def get(self, name: str) -> Policy | None:
        """The policy called ``name`` (canonicalised), read from storage; ``None`` if missing."""
        canonical = canonical_policy_name(name)
        if canonical == ROOT_POLICY:
            return _ROOT
        return await self._load(canonical)

    async def put(self, name: str, text: str) -> Policy:
        """Create or replace a policy; ``root`` cannot be written, bad text is a PolicyError."""
        canonical = canonical_policy_name(name)
        if canonical == ROOT_POLICY:
            raise InvalidRequest('cannot update "root" policy')
        policy = parse_policy(canonical, text)
        await self._commit([TxnOp("put", _key(canonical), _encode(canonical, text))])
        return policy

    async def delete(self, name: str) -> None:
        """Delete a policy (missing is not an error); ``root`` and ``default`` are refused."""
        canonical = canonical_policy_name(name)
        if canonical in (ROOT_POLICY, DEFAULT_POLICY):
            raise InvalidRequest(f'cannot delete "{canonical}" policy')
        await self._commit([TxnOp("delete", _key(canonical))])

    async def list(self) -> builtins.list[str]:
        """Every policy name, sorted, with ``root`` last (as Vault lists them)."""
        entries = await self._storage.list(POLICY_PREFIX)
        names = sorted(unquote(e) for e in entries if not e.endswith("/"))
        return [*names, ROOT_POLICY]

    async def get_many(self, names: Iterable[str]) -> builtins.list[Policy]:
        """The policies named, from the cache when the epoch has not moved; missing are skipped.

        Names must already be canonical (token policy lists are stored that way): a name that
        :func:`canonical_policy_name` would change is skipped rather than normalised, so no
        stored spelling can turn into ``root`` here.
        """
        epoch = await self._sync_epoch()
        found: builtins.list[Policy] = []
        for name in dict.fromkeys(names):
            policy = await self._cached(name, epoch)
            if policy is not None:
                found.append(policy)
        return found

    async def acl(self, names: Sequence[str], epoch: int | None = None) -> ACL:
        """The compiled ACL of ``names`` (see :meth:`get_many`), cached until the epoch moves.

        ``epoch`` is the value the caller read from storage for this request (the core reads it
        once per request); without it the store reads it itself.
        """
        key = tuple(sorted(set(names)))
        epoch = await self._sync_epoch(epoch)
        cached = self._acls.get(key) if self._cache_epoch == epoch else None
        if cached is not None:
            return cached
        policies = [p for p in [await self._cached(n, epoch) for n in key] if p is not None]
        acl = ACL(policies)
        if self._cache_epoch == epoch:
            if len(self._acls) >= _MAX_CACHED_ACLS:
                self._acls.clear()
            self._acls[key] = acl
        return acl

    # --- internals ------------------------------------------------------------------------

    async def _sync_epoch(self, known: int | None = None) -> int:
        """Read the epoch (the one storage read of a cached call); drop caches if it moved."""
        epoch = await self.epoch() if known is None else known
        if epoch != self._cache_epoch:
            self._policies.clear()
            self._acls.clear()
            self._cache_epoch = epoch
        return epoch

    async def _cached(self, name: str, epoch: int) -> Policy | None:
        if not _is_canonical(name):
            return None
        if name == ROOT_POLICY:
            return _ROOT
        # The cache may only answer a call that read the epoch it was filled under: a slower
        # call that read an older epoch can refill it after a newer one cleared it.
        if self._cache_epoch == epoch and name in self._policies:
            return self._policies[name]
        policy = await self._load(name)
        # Only cache what was loaded after reading the epoch that is still current, so an entry
        # can never outlive a change made while it was being loaded.
        if self._cache_epoch == epoch:
            if len(self._policies) >= _MAX_CACHED_POLICIES:
                self._policies.clear()
            self._policies[name] = policy
        return policy

    async def _load(self, name: str) -> Policy | None:
        raw = await self._storage.get(_key(name))
        if raw is None:
            return None
        text = json.loads(raw)["policy"]
        try:
            return parse_policy(name, text)
        except PolicyError:
            # Fail closed: skipping it could drop the deny rules it holds.
            raise HushError(f'stored policy "{name}" cannot be parsed') from None

    async def _commit(self, ops: Sequence[TxnOp]) -> None:
        """Apply ``ops`` and move the epoch in one transaction, then drop local caches."""
        current = await self.epoch()
        new = current + 1 + secrets.randbelow(_EPOCH_JUMP)
        try:
            await self._storage.transaction([*ops, TxnOp("put", EPOCH_KEY, str(new).encode())])
        finally:
            self._invalidate()

    def _invalidate(self) -> None:
        self._policies.clear()
        self._acls.clear()
        self._cache_epoch = None


def _encode(name: str, text: str) -> bytes:
    return json.dumps({"name": name, "policy": text}).encode()


def _is_canonical(name: str) -> bool:
    try:
        return canonical_policy_name(name) == name
    except InvalidRequest:
        return False
