"""``sys/mounts`` (list, enable, read, disable) and ``sys/internal/specs/openapi``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hush.core.errors import InvalidRequest
from hush.core.mounts import MountEntry, normalise_mount_path
from hush.core.request import Request, Response
from hush.core.system.common import ops, version_string
from hush.core.ttl import parse_ttl
from hush.framework.backend import Backend
from hush.framework.fields import Field, FieldData, FieldType
from hush.framework.path import Path

if TYPE_CHECKING:
    from hush.core.core import Core

__all__ = ["mount_paths", "openapi_document"]

_SYS_MOUNT = {
    "type": "system",
    "description": "system endpoints used for control, policy and debugging",
    "accessor": "system",
    "uuid": "system",
    "config": {"default_lease_ttl": 0, "max_lease_ttl": 0, "force_no_cache": False},
    "options": None,
    "local": False,
    "seal_wrap": True,
    "external_entropy_access": False,
}


def _mount_config(raw: dict[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for key in ("default_lease_ttl", "max_lease_ttl"):
        if key in raw and raw[key] not in (None, "", "system"):
            try:
                config[key] = parse_ttl(raw[key])
            except ValueError as exc:
                raise InvalidRequest(f'invalid "config.{key}": {exc}') from None
    return config


def openapi_document(core: Core) -> dict[str, Any]:
    """The OpenAPI 3 document of every mounted backend's declared paths."""
    backends: list[tuple[str, Backend]] = [("sys/", core.system)]
    backends += [(path, core.mounts.backends[path]) for path in sorted(core.mounts.backends)]
    paths: dict[str, Any] = {}
    for prefix, backend in backends:
        for declared in backend.declared_paths:
            paths["/" + prefix + declared.openapi_path()] = declared.openapi_item()
    return {
        "openapi": "3.0.2",
        "info": {
            "title": "Hush API",
            "description": "HTTP API compatible with HashiCorp Vault's",
            "version": version_string(),
            "license": {"name": "Apache-2.0"},
        },
        "paths": paths,
        "components": {"schemas": {}},
    }


def mount_paths(core: Core) -> list[Path]:
    """Mount-table endpoints of the system backend."""

    async def list_mounts(request: Request, fields: FieldData) -> Response:
        """Every mounted secrets engine."""
        data: dict[str, Any] = {"sys/": _SYS_MOUNT}
        for path, entry in sorted(core.mounts.entries.items()):
            data[path] = entry.describe()
        return Response(data=data, flatten=True)

    async def read_mount(request: Request, fields: FieldData) -> Response:
        """One mount's configuration."""
        path = normalise_mount_path(fields.string("path"))
        entry = core.mounts.entries.get(path)
        if entry is None:
            raise InvalidRequest(f'no mount at "{path}"')
        return Response(data=entry.describe(), flatten=True)

    async def enable(request: Request, fields: FieldData) -> None:
        """Mount a secrets engine at a path."""
        path = normalise_mount_path(fields.string("path"))
        engine_type = fields.string("type")
        if not engine_type:
            raise InvalidRequest('missing required field "type"')
        options = {k: str(v) for k, v in fields.mapping("options").items()}
        await core.mount(
            MountEntry(
                path=path,
                type=engine_type,
                description=fields.string("description"),
                config=_mount_config(fields.mapping("config")),
                options=options,
                local=fields.boolean("local"),
                seal_wrap=fields.boolean("seal_wrap"),
            )
        )

    async def disable(request: Request, fields: FieldData) -> None:
        """Unmount a secrets engine and delete all its data."""
        path = normalise_mount_path(fields.string("path"))
        await core.unmount(path)

    async def read_openapi(request: Request, fields: FieldData) -> Response:
        """The OpenAPI document of the mounted endpoints."""
        return Response(raw_body=openapi_document(core))

    mount_fields = {
        "path": Field(FieldType.STRING, "Where the engine is mounted.", required=True),
        "type": Field(FieldType.STRING, "Engine type, e.g. kv."),
        "description": Field(FieldType.STRING, "Human-friendly description."),
        "config": Field(FieldType.MAP, "default_lease_ttl, max_lease_ttl."),
        "options": Field(FieldType.MAP, "Engine options, e.g. version for kv."),
        "local": Field(FieldType.BOOL, "Not replicated (accepted for compatibility)."),
        "seal_wrap": Field(FieldType.BOOL, "Accepted for compatibility."),
        "plugin_name": Field(FieldType.STRING, "Accepted for compatibility."),
        "external_entropy_access": Field(FieldType.BOOL, "Accepted for compatibility."),
    }
    return [
        Path("mounts/?", "List mounted secrets engines.", ops(read=list_mounts)),
        Path(
            "mounts/(?P<path>.+?)/?",
            "Enable, read or disable a secrets engine.",
            ops(read=read_mount, update=enable, delete=disable),
            fields=mount_fields,
        ),
        Path("internal/specs/openapi", "OpenAPI document of the API.", ops(read=read_openapi)),
    ]
