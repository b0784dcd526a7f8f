"""A token's identity at request time: its entity's policies, its groups' policies, disabled.

:meth:`IdentityResolver.resolve` is the one function the request pipeline calls. It costs one
small storage read (the identity epoch) when the answer is cached; any identity write moves the
epoch, so a policy added to a group applies to existing tokens on their next request, on every
node. A cluster-wide authorisation epoch plugs in as ``epoch_source`` (any async callable that
returns a value which changes whenever identity may have changed).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from hush.core.acl import ROOT_POLICY, canonical_policy_name
from hush.core.errors import InvalidRequest
from hush.core.identity.model import Entity, Group
from hush.core.identity.store import IdentityStore

__all__ = ["IdentityResolver", "ResolvedIdentity", "identity_policy_names"]

_MAX_CACHED = 10_000


@dataclass(frozen=True, slots=True)
class ResolvedIdentity:
    """What identity adds to a token: policies and group ids; ``exists``/``disabled`` gate it."""

    entity_id: str
    exists: bool
    disabled: bool = False
    policies: tuple[str, ...] = ()
    direct_group_ids: tuple[str, ...] = ()
    inherited_group_ids: tuple[str, ...] = ()


def identity_policy_names(names: list[str]) -> list[str]:
    """Canonical policy names that identity may grant: never ``root``, never an invalid name.

    Writes already refuse ``root``; this is the request-time guard for anything stored before.
    """
    found: set[str] = set()
    for name in names:
        try:
            canonical = canonical_policy_name(name)
        except InvalidRequest:
            continue
        if canonical != ROOT_POLICY:
            found.add(canonical)
    return sorted(found)


class IdentityResolver:
    """Resolves entity ids to :class:`ResolvedIdentity`, cached until the identity epoch moves."""

    def __init__(
        self, store: IdentityStore, epoch_source: Callable[[], Awaitable[int]] | None = None
    ) -> None:
        self._store = store
        self._epoch_source = epoch_source or store.epoch
        self._cache: dict[str, ResolvedIdentity] = {}
        self._cache_epoch: int | None = None

    def invalidate(self) -> None:
        """Drop the cache (on seal, and after local writes)."""
        self._cache.clear()
        self._cache_epoch = None

    async def resolve(self, entity_id: str) -> ResolvedIdentity:
        """The identity of ``entity_id`` as of now (one storage read when cached)."""
        epoch = await self._epoch_source()
        if epoch != self._cache_epoch:
            self._cache.clear()
            self._cache_epoch = epoch
        cached = self._cache.get(entity_id)
        if cached is not None:
            return cached
        resolved = await self._compute(entity_id)
        # Only cache what was computed under the epoch that is still current.
        if self._cache_epoch == epoch:
            if len(self._cache) >= _MAX_CACHED:
                self._cache.clear()
            self._cache[entity_id] = resolved
        return resolved

    async def _compute(self, entity_id: str) -> ResolvedIdentity:
        entity = await self._store.get(Entity, entity_id)
        if entity is None:
            # Vault: tokens of an entity merged away act for the entity it was merged into.
            entity = await self._store.get_indexed(Entity, f"merged/{entity_id}")
        if entity is None:
            return ResolvedIdentity(entity_id, exists=False)
        entity_id = entity.id
        direct = sorted(await self._store.groups_of(entity_id))
        policies = list(entity.policies)
        seen: set[str] = set()
        pending = list(direct)
        while pending:
            group_id = pending.pop()
            if group_id in seen:
                continue
            seen.add(group_id)
            group = await self._store.get(Group, group_id)
            if group is None:
                continue
            policies += group.policies
            pending += await self._store.parents_of(group_id)
        return ResolvedIdentity(
            entity_id,
            exists=True,
            disabled=entity.disabled,
            policies=tuple(identity_policy_names(policies)),
            direct_group_ids=tuple(direct),
            inherited_group_ids=tuple(sorted(seen - set(direct))),
        )
