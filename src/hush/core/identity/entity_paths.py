"""``identity/entity*``: create, read, update, delete, list, merge and batch-delete entities."""

from __future__ import annotations

import time
import uuid
from typing import Any

from hush.core.errors import InvalidRequest
from hush.core.identity.model import Entity, EntityAlias, Group
from hush.core.identity.named_paths import (
    NamedKind,
    named_record_paths,
    update_name_and_policies,
)
from hush.core.identity.service import IdentityService
from hush.core.identity.store import valid_id
from hush.core.request import Request, Response
from hush.core.system.common import ops
from hush.framework.fields import Field, FieldData, FieldType
from hush.framework.path import Path
from hush.storage.base import TxnOp

__all__ = ["delete_entity_ops", "entity_paths"]

_ENTITY_FIELDS = {
    "id": Field(FieldType.STRING, "ID of the entity (to update an existing one)."),
    "name": Field(FieldType.STRING, "Name of the entity (generated when absent)."),
    "metadata": Field(FieldType.KV_PAIRS, "Metadata (key=value pairs) of the entity."),
    "policies": Field(FieldType.COMMA_STRING_LIST, "Policies the entity's tokens gain."),
    "disabled": Field(FieldType.BOOL, "Refuse every token of the entity while set."),
}


async def delete_entity_ops(service: IdentityService, entity: Entity) -> list[TxnOp]:
    """Operations deleting an entity, its aliases and its group memberships."""
    store = service.store
    ops_: list[TxnOp] = [store.delete(entity), store.unindex(store.entity_name_key(entity.name))]
    for alias in await store.aliases_of(entity.id):
        ops_ += [
            store.delete(alias),
            store.unindex(store.alias_factor_key(alias.mount_accessor, alias.name)),
            store.unindex(f"entity-aliases/{entity.id}/{alias.id}"),
        ]
    for group_id in await store.groups_of(entity.id):
        group = await store.get(Group, group_id)
        if group is None:
            ops_.append(store.unindex(f"entity-groups/{entity.id}/{group_id}"))
            continue
        old = Group(id=group.id, name=group.name, member_entity_ids=list(group.member_entity_ids))
        group.member_entity_ids = [m for m in group.member_entity_ids if m != entity.id]
        group.modify_index += 1
        ops_ += [store.put(group), *store.group_membership_ops(old, group)]
    return ops_


def entity_paths(service: IdentityService) -> list[Path]:
    """The entity endpoints."""
    store = service.store

    async def save(fields: FieldData, entity: Entity | None, name: str) -> Response | None:
        created = entity is None
        if entity is None:
            entity_id = str(uuid.uuid4())
            entity = Entity(id=entity_id, name=name or f"entity_{entity_id[:8]}")
        ops_ = update_name_and_policies(store, store.entity_name_key, entity, fields, name)
        if fields.has("disabled"):
            entity.disabled = fields.boolean("disabled")
        entity.last_update_time = time.time()
        ops_ += [store.put(entity), store.index(store.entity_name_key(entity.name), entity.id)]
        await store.commit(ops_)
        if not created:
            return None
        return Response(data={"id": entity.id, "name": entity.name, "aliases": None})

    async def delete_ops(entity: Entity) -> list[TxnOp]:
        return await delete_entity_ops(service, entity)

    async def key_info(entity: Entity) -> dict[str, Any]:
        info: dict[str, Any] = {"name": entity.name}
        aliases = await store.aliases_of(entity.id)
        if aliases:
            info["aliases"] = [
                {"id": a.id, "name": a.name, "mount_accessor": a.mount_accessor} for a in aliases
            ]
        return info

    async def batch_delete(request: Request, fields: FieldData) -> None:
        """Delete many entities at once (unknown ids are skipped)."""
        ids = fields.strings("entity_ids")
        if not ids:
            raise InvalidRequest("missing entity_ids")
        async with store.lock:
            for entity_id in ids:
                entity = await store.get(Entity, entity_id) if valid_id(entity_id) else None
                if entity is not None:
                    await store.commit(await delete_entity_ops(service, entity))

    async def merge(request: Request, fields: FieldData) -> None:
        """Merge entities into ``to_entity_id``: aliases, policies and memberships move."""
        async with store.lock:
            await _merge(service, fields)

    kind = NamedKind(
        kind="entity",
        plural="entities",
        article="an",
        record=Entity,
        fields=_ENTITY_FIELDS,
        name_key=store.entity_name_key,
        save=save,
        delete_ops=delete_ops,
        describe=service.describe_entity,
        key_info=key_info,
        delete_summary="Delete an entity, its aliases and memberships.",
        list_summary="List entity ids, with names and aliases in ``key_info``.",
    )
    return [
        *named_record_paths(service, kind),
        Path(
            "entity/batch-delete",
            "Delete many entities.",
            ops(update=batch_delete),
            fields={"entity_ids": Field(FieldType.COMMA_STRING_LIST, "Entities to delete.")},
        ),
        Path(
            "entity/merge",
            "Merge entities into one.",
            ops(update=merge),
            fields={
                "from_entity_ids": Field(FieldType.COMMA_STRING_LIST, "Entities merged away."),
                "to_entity_id": Field(FieldType.STRING, "Entity that remains.", required=True),
                "force": Field(FieldType.BOOL, "Accepted for compatibility; see docs."),
                "conflicting_alias_ids_to_keep": Field(
                    FieldType.COMMA_STRING_LIST,
                    "When two merged entities have aliases on one mount, the aliases to keep.",
                ),
            },
        ),
    ]


async def _merge(service: IdentityService, fields: FieldData) -> None:
    store = service.store
    to_entity = await store.get(Entity, fields.string("to_entity_id"))
    if to_entity is None:
        raise InvalidRequest("entity id to merge to is invalid")
    from_ids = list(dict.fromkeys(fields.strings("from_entity_ids")))
    if not from_ids:
        raise InvalidRequest("missing entity ids to merge from")
    if to_entity.id in from_ids:
        raise InvalidRequest("to_entity_id should not be present in from_entity_ids")
    keep = set(fields.strings("conflicting_alias_ids_to_keep"))
    target_aliases = {a.mount_accessor: a for a in await store.aliases_of(to_entity.id)}
    ops_: list[TxnOp] = []
    groups: dict[str, Group] = {}
    before: dict[str, list[str]] = {}
    for from_id in from_ids:
        from_entity = await store.get(Entity, from_id) if valid_id(from_id) else None
        if from_entity is None:
            raise InvalidRequest(f'entity id to merge from "{from_id}" is invalid')
        for alias in await store.aliases_of(from_entity.id):
            clash = target_aliases.get(alias.mount_accessor)
            if clash is not None and alias.id not in keep and clash.id not in keep:
                raise InvalidRequest(
                    "conflicting mount accessors in following alias IDs: "
                    f"{clash.id}, {alias.id}; name the one to keep in "
                    "conflicting_alias_ids_to_keep"
                )
            drop = clash is not None and clash.id in keep
            if clash is not None and not drop:
                ops_ += _drop_alias(service, clash)
            ops_.append(store.unindex(f"entity-aliases/{from_entity.id}/{alias.id}"))
            if drop:
                ops_ += [store.delete(alias), _factor_unindex(service, alias)]
                continue
            alias.merged_from_canonical_ids = [*alias.merged_from_canonical_ids, from_entity.id]
            alias.canonical_id = to_entity.id
            alias.last_update_time = time.time()
            target_aliases[alias.mount_accessor] = alias
            ops_ += [store.put(alias), store.index(f"entity-aliases/{to_entity.id}/{alias.id}")]
        to_entity.policies = list(dict.fromkeys([*to_entity.policies, *from_entity.policies]))
        to_entity.merged_entity_ids = [*to_entity.merged_entity_ids, from_entity.id]
        for group_id in await store.groups_of(from_entity.id):
            group = groups.get(group_id) or await store.get(Group, group_id)
            if group is None:
                continue
            groups.setdefault(group_id, group)
            if group_id not in before:
                before[group_id] = list(group.member_entity_ids)
            members = [m for m in group.member_entity_ids if m != from_entity.id]
            if to_entity.id not in members:
                members.append(to_entity.id)
            group.member_entity_ids = members
        ops_ += [
            store.delete(from_entity),
            store.unindex(store.entity_name_key(from_entity.name)),
            store.index(f"merged/{from_entity.id}", to_entity.id),
            *[store.index(f"merged/{old}", to_entity.id) for old in from_entity.merged_entity_ids],
        ]
    for group_id, group in groups.items():
        old = Group(id=group.id, name=group.name, member_entity_ids=before[group_id])
        group.modify_index += 1
        ops_ += [store.put(group), *store.group_membership_ops(old, group)]
    to_entity.last_update_time = time.time()
    ops_.append(store.put(to_entity))
    await store.commit(ops_)


def _factor_unindex(service: IdentityService, alias: EntityAlias) -> TxnOp:
    return service.store.unindex(service.store.alias_factor_key(alias.mount_accessor, alias.name))


def _drop_alias(service: IdentityService, alias: EntityAlias) -> list[TxnOp]:
    store = service.store
    return [
        store.delete(alias),
        _factor_unindex(service, alias),
        store.unindex(f"entity-aliases/{alias.canonical_id}/{alias.id}"),
    ]
