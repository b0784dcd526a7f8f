"""What the entity and group endpoints share: a record addressed by id or by unique name.

``identity/entity`` and ``identity/group`` have the same five routes (create-or-update, by id,
by name, and the two lists) with the same rules: names are unique and case-insensitive, a write
by name creates the record when the name is free, reads of an unknown record answer 404, and
deletes of an unknown record succeed. This module declares those routes once; each kind supplies
how a record is saved, deleted, described and summarised in ``key_info``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from hush.core.errors import InvalidRequest
from hush.core.identity.model import Entity, Group
from hush.core.identity.service import IdentityService, identity_policies
from hush.core.identity.store import IdentityStore
from hush.core.request import Operation, Request, Response
from hush.framework.fields import Field, FieldData, FieldType
from hush.framework.path import Handler, OperationSpec, Path
from hush.storage.base import TxnOp

__all__ = ["NamedKind", "named_record_paths", "update_name_and_policies"]

Named = TypeVar("Named", Entity, Group)


@dataclass(frozen=True, slots=True)
class NamedKind(Generic[Named]):
    """How the shared endpoints handle one kind of named record (entity or group).

    ``save(fields, record, name)`` writes ``record`` (``None``: create one named ``name``) and
    returns the create response; ``delete_ops`` are the operations deleting a record and what
    hangs on it; ``key_info`` is a record's entry in the ``id/`` list.
    """

    kind: str
    plural: str
    article: str
    record: type[Named]
    fields: Mapping[str, Field]
    name_key: Callable[[str], str]
    save: Callable[[FieldData, Named | None, str], Awaitable[Response | None]]
    delete_ops: Callable[[Named], Awaitable[list[TxnOp]]]
    describe: Callable[[Named], Awaitable[dict[str, Any]]]
    key_info: Callable[[Named], Awaitable[dict[str, Any]]]
    delete_summary: str
    list_summary: str


def update_name_and_policies(
    store: IdentityStore,
    name_key: Callable[[str], str],
    record: Entity | Group,
    fields: FieldData,
    name: str,
) -> list[TxnOp]:
    """Apply a rename, ``policies`` and ``metadata`` to ``record``; the ops a rename needs."""
    ops_: list[TxnOp] = []
    if name and name != record.name:
        ops_.append(store.unindex(name_key(record.name)))
        record.name = name
    if fields.has("policies"):
        record.policies = identity_policies(fields.strings("policies"))
    if fields.has("metadata"):
        record.metadata = {str(k): str(v) for k, v in fields.mapping("metadata").items()}
    return ops_


def named_record_paths(service: IdentityService, kind: NamedKind[Named]) -> list[Path]:
    """The create-or-update, by-id, by-name and list endpoints of one kind of named record."""
    store = service.store
    a_kind = f"{kind.article} {kind.kind}"

    async def _write(fields: FieldData, record: Named | None, name: str) -> Response | None:
        if name and "/" in name:
            raise InvalidRequest(f"{kind.kind} name must not contain '/'")
        if name:
            by_name = await store.get_indexed(kind.record, kind.name_key(name))
            if by_name is not None:
                if record is None:
                    record = by_name
                elif by_name.id != record.id:
                    raise InvalidRequest(f"{kind.kind} name is already in use")
        return await kind.save(fields, record, name)

    async def _by_id(record_id: str) -> Named:
        record = await store.get(kind.record, record_id)
        if record is None:
            raise InvalidRequest(f"{kind.kind} not found from id")
        return record

    async def create_or_update(request: Request, fields: FieldData) -> Response | None:
        async with store.lock:
            record_id = fields.string("id")
            record = await _by_id(record_id) if record_id else None
            return await _write(fields, record, fields.string("name"))

    async def update_by_id(request: Request, fields: FieldData) -> Response | None:
        async with store.lock:
            return await _write(fields, await _by_id(fields.string("id")), fields.string("name"))

    async def update_by_name(request: Request, fields: FieldData) -> Response | None:
        async with store.lock:
            return await _write(fields, None, fields.string("name"))

    async def _read(record: Named | None) -> Response | None:
        return Response(data=await kind.describe(record)) if record else None

    async def read_by_id(request: Request, fields: FieldData) -> Response | None:
        return await _read(await store.get(kind.record, fields.string("id")))

    async def read_by_name(request: Request, fields: FieldData) -> Response | None:
        key = kind.name_key(fields.string("name"))
        return await _read(await store.get_indexed(kind.record, key))

    async def _delete(record: Named | None) -> None:
        if record is not None:
            await store.commit(await kind.delete_ops(record))

    async def delete_by_id(request: Request, fields: FieldData) -> None:
        async with store.lock:
            await _delete(await store.get(kind.record, fields.string("id")))

    async def delete_by_name(request: Request, fields: FieldData) -> None:
        async with store.lock:
            key = kind.name_key(fields.string("name"))
            await _delete(await store.get_indexed(kind.record, key))

    async def _all() -> list[Named]:
        found = [await store.get(kind.record, i) for i in await store.ids(kind.record)]
        return [r for r in found if r is not None]

    async def list_by_id(request: Request, fields: FieldData) -> Response | None:
        records = await _all()
        if not records:
            return None
        info = {r.id: await kind.key_info(r) for r in records}
        return Response(data={"keys": sorted(info), "key_info": info})

    async def list_by_name(request: Request, fields: FieldData) -> Response | None:
        names = sorted(r.name for r in await _all())
        return Response(data={"keys": names}) if names else None

    def _ops(**specs: tuple[Handler, str]) -> dict[Operation, OperationSpec]:
        return {Operation(op): OperationSpec(h, summary) for op, (h, summary) in specs.items()}

    id_field = {"id": Field(FieldType.STRING, f"ID of the {kind.kind}.", required=True)}
    name_field = {"name": Field(FieldType.STRING, f"Name of the {kind.kind}.", required=True)}
    return [
        Path(
            f"{kind.kind}/?",
            f"Create {a_kind}, or update one by id or name.",
            _ops(
                update=(
                    create_or_update,
                    f"Create {a_kind}, or update the one named by ``id`` or ``name``.",
                )
            ),
            fields=kind.fields,
        ),
        Path(
            f"{kind.kind}/id/?",
            f"List {kind.plural} by id.",
            _ops(list=(list_by_id, kind.list_summary)),
        ),
        Path(
            f"{kind.kind}/id/(?P<id>[^/]+)",
            f"Read, update or delete {a_kind} by id.",
            _ops(
                read=(read_by_id, f"Read {a_kind} by id."),
                update=(update_by_id, f"Update {a_kind} by id."),
                delete=(delete_by_id, kind.delete_summary),
            ),
            fields={**kind.fields, **id_field},
        ),
        Path(
            f"{kind.kind}/name/?",
            f"List {kind.kind} names.",
            _ops(list=(list_by_name, f"List {kind.kind} names.")),
        ),
        Path(
            f"{kind.kind}/name/(?P<name>[^/]+)",
            f"Create, read, update or delete {a_kind} by name.",
            _ops(
                read=(read_by_name, f"Read {a_kind} by name."),
                update=(update_by_name, f"Create or update {a_kind} by name."),
                delete=(delete_by_name, f"Delete {a_kind} by name."),
            ),
            fields={**kind.fields, **name_field},
        ),
    ]
