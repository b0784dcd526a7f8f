"""``identity/group*``: internal groups (explicit members, nesting) and external groups.

Members of a group inherit its policies; so do the members of its member groups (a group's
policies flow down to the groups it contains). External groups get their members from logins,
through group aliases, and cannot have members set by hand (Vault's rule).
"""

from __future__ import annotations

import time
import uuid

from hush.core.errors import InvalidRequest
from hush.core.identity.model import GROUP_TYPES, Entity, Group, GroupAlias
from hush.core.identity.service import IdentityService, identity_policies
from hush.core.identity.store import IdentityStore
from hush.core.request import Request, Response
from hush.core.system.common import ops
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

    async def _write(fields: FieldData, group: Group | None, name: str) -> Response | None:
        if name and "/" in name:
            raise InvalidRequest("group name must not contain '/'")
        if name:
            by_name = await store.get_indexed(Group, store.group_name_key(name))
            if by_name is not None:
                if group is None:
                    group = by_name
                elif by_name.id != group.id:
                    raise InvalidRequest("group name is already in use")
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
        ops_: list[TxnOp] = []
        if name and name != group.name:
            ops_.append(store.unindex(store.group_name_key(group.name)))
            group.name = name
        if fields.has("policies"):
            group.policies = identity_policies(fields.strings("policies"))
        if fields.has("metadata"):
            group.metadata = {str(k): str(v) for k, v in fields.mapping("metadata").items()}
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

    async def _by_id(group_id: str) -> Group:
        group = await store.get(Group, group_id)
        if group is None:
            raise InvalidRequest("group not found from id")
        return group

    async def create_or_update(request: Request, fields: FieldData) -> Response | None:
        """Create a group, or update the one named by ``id`` or ``name``."""
        async with store.lock:
            group_id = fields.string("id")
            group = await _by_id(group_id) if group_id else None
            return await _write(fields, group, fields.string("name"))

    async def update_by_id(request: Request, fields: FieldData) -> Response | None:
        """Update a group by id."""
        async with store.lock:
            return await _write(fields, await _by_id(fields.string("id")), fields.string("name"))

    async def update_by_name(request: Request, fields: FieldData) -> Response | None:
        """Create or update a group by name."""
        async with store.lock:
            return await _write(fields, None, fields.string("name"))

    async def read_by_id(request: Request, fields: FieldData) -> Response | None:
        """Read a group by id."""
        group = await store.get(Group, fields.string("id"))
        return Response(data=await service.describe_group(group)) if group else None

    async def read_by_name(request: Request, fields: FieldData) -> Response | None:
        """Read a group by name."""
        group = await store.get_indexed(Group, store.group_name_key(fields.string("name")))
        return Response(data=await service.describe_group(group)) if group else None

    async def _delete(group: Group | None) -> None:
        if group is None:
            return
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
        await store.commit(ops_)

    async def delete_by_id(request: Request, fields: FieldData) -> None:
        """Delete a group (its members stay)."""
        async with store.lock:
            await _delete(await store.get(Group, fields.string("id")))

    async def delete_by_name(request: Request, fields: FieldData) -> None:
        """Delete a group by name."""
        async with store.lock:
            await _delete(
                await store.get_indexed(Group, store.group_name_key(fields.string("name")))
            )

    async def _all() -> list[Group]:
        found = [await store.get(Group, i) for i in await store.ids(Group)]
        return [g for g in found if g is not None]

    async def list_by_id(request: Request, fields: FieldData) -> Response | None:
        """List group ids, with names in ``key_info``."""
        groups = await _all()
        if not groups:
            return None
        info = {
            g.id: {
                "name": g.name,
                "num_member_entities": len(g.member_entity_ids),
                "num_parent_groups": len(await store.parents_of(g.id)),
            }
            for g in groups
        }
        return Response(data={"keys": sorted(info), "key_info": info})

    async def list_by_name(request: Request, fields: FieldData) -> Response | None:
        """List group names."""
        names = sorted(g.name for g in await _all())
        return Response(data={"keys": names}) if names else None

    id_field = {"id": Field(FieldType.STRING, "ID of the group.", required=True)}
    name_field = {"name": Field(FieldType.STRING, "Name of the group.", required=True)}
    return [
        Path(
            "group/?",
            "Create a group, or update one by id or name.",
            ops(update=create_or_update),
            fields=_GROUP_FIELDS,
        ),
        Path("group/id/?", "List groups by id.", ops(list=list_by_id)),
        Path(
            "group/id/(?P<id>[^/]+)",
            "Read, update or delete a group by id.",
            ops(read=read_by_id, update=update_by_id, delete=delete_by_id),
            fields={**_GROUP_FIELDS, **id_field},
        ),
        Path("group/name/?", "List group names.", ops(list=list_by_name)),
        Path(
            "group/name/(?P<name>[^/]+)",
            "Create, read, update or delete a group by name.",
            ops(read=read_by_name, update=update_by_name, delete=delete_by_name),
            fields={**_GROUP_FIELDS, **name_field},
        ),
    ]
