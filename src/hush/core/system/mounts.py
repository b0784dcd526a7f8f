"""``sys/mounts`` (list, enable, read, disable) and ``sys/internal/specs/openapi``."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from hush.core.errors import InvalidRequest, PermissionDenied
from hush.core.mounts import MountEntry, normalise_mount_path
from hush.core.request import Request, Response
from hush.core.system.common import ops, version_string
from hush.core.ttl import parse_ttl
from hush.framework.backend import Backend
from hush.framework.fields import Field, FieldData, FieldType
from hush.framework.path import Path

if TYPE_CHECKING:
    from hush.core.core import Core

__all__ = [
    "SYSTEM_DEFAULT_LEASE_TTL",
    "SYSTEM_MAX_LEASE_TTL",
    "mount_paths",
    "openapi_document",
    "parse_mount_config",
    "tune_view",
]

SYSTEM_DEFAULT_LEASE_TTL = 768 * 3600
SYSTEM_MAX_LEASE_TTL = 768 * 3600

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


def parse_mount_config(raw: dict[str, Any]) -> dict[str, Any]:
    """TTL settings of a mount's ``config`` object, parsed to seconds (``system`` = unset)."""
    config: dict[str, Any] = {}
    for key in ("default_lease_ttl", "max_lease_ttl"):
        if key in raw and raw[key] not in (None, "", "system"):
            try:
                config[key] = parse_ttl(raw[key])
            except ValueError as exc:
                raise InvalidRequest(f'invalid "config.{key}": {exc}') from None
    return config


def _normalise_type(engine_type: str, options: dict[str, str]) -> tuple[str, dict[str, str]]:
    # Vault accepts "kv-v2" as shorthand for kv with version 2, and "generic" for kv version 1.
    if engine_type == "kv-v2":
        return "kv", {**options, "version": "2"}
    if engine_type == "generic":
        return "kv", {**options, "version": "1"}
    if engine_type == "kv":
        return "kv", {**options, "version": options.get("version") or "1"}
    return engine_type, options


def tune_view(entry: MountEntry) -> dict[str, Any]:
    """A mount's tunable settings as ``sys/mounts/:path/tune`` and ``sys/auth/:path/tune`` show."""
    config = entry.describe()["config"]
    body: dict[str, Any] = {
        "default_lease_ttl": config["default_lease_ttl"] or SYSTEM_DEFAULT_LEASE_TTL,
        "max_lease_ttl": config["max_lease_ttl"] or SYSTEM_MAX_LEASE_TTL,
        "force_no_cache": False,
        "description": entry.description,
        "options": dict(entry.options) or None,
    }
    for key in (
        "listing_visibility",
        "passthrough_request_headers",
        "allowed_response_headers",
        "audit_non_hmac_request_keys",
        "audit_non_hmac_response_keys",
    ):
        if entry.config.get(key):
            body[key] = entry.config[key]
    return body


def openapi_document(core: Core) -> dict[str, Any]:
    """The OpenAPI 3 document of every mounted backend's declared paths.

    Like Vault's, it covers the built-in token store, cubbyhole, identity and every auth mount.
    """
    backends: list[tuple[str, Backend]] = [
        ("sys/", core.system),
        ("auth/token/", core.token_backend),
        ("cubbyhole/", core.cubbyhole),
        ("identity/", core.identity_backend),
    ]
    backends += [(path, core.mounts.backends[path]) for path in sorted(core.mounts.backends)]
    auth = core.auth_mounts.backends
    backends += [("auth/" + path, auth[path]) for path in sorted(auth)]
    paths: dict[str, Any] = {}
    for prefix, backend in backends:
        for declared in backend.declared_paths:
            paths["/" + prefix + declared.openapi_path()] = declared.openapi_item(prefix)
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
        engine_type, options = _normalise_type(engine_type, options)
        await core.mount(
            MountEntry(
                path=path,
                type=engine_type,
                description=fields.string("description"),
                config=parse_mount_config(fields.mapping("config")),
                options=options,
                local=fields.boolean("local"),
                seal_wrap=fields.boolean("seal_wrap"),
            )
        )

    async def disable(request: Request, fields: FieldData) -> None:
        """Unmount a secrets engine and delete all its data."""
        path = normalise_mount_path(fields.string("path"))
        await core.unmount(path)

    async def read_tune(request: Request, fields: FieldData) -> Response:
        """A mount's tunable settings."""
        path = normalise_mount_path(fields.string("path"))
        entry = core.mounts.entries.get(path)
        if entry is None:
            raise InvalidRequest(f'cannot fetch tune settings of "{path}": no mount there')
        return Response(data=tune_view(entry), flatten=True)

    async def write_tune(request: Request, fields: FieldData) -> None:
        """Change a mount's TTLs, description, options or listing settings."""
        path = normalise_mount_path(fields.string("path"))
        entry = core.mounts.entries.get(path)
        if entry is None:
            raise InvalidRequest(f'cannot tune "{path}": no mount there')
        config = parse_mount_config(
            {k: fields.raw(k) for k in ("default_lease_ttl", "max_lease_ttl") if fields.has(k)}
        )
        merged = {**entry.config, **config}
        default_ttl, max_ttl = merged.get("default_lease_ttl", 0), merged.get("max_lease_ttl", 0)
        if max_ttl and default_ttl > max_ttl:
            raise InvalidRequest(
                f"backend max lease TTL of {max_ttl} would be less than backend default "
                f"lease TTL of {default_ttl}"
            )
        visibility = fields.string("listing_visibility")
        if fields.has("listing_visibility"):
            if visibility not in ("", "unauth", "hidden"):
                raise InvalidRequest('listing_visibility must be "unauth", "hidden" or empty')
            config["listing_visibility"] = visibility
        for key in (
            "passthrough_request_headers",
            "allowed_response_headers",
            "audit_non_hmac_request_keys",
            "audit_non_hmac_response_keys",
        ):
            if fields.has(key):
                config[key] = fields.strings(key)
        options = (
            {k: str(v) for k, v in fields.mapping("options").items()}
            if fields.has("options")
            else None
        )
        if options and entry.type == "kv" and "version" in options:
            if options["version"] not in ("1", "2"):
                raise InvalidRequest('kv option "version" must be 1 or 2')
            if entry.options.get("version") == "2" and options["version"] == "1":
                raise InvalidRequest("cannot downgrade a kv mount from version 2 to version 1")
        await core.tune_mount(
            path,
            config=config,
            options=options,
            description=fields.string("description") if fields.has("description") else None,
        )

    async def remount(request: Request, fields: FieldData) -> Response:
        """Move a secrets engine to a new path (its data moves with it)."""
        source = normalise_mount_path(fields.string("from"))
        target = normalise_mount_path(fields.string("to"))
        await core.remount(source, target)
        migration_id = str(uuid.uuid4())
        core.remount_history[migration_id] = (source, target)
        return Response(data={"migration_id": migration_id}, flatten=True)

    async def remount_status(request: Request, fields: FieldData) -> Response | None:
        """Status of a remount (Hush remounts synchronously, so it is always finished)."""
        found = core.remount_history.get(fields.string("migration_id"))
        if found is None:
            return None
        return Response(
            data={
                "migration_id": fields.string("migration_id"),
                "migration_info": {
                    "source_mount": found[0],
                    "target_mount": found[1],
                    "status": "success",
                },
            }
        )

    async def ui_mounts(request: Request, fields: FieldData) -> Response:
        """Mounts the caller can use (all for root; none without a valid token)."""
        entry = await core.optional_token(request)
        secret: dict[str, Any] = {}
        if entry is not None:
            acl = await core.acl_for(entry)
            for path, mount in sorted(core.mounts.entries.items()):
                if mount.config.get("listing_visibility") == "hidden" and not entry.is_root:
                    continue
                if acl.capabilities(path) != ["deny"] or acl.has_any_under(path):
                    secret[path] = mount.describe()
        return Response(data={"secret": secret, "auth": {}}, flatten=True)

    async def ui_mount(request: Request, fields: FieldData) -> Response:
        """One mount's details for the caller (the CLI uses it to detect kv versions)."""
        entry = await core.optional_token(request)
        path = fields.string("path").strip("/") + "/"
        found = core.mounts.resolve(path)
        if entry is None or found is None:
            raise PermissionDenied
        mount = found[0]
        acl = await core.acl_for(entry)
        if acl.capabilities(path) == ["deny"] and not acl.has_any_under(mount.path):
            raise PermissionDenied
        return Response(data={**mount.describe(), "path": mount.path}, flatten=True)

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
    tune_fields = {
        "path": Field(FieldType.STRING, "Where the engine is mounted.", required=True),
        "default_lease_ttl": Field(FieldType.STRING, "Default lease TTL (duration or system)."),
        "max_lease_ttl": Field(FieldType.STRING, "Max lease TTL (duration or system)."),
        "description": Field(FieldType.STRING, "Human-friendly description."),
        "options": Field(FieldType.MAP, "Engine options; kv version 1 → 2 upgrades in place."),
        "listing_visibility": Field(FieldType.STRING, "unauth, hidden or empty."),
        "passthrough_request_headers": Field(FieldType.COMMA_STRING_LIST, "Headers passed on."),
        "allowed_response_headers": Field(FieldType.COMMA_STRING_LIST, "Headers returned."),
        "audit_non_hmac_request_keys": Field(FieldType.COMMA_STRING_LIST, "Unhashed keys."),
        "audit_non_hmac_response_keys": Field(FieldType.COMMA_STRING_LIST, "Unhashed keys."),
    }
    return [
        Path("mounts/?", "List mounted secrets engines.", ops(read=list_mounts)),
        Path(
            "mounts/(?P<path>.+?)/tune",
            "Read or change a mount's settings.",
            ops(read=read_tune, update=write_tune),
            fields=tune_fields,
        ),
        Path(
            "mounts/(?P<path>.+?)/?",
            "Enable, read or disable a secrets engine.",
            ops(read=read_mount, update=enable, delete=disable),
            fields=mount_fields,
        ),
        Path(
            "remount",
            "Move a secrets engine to a new path.",
            ops(update=remount),
            fields={
                "from": Field(FieldType.STRING, "Current mount path.", required=True),
                "to": Field(FieldType.STRING, "New mount path.", required=True),
            },
        ),
        Path(
            "remount/status/(?P<migration_id>[^/]+)",
            "Status of a remount.",
            ops(read=remount_status),
            fields={"migration_id": Field(FieldType.STRING, "Id returned by sys/remount.")},
        ),
        Path("internal/ui/mounts", "Mounts visible to the caller.", ops(read=ui_mounts)),
        Path(
            "internal/ui/mounts/(?P<path>.+)",
            "One mount's details for the caller.",
            ops(read=ui_mount),
            fields={"path": Field(FieldType.STRING, "Path inside the mount.")},
        ),
        Path("internal/specs/openapi", "OpenAPI document of the API.", ops(read=read_openapi)),
    ]
