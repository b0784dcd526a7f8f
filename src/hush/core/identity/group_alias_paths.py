"""``identity/group-alias*``: map an auth method's group name to an external group."""

from __future__ import annotations

import time
import uuid

from hush.core.errors import InvalidRequest
from hush.core.identity.model import Group, GroupAlias
from hush.core.identity.service import IdentityService
from hush.core.request import Request, Response
from hush.core.system.common import ops
from hush.framework.fields import Field, FieldData, FieldType
from hush.framework.path import Path
from hush.storage.base import TxnOp

__all__ = ["group_alias_paths"]

_FIELDS = {
    "id": Field(FieldType.STRING, "ID of the group alias (to update an existing one)."),
    "name": Field(FieldType.STRING, "Group name as the auth method reports it."),
    "mount_accessor": Field(FieldType.STRING, "Accessor of the auth mount."),
    "canonical_id": Field(FieldType.STRING, "ID of the external group."),
}


def group_alias_paths(service: IdentityService) -> list[Path]:
    """The group-alias endpoints."""
    store = service.store

    async def _save(alias: GroupAlias, old: GroupAlias | None, fields: FieldData) -> Response:
        name = fields.string("name") or alias.name
        accessor = fields.string("mount_accessor") or alias.mount_accessor
        canonical = fields.string("canonical_id") or alias.canonical_id
        if not name:
            raise InvalidRequest("missing alias name")
        service.require_mount(accessor)
        existing = await store.get_indexed(GroupAlias, store.group_alias_factor_key(accessor, name))
        if existing is not None and existing.id != alias.id:
            raise InvalidRequest("combination of mount and group alias name is already in use")
        group = await store.get(Group, canonical) if canonical else None
        if group is None:
            raise InvalidRequest("invalid canonical ID: no group with this id")
        if group.type != "external":
            raise InvalidRequest("alias can't be set on an internal group")
        if group.alias_id and group.alias_id != alias.id:
            raise InvalidRequest("group already has an alias; update or delete that one")
        ops_: list[TxnOp] = []
        if old is not None:
            ops_.append(store.unindex(store.group_alias_factor_key(old.mount_accessor, old.name)))
            if old.canonical_id != canonical:
                previous = await store.get(Group, old.canonical_id)
                if previous is not None:
                    previous.alias_id = ""
                    ops_.append(store.put(previous))
        alias.name, alias.mount_accessor, alias.canonical_id = name, accessor, canonical
        alias.last_update_time = time.time()
        group.alias_id = alias.id
        ops_ += [
            store.put(alias),
            store.index(store.group_alias_factor_key(accessor, name), alias.id),
            store.put(group),
        ]
        await store.commit(ops_)
        return Response(data={"id": alias.id, "canonical_id": alias.canonical_id})

    async def create(request: Request, fields: FieldData) -> Response:
        """Create a group alias, or update the one named by ``id``."""
        async with store.lock:
            if fields.string("id"):
                return await _update(fields)
            alias = GroupAlias(id=str(uuid.uuid4()), canonical_id="", mount_accessor="", name="")
            return await _save(alias, None, fields)

    async def _update(fields: FieldData) -> Response:
        alias = await store.get(GroupAlias, fields.string("id"))
        if alias is None:
            raise InvalidRequest("invalid group alias ID provided")
        old = GroupAlias(alias.id, alias.canonical_id, alias.mount_accessor, alias.name)
        return await _save(alias, old, fields)

    async def update_by_id(request: Request, fields: FieldData) -> Response:
        """Update a group alias by id."""
        async with store.lock:
            return await _update(fields)

    async def read(request: Request, fields: FieldData) -> Response | None:
        """Read a group alias."""
        alias = await store.get(GroupAlias, fields.string("id"))
        return Response(data=service.describe_group_alias(alias)) if alias else None

    async def delete(request: Request, fields: FieldData) -> None:
        """Delete a group alias (the group stays, without login-fed members from it)."""
        async with store.lock:
            alias = await store.get(GroupAlias, fields.string("id"))
            if alias is None:
                return
            ops_ = [
                store.delete(alias),
                store.unindex(store.group_alias_factor_key(alias.mount_accessor, alias.name)),
            ]
            group = await store.get(Group, alias.canonical_id)
            if group is not None and group.alias_id == alias.id:
                group.alias_id = ""
                ops_.append(store.put(group))
            await store.commit(ops_)

    async def list_ids(request: Request, fields: FieldData) -> Response | None:
        """List group alias ids."""
        info = await service.alias_key_info(GroupAlias, service.describe_group_alias)
        return Response(data={"keys": sorted(info), "key_info": info}) if info else None

    id_field = {"id": Field(FieldType.STRING, "ID of the group alias.", required=True)}
    return [
        Path(
            "group-alias/?",
            "Create a group alias, or update one by id.",
            ops(update=create),
            fields=_FIELDS,
        ),
        Path("group-alias/id/?", "List group aliases.", ops(list=list_ids)),
        Path(
            "group-alias/id/(?P<id>[^/]+)",
            "Read, update or delete a group alias.",
            ops(read=read, update=update_by_id, delete=delete),
            fields={**_FIELDS, **id_field},
        ),
    ]
