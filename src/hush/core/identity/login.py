"""Identity at login: find or create the entity and alias of a login, sync external groups.

Race safety: the entity and alias created for a first login get ids derived (salted HMAC) from
the (mount accessor, alias name) pair, and the alias-factor index key is derived from the same
pair. Two first logins racing, in this process or on two nodes, therefore write the same records
under the same keys: one entity, one alias, whatever the interleaving. In this process the
identity lock also serialises them, so the second one finds the first one's records.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from hush.core.identity.model import Entity, EntityAlias, Group, GroupAlias
from hush.core.identity.store import IdentityStore
from hush.storage.base import TxnOp

__all__ = ["entity_for_login"]


async def _create(
    store: IdentityStore,
    accessor: str,
    name: str,
    metadata: dict[str, str],
    stale: EntityAlias | None,
) -> str:
    entity_id = store.derived_id("entity", accessor, name)
    entity = await store.get(Entity, entity_id)
    ops: list[TxnOp] = []
    if stale is not None:
        # An alias whose entity is gone: replace it rather than leave it dangling.
        ops += [
            store.delete(stale),
            store.unindex(f"entity-aliases/{stale.canonical_id}/{stale.id}"),
        ]
    if entity is None:
        entity_name = f"entity_{entity_id[:8]}"
        if await store.get_indexed(Entity, store.entity_name_key(entity_name)) is not None:
            entity_name = f"entity_{entity_id}"
        entity = Entity(id=entity_id, name=entity_name)
        ops += [store.put(entity), store.index(store.entity_name_key(entity.name), entity.id)]
    alias = EntityAlias(
        id=store.derived_id("entity-alias", accessor, name),
        canonical_id=entity.id,
        mount_accessor=accessor,
        name=name,
        metadata=metadata,
    )
    ops += [
        store.put(alias),
        store.index(store.alias_factor_key(accessor, name), alias.id),
        store.index(f"entity-aliases/{entity.id}/{alias.id}"),
    ]
    await store.commit(ops)
    return entity.id


async def _external_groups(
    store: IdentityStore, entity_id: str, accessor: str, group_names: Sequence[str]
) -> tuple[set[str], set[str]]:
    """The external groups (of this mount) the login names, and those the entity is in now.

    Only groups whose alias lives on the login's own mount count, as in Vault: a login through
    one method never removes memberships another method established.
    """
    wanted: set[str] = set()
    for group_name in dict.fromkeys(group_names):
        alias = await store.get_indexed(
            GroupAlias, store.group_alias_factor_key(accessor, group_name)
        )
        if alias is not None:
            wanted.add(alias.canonical_id)
    current: set[str] = set()
    for group_id in await store.groups_of(entity_id):
        group = await store.get(Group, group_id)
        if group is None or group.type != "external" or not group.alias_id:
            continue
        alias = await store.get(GroupAlias, group.alias_id)
        if alias is not None and alias.mount_accessor == accessor:
            current.add(group_id)
    return wanted, current


async def _sync_external_groups(
    store: IdentityStore, entity_id: str, accessor: str, group_names: Sequence[str]
) -> None:
    """Make the entity a member of exactly the external groups (of this mount) the login named."""
    wanted, current = await _external_groups(store, entity_id, accessor, group_names)
    if wanted == current:
        return
    ops: list[TxnOp] = []
    for group_id in sorted(wanted ^ current):
        group = await store.get(Group, group_id)
        if group is None or group.type != "external":
            continue
        members = [m for m in group.member_entity_ids if m != entity_id]
        if group_id in wanted:
            members.append(entity_id)
        old = Group(id=group.id, name=group.name, member_entity_ids=list(group.member_entity_ids))
        group.member_entity_ids = members
        group.last_update_time = time.time()
        group.modify_index += 1
        ops += [store.put(group), *store.group_membership_ops(old, group)]
    if ops:
        await store.commit(ops)


async def entity_for_login(
    store: IdentityStore,
    accessor: str,
    alias_name: str,
    metadata: Mapping[str, str],
    group_aliases: Sequence[str] = (),
) -> str:
    """The id of the entity a login belongs to, created on first login; metadata kept current."""
    wanted_metadata = {str(k): str(v) for k, v in metadata.items()}
    factor = store.alias_factor_key(accessor, alias_name)
    # The common case, a returning login with nothing to change, reads only and takes no lock.
    alias = await store.get_indexed(EntityAlias, factor)
    entity = await store.get(Entity, alias.canonical_id) if alias is not None else None
    if alias is not None and entity is not None and alias.metadata == wanted_metadata:
        wanted, current = await _external_groups(store, entity.id, accessor, group_aliases)
        if wanted == current:
            return entity.id
    async with store.lock:
        alias = await store.get_indexed(EntityAlias, factor)
        entity = await store.get(Entity, alias.canonical_id) if alias is not None else None
        if alias is None or entity is None:
            entity_id = await _create(store, accessor, alias_name, wanted_metadata, alias)
        else:
            entity_id = entity.id
            if alias.metadata != wanted_metadata:
                alias.metadata = wanted_metadata
                alias.last_update_time = time.time()
                await store.commit([store.put(alias)])
        await _sync_external_groups(store, entity_id, accessor, group_aliases)
    return entity_id
