"""``identity/entity-alias*``: attach login identities (mount accessor + name) to entities.

The (mount accessor, name) pair is unique. A create naming a pair that already exists updates
that alias when it names the same entity (or none), and is refused when it names another one:
moving a person's login identity to someone else's entity is done with ``entity/merge`` or an
explicit update of the alias by id, never as a side effect of a create.
"""

from __future__ import annotations

import time
import uuid

from hush.core.errors import InvalidRequest
from hush.core.identity.model import Entity, EntityAlias
from hush.core.identity.service import IdentityService
from hush.core.request import Request, Response
from hush.core.system.common import ops
from hush.framework.fields import Field, FieldData, FieldType
from hush.framework.path import Path
from hush.storage.base import TxnOp

__all__ = ["alias_paths"]

PAIR_IN_USE = "alias with combination of mount accessor and name already exists"

_ALIAS_FIELDS = {
    "id": Field(FieldType.STRING, "ID of the alias (to update an existing one)."),
    "name": Field(FieldType.STRING, "Name of the alias inside its auth method."),
    "mount_accessor": Field(FieldType.STRING, "Accessor of the auth mount of the alias."),
    "canonical_id": Field(FieldType.STRING, "ID of the entity the alias belongs to."),
    "entity_id": Field(FieldType.STRING, "Deprecated name of canonical_id."),
    "custom_metadata": Field(FieldType.KV_PAIRS, "Custom metadata of the alias."),
}


def alias_paths(service: IdentityService) -> list[Path]:
    """The entity-alias endpoints."""
    store = service.store

    async def _target(entity_id: str) -> Entity:
        entity = await store.get(Entity, entity_id)
        if entity is None:
            raise InvalidRequest("invalid canonical ID: no entity with this id")
        return entity

    async def _one_per_mount(
        entity_id: str,
        accessor: str,
        except_id: str,
        message: str = "Alias already exists for requested entity and mount accessor",
    ) -> None:
        for other in await store.aliases_of(entity_id):
            if other.mount_accessor == accessor and other.id != except_id:
                raise InvalidRequest(message)

    async def _save(
        alias: EntityAlias, old: EntityAlias | None, extra: list[TxnOp] | None = None
    ) -> None:
        ops_: list[TxnOp] = list(extra or [])
        if old is not None:
            ops_ += [
                store.unindex(store.alias_factor_key(old.mount_accessor, old.name)),
                store.unindex(f"entity-aliases/{old.canonical_id}/{old.id}"),
            ]
        alias.last_update_time = time.time()
        ops_ += [
            store.put(alias),
            store.index(store.alias_factor_key(alias.mount_accessor, alias.name), alias.id),
            store.index(f"entity-aliases/{alias.canonical_id}/{alias.id}"),
        ]
        await store.commit(ops_)

    async def _update(alias: EntityAlias, fields: FieldData) -> Response:
        old = EntityAlias(**{f: getattr(alias, f) for f in EntityAlias.__dataclass_fields__})
        name = fields.string("name") or alias.name
        accessor = fields.string("mount_accessor") or alias.mount_accessor
        canonical = fields.string("canonical_id") or fields.string("entity_id")
        if (name, accessor) != (alias.name, alias.mount_accessor):
            service.require_mount(accessor)
            if await _factor_target(name, accessor):
                raise InvalidRequest(PAIR_IN_USE)
        if canonical and canonical != alias.canonical_id:
            await _target(canonical)
            alias.canonical_id = canonical
        await _one_per_mount(
            alias.canonical_id,
            accessor,
            alias.id,
            "Alias cannot be updated as the given entity already has an alias for this mount",
        )
        alias.name, alias.mount_accessor = name, accessor
        if fields.has("custom_metadata"):
            alias.custom_metadata = dict(fields.mapping("custom_metadata"))
        await _save(alias, old)
        return Response(data={"id": alias.id, "canonical_id": alias.canonical_id})

    async def _factor_target(name: str, accessor: str) -> str:
        raw = await store.get_indexed(EntityAlias, store.alias_factor_key(accessor, name))
        return raw.id if raw is not None else ""

    async def create(request: Request, fields: FieldData) -> Response:
        """Create an alias, or update the one named by ``id``."""
        async with store.lock:
            if fields.string("id"):
                alias = await store.get(EntityAlias, fields.string("id"))
                if alias is None:
                    raise InvalidRequest("invalid alias ID provided")
                return await _update(alias, fields)
            name, accessor = fields.string("name"), fields.string("mount_accessor")
            if not name:
                raise InvalidRequest("missing alias name")
            service.require_mount(accessor)
            canonical = fields.string("canonical_id") or fields.string("entity_id")
            existing = await store.get_indexed(EntityAlias, store.alias_factor_key(accessor, name))
            if existing is not None:
                if canonical and canonical != existing.canonical_id:
                    raise InvalidRequest(PAIR_IN_USE)
                return await _update(existing, fields)
            ops_: list[TxnOp] = []
            if canonical:
                await _target(canonical)
                await _one_per_mount(canonical, accessor, "")
            else:
                # Vault: an alias without canonical_id gets a new entity of its own.
                entity_id = str(uuid.uuid4())
                entity = Entity(id=entity_id, name=f"entity_{entity_id[:8]}")
                ops_ += [
                    store.put(entity),
                    store.index(store.entity_name_key(entity.name), entity_id),
                ]
                canonical = entity_id
            alias = EntityAlias(
                id=str(uuid.uuid4()),
                canonical_id=canonical,
                mount_accessor=accessor,
                name=name,
                custom_metadata=dict(fields.mapping("custom_metadata")),
            )
            await _save(alias, None, ops_)
            return Response(data={"id": alias.id, "canonical_id": alias.canonical_id})

    async def update_by_id(request: Request, fields: FieldData) -> Response:
        """Update an alias by id (name, mount accessor, entity, custom metadata)."""
        async with store.lock:
            alias = await store.get(EntityAlias, fields.string("id"))
            if alias is None:
                raise InvalidRequest("invalid alias ID provided")
            return await _update(alias, fields)

    async def read(request: Request, fields: FieldData) -> Response | None:
        """Read an alias by id."""
        alias = await store.get(EntityAlias, fields.string("id"))
        return Response(data=service.describe_alias(alias)) if alias else None

    async def delete(request: Request, fields: FieldData) -> None:
        """Delete an alias (its entity stays)."""
        async with store.lock:
            alias = await store.get(EntityAlias, fields.string("id"))
            if alias is not None:
                await store.commit(
                    [
                        store.delete(alias),
                        store.unindex(store.alias_factor_key(alias.mount_accessor, alias.name)),
                        store.unindex(f"entity-aliases/{alias.canonical_id}/{alias.id}"),
                    ]
                )

    async def list_ids(request: Request, fields: FieldData) -> Response | None:
        """List alias ids with their names and mounts in ``key_info``."""
        info = await service.alias_key_info(EntityAlias, service.describe_alias)
        return Response(data={"keys": sorted(info), "key_info": info}) if info else None

    id_field = {"id": Field(FieldType.STRING, "ID of the alias.", required=True)}
    return [
        Path(
            "entity-alias/?",
            "Create an entity alias, or update one by id.",
            ops(update=create),
            fields=_ALIAS_FIELDS,
        ),
        Path("entity-alias/id/?", "List entity aliases.", ops(list=list_ids)),
        Path(
            "entity-alias/id/(?P<id>[^/]+)",
            "Read, update or delete an entity alias.",
            ops(read=read, update=update_by_id, delete=delete),
            fields={**_ALIAS_FIELDS, **id_field},
        ),
    ]
