"""``identity/group*``: internal groups (explicit members, nesting) and external groups.

Members of a group inherit its policies; so do the members of its member groups (a group's
policies flow down to the groups it contains). External groups get their members from logins,
through group aliases, and cannot have members set by hand (Vault's rule).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from hush.core.errors import InvalidRequest
from hush.core.identity.model import GROUP_TYPES, Entity, Group, GroupAlias
from hush.core.identity.named_paths import NamedKind, named_record_paths, update_name_and_policies
from hush.core.identity.service import IdentityService
from hush.core.identity.store import IdentityStore
from hush.core.request import Response
from hush.framework.fields import Field, FieldData, FieldType
from hush.framework.path import Path
from hush.storage.base import TxnOp

__all__ = ["group_paths"]

_GROUP_FIELDS = {
    "id": Field(FieldType.STRING, "ID of the group (to update an existing one)."),
    "name": Field(FieldType.STRING, "Name of the group (generated when absent)."),
    "type": Field(FieldType.STRING, "internal or external.", allowed=GROUP_TYPES),
    "metadata": Field(FieldType.KV_PAIRS, "Metadata (key=value pairs) of the group."),
    "policies": Field(FieldType.COMMA_STRING_LIST, "Policies the group's members gain."),
    "member_entity_ids": Field(FieldType.COMMA_STRING_LIST, "Entities in the group."),
    "member_group_ids": Field(FieldType.COMMA_STRING_LIST, "Groups in the group."),
}


async def _check_members(store: IdentityStore, group: Group, fields: FieldData) -> None:
    if group.type == "external" and fields.strings("member_entity_ids"):
        raise InvalidRequest("member entities can't be set manually for external groups")
    if group.type == "external" and fields.strings("member_group_ids"):
        raise InvalidRequest("member groups can't be set for external groups")
    for entity_id in fields.strings("member_entity_ids"):
        if await store.get(Entity, entity_id) is None:
            raise InvalidRequest(f'invalid member entity ID "{entity_id}"')
    for member_id in fields.strings("member_group_ids"):
        if member_id == group.id:
            raise InvalidRequest(f'member group ID "{member_id}" is same as the ID of the group')
        if await store.get(Group, member_id) is None:
            raise InvalidRequest(f'invalid member group ID "{member_id}"')
        if await _contains(store, member_id, group.id):
            raise InvalidRequest(
                f'member group ID "{member_id}" already contains this group: '
                "nesting it would make a cycle"
            )


async def _contains(store: IdentityStore, root_id: str, wanted: str) -> bool:
    """Whether ``wanted`` is ``root_id`` or nested anywhere below it."""
    seen: set[str] = set()
    pending = [root_id]
    while pending:
        current = pending.pop()
        if current == wanted:
            return True
        if current in seen:
            continue
        seen.add(current)
        group = await store.get(Group, current)
        if group is not None:
            pending += group.member_group_ids
    return False


def group_paths(service: IdentityService) -> list[Path]:
    """The group endpoints."""
    store = service.store

    async def save(fields: FieldData, group: Group | None, name: str) -> Response | None:
        created = group is None
        if group is None:
            group_id = str(uuid.uuid4())
            group = Group(
                id=group_id,
                name=name or f"group_{group_id[:8]}",
                type=fields.string("type") or "internal",
            )
        elif fields.string("type") and fields.string("type") != group.type:
            raise InvalidRequest("group type cannot be changed")
        old = Group(
            id=group.id,
            name=group.name,
            member_entity_ids=list(group.member_entity_ids),
            member_group_ids=list(group.member_group_ids),
        )
        await _check_members(store, group, fields)
        ops_ = update_name_and_policies(store, store.group_name_key, group, fields, name)
        if group.type == "internal":
            if fields.has("member_entity_ids"):
                group.member_entity_ids = list(dict.fromkeys(fields.strings("member_entity_ids")))
            if fields.has("member_group_ids"):
                group.member_group_ids = list(dict.fromkeys(fields.strings("member_group_ids")))
        group.last_update_time = time.time()
        group.modify_index += 1
        ops_ += [
            store.put(group),
            store.index(store.group_name_key(group.name), group.id),
            *store.group_membership_ops(old, group),
        ]
        await store.commit(ops_)
        return Response(data={"id": group.id, "name": group.name}) if created else None

    async def delete_ops(group: Group) -> list[TxnOp]:
        ops_ = [
            store.delete(group),
            store.unindex(store.group_name_key(group.name)),
            *store.group_membership_ops(group, None),
        ]
        for parent_id in await store.parents_of(group.id):
            parent = await store.get(Group, parent_id)
            ops_.append(store.unindex(f"group-parents/{group.id}/{parent_id}"))
            if parent is not None:
                parent.member_group_ids = [g for g in parent.member_group_ids if g != group.id]
                parent.modify_index += 1
                ops_.append(store.put(parent))
        alias = await store.get(GroupAlias, group.alias_id) if group.alias_id else None
        if alias is not None:
            ops_ += [
                store.delete(alias),
                store.unindex(store.group_alias_factor_key(alias.mount_accessor, alias.name)),
            ]
        return ops_

    async def key_info(group: Group) -> dict[str, Any]:
        return {
            "name": group.name,
            "num_member_entities": len(group.member_entity_ids),
            "num_parent_groups": len(await store.parents_of(group.id)),
        }

    kind = NamedKind(
        kind="group",
        plural="groups",
        article="a",
        record=Group,
        fields=_GROUP_FIELDS,
        name_key=store.group_name_key,
        save=save,
        delete_ops=delete_ops,
        describe=service.describe_group,
        key_info=key_info,
        delete_summary="Delete a group (its members stay).",
        list_summary="List group ids, with names in ``key_info``.",
    )
    return named_record_paths(service, kind)
