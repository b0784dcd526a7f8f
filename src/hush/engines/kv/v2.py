"""KV version 2: versioned key/value secrets with Vault's exact API (``kv`` with ``version=2``).

Endpoints (relative to the mount): ``config``, ``data/:path``, ``delete/:path``,
``undelete/:path``, ``destroy/:path``, ``metadata/:path`` and ``subkeys/:path``. Request and
response shapes, status codes and error texts are Vault's (``vault-plugin-secrets-kv``), because
hvac and the Vault CLI parse them. The storage layout and the v1 → v2 upgrade are described in
:mod:`hush.engines.kv.v2_store`; the bookkeeping rules live in :mod:`hush.engines.kv.v2_model`.

Changes to one secret are serialised by a store-wide lock (Vault's ``locksutil``, but held in the
storage: a PostgreSQL advisory lock or a file lock), so two writes with the same check-and-set
version cannot both succeed even on two nodes or two worker processes. The mount settings are
re-read inside that lock, so a ``config`` change on one node applies to the next write anywhere.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, Literal

from hush.core.errors import Conflict, HushError, InvalidRequest, NotFound
from hush.core.request import Operation, Request, Response
from hush.engines.kv.common import folder_path, secret_path
from hush.engines.kv.v2_model import (
    KeyMetadata,
    MountConfig,
    check_custom_metadata,
    merge_patch,
    parse_cas,
    parse_versions,
    subkeys,
)
from hush.engines.kv.v2_store import V2Store, upgrade_from_v1
from hush.framework.backend import Backend, BackendContext
from hush.framework.fields import Field, FieldData, FieldType, coerce
from hush.framework.path import OperationSpec, Path

__all__ = ["KVv2Backend"]

_PATH = Field(FieldType.STRING, "Location of the secret, relative to the mount.")
_VERSION = Field(FieldType.INT, "Version to read; 0 or absent means the latest.", default=0)
_VERSIONS = Field(FieldType.RAW, "List of version numbers (integers) to act on.")
_MAX_VERSIONS = Field(FieldType.INT, "Versions to keep per secret; 0 uses the default.")
_CAS_REQUIRED = Field(FieldType.BOOL, "Whether every write must carry a check-and-set version.")
_DELETE_AFTER = Field(FieldType.DURATION, "Soft-delete each new version after this long.")
_CUSTOM_METADATA = Field(
    FieldType.RAW, "Object of string values (at most 64 keys) describing the secret."
)
_KV_PAIRS = Field(FieldType.KV_PAIRS, "custom metadata")
_SETTINGS = ("max_versions", "cas_required", "delete_version_after")
_VersionAction = Literal["delete", "undelete", "destroy"]


def _non_negative(fields: FieldData, name: str) -> int:
    value = fields.integer(name)
    if value < 0:
        raise InvalidRequest(f'"{name}" must be a non-negative integer')
    return value


class KVv2Backend(Backend):
    """Versioned secrets: each write adds a version; old ones can be read, deleted, destroyed."""

    type_name = "kv"
    synopsis = "Key/value secret storage (version 2, versioned)."

    def __init__(self, context: BackendContext) -> None:
        super().__init__(context)
        self._store = V2Store(self.storage)
        self._config = MountConfig()

    def paths(self) -> Sequence[Path]:
        """Vault's KV v2 endpoints, in match order."""
        settings = {
            "max_versions": _MAX_VERSIONS,
            "cas_required": _CAS_REQUIRED,
            "delete_version_after": _DELETE_AFTER,
        }
        return [
            Path(
                "config",
                "Configure the versioning defaults of the whole mount.",
                {
                    Operation.READ: OperationSpec(self._read_config, "Read the mount settings."),
                    Operation.UPDATE: OperationSpec(self._write_config, "Change mount settings."),
                },
                fields=settings,
            ),
            Path(
                "data/(?P<path>.*)",
                "Write, patch, read or soft-delete the versions of a secret.",
                {
                    Operation.READ: OperationSpec(self._read_data, "Read a version."),
                    Operation.CREATE: OperationSpec(self._write_data, "Create a secret."),
                    Operation.UPDATE: OperationSpec(self._write_data, "Write a new version."),
                    Operation.PATCH: OperationSpec(self._patch_data, "Merge-patch the latest."),
                    Operation.DELETE: OperationSpec(self._delete_latest, "Delete the latest."),
                },
                fields={
                    "path": _PATH,
                    "version": _VERSION,
                    "data": Field(FieldType.MAP, "The secret's key/value data (an object)."),
                    "options": Field(FieldType.MAP, 'Write options: "cas" (check-and-set).'),
                },
                exists=self._exists,
            ),
            *(
                Path(
                    f"{action}/(?P<path>.*)",
                    synopsis,
                    {Operation.UPDATE: OperationSpec(handler, synopsis)},
                    fields={"path": _PATH, "versions": _VERSIONS},
                )
                for action, handler, synopsis in (
                    ("delete", self._delete_versions, "Soft-delete versions (undelete restores)."),
                    ("undelete", self._undelete_versions, "Restore soft-deleted versions."),
                    ("destroy", self._destroy_versions, "Permanently remove versions' data."),
                )
            ),
            Path(
                "metadata/(?P<path>.*)",
                "Read, list, configure or delete secrets with all their versions.",
                {
                    Operation.READ: OperationSpec(self._read_metadata, "Read metadata."),
                    Operation.LIST: OperationSpec(self._list_metadata, "List secrets."),
                    Operation.CREATE: OperationSpec(self._write_metadata, "Create metadata."),
                    Operation.UPDATE: OperationSpec(self._write_metadata, "Update metadata."),
                    Operation.PATCH: OperationSpec(self._patch_metadata, "Merge-patch metadata."),
                    Operation.DELETE: OperationSpec(self._delete_metadata, "Delete everything."),
                },
                fields={"path": _PATH, **settings, "custom_metadata": _CUSTOM_METADATA},
                exists=self._exists,
            ),
            Path(
                "subkeys/(?P<path>.*)",
                "Read the key structure of a version without its values.",
                {Operation.READ: OperationSpec(self._read_subkeys, "Read subkeys.")},
                fields={
                    "path": _PATH,
                    "version": _VERSION,
                    "depth": Field(FieldType.INT, "Levels to descend; 0 means all.", default=0),
                },
            ),
        ]

    async def initialize(self) -> None:
        """Upgrade v1 data in place (first start as v2 only), then load the mount settings."""
        await upgrade_from_v1(self.storage)
        self._config = await self._store.config()

    @asynccontextmanager
    async def _lock(self, path: str) -> AsyncIterator[None]:
        async with self.storage.exclusive("lock/" + path):
            self._config = await self._store.config()
            yield

    async def _exists(self, request: Request, fields: FieldData) -> bool:
        try:
            path = secret_path(fields.string("path"))
        except InvalidRequest:
            return False
        return await self._store.has_metadata(path)

    # --- config -------------------------------------------------------------------------------

    async def _read_config(self, request: Request, fields: FieldData) -> Response:
        self._config = await self._store.config()
        return Response(data=self._config.view())

    async def _write_config(self, request: Request, fields: FieldData) -> None:
        changes: dict[str, Any] = {}
        if fields.has("max_versions"):
            changes["max_versions"] = _non_negative(fields, "max_versions")
        if fields.has("cas_required"):
            changes["cas_required"] = fields.boolean("cas_required")
        if fields.has("delete_version_after"):
            changes["delete_version_after"] = fields.integer("delete_version_after")
        async with self.storage.exclusive("config"):
            config = dataclasses.replace(await self._store.config(), **changes)
            await self._store.save_config(config)
            self._config = config

    # --- data ---------------------------------------------------------------------------------

    def _check_cas(self, meta: KeyMetadata, cas: int | None) -> None:
        if cas is not None:
            if cas != meta.current_version:
                raise Conflict("check-and-set parameter did not match the current version")
        elif self._config.cas_required or meta.cas_required:
            raise InvalidRequest("check-and-set parameter required for this call")

    async def _commit_version(self, path: str, meta: KeyMetadata, data: dict[str, Any]) -> Response:
        version, pruned = meta.add_version(time.time_ns(), self._config)
        number = meta.current_version
        await self._store.commit(
            [
                V2Store.put_version(path, number, data),
                V2Store.put_metadata(path, meta),
                *(V2Store.delete_version(path, old) for old in pruned),
            ]
        )
        return Response(data=meta.version_view(number, version))

    async def _stored_data(self, path: str, number: int) -> dict[str, Any]:
        data = await self._store.version_data(path, number)
        if data is None:  # metadata and data are written together, so this is damage
            raise HushError("could not find version data")  # Vault's text (500)
        return data

    async def _read_version(
        self, fields: FieldData, key: str, render: Callable[[dict[str, Any]], Any]
    ) -> Response | None:
        # Shared by data and subkeys reads. Vault answers a missing version with a bare 404, and a
        # deleted or destroyed one with 404 *and* its metadata (``key`` then holds null).
        path = secret_path(fields.string("path"))
        meta = await self._store.metadata(path)
        if meta is None:
            return None
        number = fields.integer("version") or meta.current_version
        version = meta.versions.get(number)
        if version is None:
            return None
        body: dict[str, Any] = {key: None, "metadata": meta.version_view(number, version)}
        if not version.is_live(time.time_ns()):
            return Response(data=body, status=404)
        body[key] = render(await self._stored_data(path, number))
        return Response(data=body)

    async def _read_data(self, request: Request, fields: FieldData) -> Response | None:
        return await self._read_version(fields, "data", lambda data: data)

    def _write_input(self, fields: FieldData) -> tuple[dict[str, Any], int | None]:
        if not fields.has("data"):
            raise InvalidRequest("no data provided")
        return fields.mapping("data"), parse_cas(fields.mapping("options"))

    async def _write_data(self, request: Request, fields: FieldData) -> Response:
        path = secret_path(fields.string("path"))
        data, cas = self._write_input(fields)
        async with self._lock(path):
            meta = await self._store.metadata(path) or KeyMetadata()
            self._check_cas(meta, cas)
            return await self._commit_version(path, meta, data)

    async def _patch_data(self, request: Request, fields: FieldData) -> Response:
        path = secret_path(fields.string("path"))
        patch, cas = self._write_input(fields)
        async with self._lock(path):
            meta = await self._store.metadata(path)
            if meta is None:
                raise NotFound
            self._check_cas(meta, cas)
            latest = meta.versions.get(meta.current_version)
            if latest is None or not latest.is_live(time.time_ns()):
                raise NotFound  # Vault: a deleted or destroyed latest version cannot be patched
            current = await self._stored_data(path, meta.current_version)
            return await self._commit_version(path, meta, merge_patch(current, patch))

    async def _delete_latest(self, request: Request, fields: FieldData) -> None:
        path = secret_path(fields.string("path"))
        async with self._lock(path):
            meta = await self._store.metadata(path)
            if meta is None:
                return
            now = time.time_ns()
            latest = meta.versions.get(meta.current_version)
            if latest is None or not latest.is_live(now):
                return
            latest.deletion = now
            await self._store.save_metadata(path, meta)

    # --- delete / undelete / destroy ----------------------------------------------------------

    async def _delete_versions(self, request: Request, fields: FieldData) -> None:
        await self._change_versions(fields, "delete")

    async def _undelete_versions(self, request: Request, fields: FieldData) -> None:
        await self._change_versions(fields, "undelete")

    async def _destroy_versions(self, request: Request, fields: FieldData) -> None:
        await self._change_versions(fields, "destroy")

    async def _change_versions(self, fields: FieldData, action: _VersionAction) -> None:
        # Vault skips versions that do not exist or are destroyed, and answers 204 regardless.
        path = secret_path(fields.string("path"))
        numbers = parse_versions(fields.raw("versions"))
        async with self._lock(path):
            meta = await self._store.metadata(path)
            if meta is None:
                return
            now = time.time_ns()
            destroyed: list[int] = []
            for number in numbers:
                version = meta.versions.get(number)
                if version is None or version.destroyed:
                    continue
                if action == "delete" and not version.is_deleted(now):
                    version.deletion = now
                elif action == "undelete":
                    version.deletion = 0
                elif action == "destroy":
                    version.destroyed = True
                    destroyed.append(number)
            await self._store.commit(
                [
                    V2Store.put_metadata(path, meta),
                    *(V2Store.delete_version(path, number) for number in destroyed),
                ]
            )

    # --- metadata -----------------------------------------------------------------------------

    async def _read_metadata(self, request: Request, fields: FieldData) -> Response | None:
        meta = await self._store.metadata(secret_path(fields.string("path")))
        return None if meta is None else Response(data=meta.view())

    async def _list_metadata(self, request: Request, fields: FieldData) -> Response | None:
        keys = await self._store.list(folder_path(fields.string("path")))
        return Response(data={"keys": keys}) if keys else None

    @staticmethod
    def _custom_metadata(raw: Any) -> dict[str, str]:
        pairs: dict[str, str] = coerce("custom_metadata", _KV_PAIRS, raw)
        check_custom_metadata(pairs)
        return pairs

    @staticmethod
    def _apply_settings(meta: KeyMetadata, fields: FieldData) -> None:
        if fields.has("max_versions"):
            meta.max_versions = _non_negative(fields, "max_versions")
        if fields.has("cas_required"):
            meta.cas_required = fields.boolean("cas_required")
        if fields.has("delete_version_after"):
            meta.delete_version_after = fields.integer("delete_version_after")

    async def _write_metadata(self, request: Request, fields: FieldData) -> None:
        path = secret_path(fields.string("path"))
        custom = (
            self._custom_metadata(fields.raw("custom_metadata"))
            if fields.has("custom_metadata")
            else None
        )
        async with self._lock(path):
            meta = await self._store.metadata(path) or KeyMetadata()
            self._apply_settings(meta, fields)
            if custom is not None:
                meta.custom_metadata = custom
            await self._store.save_metadata(path, meta)

    async def _patch_metadata(self, request: Request, fields: FieldData) -> None:
        path = secret_path(fields.string("path"))
        # A JSON merge patch: an explicit null resets a setting. FieldData drops nulls, so they are
        # read from the request body itself.
        nulls = {name for name, value in request.data.items() if value is None}
        patch = fields.raw("custom_metadata") if fields.has("custom_metadata") else None
        if patch is not None and not isinstance(patch, dict):
            raise InvalidRequest('"custom_metadata" must be an object of string values')
        async with self._lock(path):
            meta = await self._store.metadata(path)
            if meta is None:
                raise NotFound
            defaults = KeyMetadata()
            for name in nulls.intersection(_SETTINGS):
                setattr(meta, name, getattr(defaults, name))
            self._apply_settings(meta, fields)
            if "custom_metadata" in nulls:
                meta.custom_metadata = None
            elif patch is not None:
                meta.custom_metadata = self._custom_metadata(
                    merge_patch(meta.custom_metadata or {}, patch)
                )
            await self._store.save_metadata(path, meta)

    async def _delete_metadata(self, request: Request, fields: FieldData) -> None:
        path = secret_path(fields.string("path"))
        async with self._lock(path):
            meta = await self._store.metadata(path)
            if meta is None:
                return
            await self._store.commit(
                [
                    V2Store.delete_metadata(path),
                    *(V2Store.delete_version(path, number) for number in meta.versions),
                ]
            )

    # --- subkeys ------------------------------------------------------------------------------

    async def _read_subkeys(self, request: Request, fields: FieldData) -> Response | None:
        depth = _non_negative(fields, "depth")
        return await self._read_version(fields, "subkeys", lambda data: subkeys(data, depth))
