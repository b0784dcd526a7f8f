"""``identity/lookup/entity`` and ``identity/lookup/group``: find a record by one criterion."""

from __future__ import annotations

from hush.core.errors import InvalidRequest
from hush.core.identity.model import Entity, EntityAlias, Group, GroupAlias
from hush.core.identity.service import IdentityService
from hush.core.request import Request, Response
from hush.core.system.common import ops
from hush.framework.fields import Field, FieldData, FieldType
from hush.framework.path import Path

__all__ = ["lookup_paths"]

_FIELDS = {
    "id": Field(FieldType.STRING, "ID of the record."),
    "name": Field(FieldType.STRING, "Name of the record."),
    "alias_id": Field(FieldType.STRING, "ID of one of its aliases."),
    "alias_name": Field(FieldType.STRING, "Name of an alias (with alias_mount_accessor)."),
    "alias_mount_accessor": Field(FieldType.STRING, "Mount accessor of that alias."),
}


def _criterion(fields: FieldData) -> str:
    given = [k for k in ("id", "name", "alias_id", "alias_name") if fields.string(k)]
    if not given:
        raise InvalidRequest(
            "query parameter not supplied: give one of id, name, alias_id or alias_name"
        )
    if len(given) > 1:
        raise InvalidRequest(f"only one of id, name, alias_id or alias_name may be given: {given}")
    if given[0] == "alias_name" and not fields.string("alias_mount_accessor"):
        raise InvalidRequest("alias_mount_accessor must be given with alias_name")
    return given[0]


def lookup_paths(service: IdentityService) -> list[Path]:
    """The lookup endpoints."""
    store = service.store

    async def lookup_entity(request: Request, fields: FieldData) -> Response | None:
        """Find an entity by id, name, alias id or alias name and mount."""
        entity: Entity | None
        match _criterion(fields):
            case "id":
                entity = await store.get(Entity, fields.string("id"))
            case "name":
                entity = await store.get_indexed(
                    Entity, store.entity_name_key(fields.string("name"))
                )
            case "alias_id":
                alias = await store.get(EntityAlias, fields.string("alias_id"))
                entity = await store.get(Entity, alias.canonical_id) if alias else None
            case _:
                key = store.alias_factor_key(
                    fields.string("alias_mount_accessor"), fields.string("alias_name")
                )
                alias = await store.get_indexed(EntityAlias, key)
                entity = await store.get(Entity, alias.canonical_id) if alias else None
        return Response(data=await service.describe_entity(entity)) if entity else None

    async def lookup_group(request: Request, fields: FieldData) -> Response | None:
        """Find a group by id, name, alias id or alias name and mount."""
        group: Group | None
        match _criterion(fields):
            case "id":
                group = await store.get(Group, fields.string("id"))
            case "name":
                group = await store.get_indexed(Group, store.group_name_key(fields.string("name")))
            case "alias_id":
                alias = await store.get(GroupAlias, fields.string("alias_id"))
                group = await store.get(Group, alias.canonical_id) if alias else None
            case _:
                key = store.group_alias_factor_key(
                    fields.string("alias_mount_accessor"), fields.string("alias_name")
                )
                alias = await store.get_indexed(GroupAlias, key)
                group = await store.get(Group, alias.canonical_id) if alias else None
        return Response(data=await service.describe_group(group)) if group else None

    return [
        Path(
            "lookup/entity",
            "Look up an entity.",
            ops(update=lookup_entity),
            fields={**_FIELDS, "type": Field(FieldType.STRING, "Ignored (Vault's UI sends it).")},
        ),
        Path(
            "lookup/group",
            "Look up a group.",
            ops(update=lookup_group),
            fields={**_FIELDS, "type": Field(FieldType.STRING, "Ignored (Vault's UI sends it).")},
        ),
    ]
