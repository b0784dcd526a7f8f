"""``sys/auth``: enable, list, tune and disable auth methods (mounted under ``auth/``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hush.core.errors import InvalidRequest
from hush.core.identity import TOKEN_MOUNT_ACCESSOR
from hush.core.mounts import MountEntry, normalise_mount_path
from hush.core.request import Request, Response
from hush.core.system.common import ops
from hush.core.system.mounts import parse_mount_config, tune_view
from hush.crypto import random_token_string
from hush.framework.fields import Field, FieldData, FieldType
from hush.framework.path import Path

if TYPE_CHECKING:
    from hush.core.core import Core

__all__ = ["auth_paths"]

_TOKEN_MOUNT = {
    "type": "token",
    "description": "token based credentials",
    "accessor": TOKEN_MOUNT_ACCESSOR,
    "uuid": "token",
    "config": {"default_lease_ttl": 0, "max_lease_ttl": 0, "token_type": "default-service"},
    "options": None,
    "local": False,
    "seal_wrap": False,
    "external_entropy_access": False,
}
_LOCKOUT_KEYS = {
    "lockout_threshold": "user_lockout_threshold",
    "lockout_duration": "user_lockout_duration",
    "lockout_counter_reset": "user_lockout_counter_reset",
    "lockout_disable": "user_lockout_disable",
}


def _lockout_config(raw: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(raw) - set(_LOCKOUT_KEYS))
    if unknown:
        raise InvalidRequest(f"unknown user_lockout_config keys: {', '.join(unknown)}")
    return {_LOCKOUT_KEYS[k]: str(v) for k, v in raw.items()}


def auth_paths(core: Core) -> list[Path]:
    """Auth-method mount endpoints of the system backend."""

    def describe(entry: MountEntry) -> dict[str, Any]:
        body = entry.describe()
        body["config"]["token_type"] = entry.config.get("token_type", "default-service")
        return body

    async def list_methods(request: Request, fields: FieldData) -> Response:
        """Every enabled auth method, the built-in token method first."""
        data: dict[str, Any] = {"token/": _TOKEN_MOUNT}
        for path, entry in sorted(core.auth_mounts.entries.items()):
            data[path] = describe(entry)
        return Response(data=data, flatten=True)

    async def enable(request: Request, fields: FieldData) -> None:
        """Enable an auth method at ``auth/<path>``."""
        path = normalise_mount_path(fields.string("path"))
        method = fields.string("type")
        if not method:
            raise InvalidRequest('missing required field "type"')
        if core.auth_mounts.entries.get(path) is not None or path == "token/":
            raise InvalidRequest(f'path is already in use at "auth/{path}"')
        config = parse_mount_config(fields.mapping("config"))
        entry = MountEntry(
            path=path,
            type=method,
            accessor=f"auth_{method}_{random_token_string(8).lower()}",
            description=fields.string("description"),
            config=config,
            options={k: str(v) for k, v in fields.mapping("options").items()},
            local=fields.boolean("local"),
            seal_wrap=fields.boolean("seal_wrap"),
        )
        await core.mount_auth(entry)

    async def disable(request: Request, fields: FieldData) -> None:
        """Disable an auth method and delete its data (its users, roles, secret ids)."""
        await core.unmount_auth(normalise_mount_path(fields.string("path")))

    async def read_tune(request: Request, fields: FieldData) -> Response:
        """An auth method's tunable settings."""
        path = normalise_mount_path(fields.string("path"))
        entry = core.auth_mounts.entries.get(path)
        if entry is None:
            raise InvalidRequest(f'cannot fetch tune settings of "auth/{path}": no auth method')
        body = tune_view(entry)
        body["token_type"] = entry.config.get("token_type", "default-service")
        return Response(data=body, flatten=True)

    async def write_tune(request: Request, fields: FieldData) -> None:
        """Change an auth method's TTLs, description, token type or user lockout settings."""
        path = normalise_mount_path(fields.string("path"))
        if path not in core.auth_mounts.entries:
            raise InvalidRequest(f'cannot tune "auth/{path}": no auth method there')
        config = parse_mount_config(
            {k: fields.raw(k) for k in ("default_lease_ttl", "max_lease_ttl") if fields.has(k)}
        )
        if fields.has("token_type"):
            config["token_type"] = fields.string("token_type")
        if fields.has("listing_visibility"):
            config["listing_visibility"] = fields.string("listing_visibility")
        if fields.has("user_lockout_config"):
            config.update(_lockout_config(fields.mapping("user_lockout_config")))
        description = fields.string("description") if fields.has("description") else None
        await core.tune_auth(path, config=config, description=description)

    path_field = {"path": Field(FieldType.STRING, "Where the method is mounted.", required=True)}
    return [
        Path("auth/?", "List enabled auth methods.", ops(read=list_methods)),
        Path(
            "auth/(?P<path>.+?)/tune",
            "Read or change an auth method's settings.",
            ops(read=read_tune, update=write_tune),
            fields={
                **path_field,
                "default_lease_ttl": Field(FieldType.STRING, "Default token TTL."),
                "max_lease_ttl": Field(FieldType.STRING, "Maximum token TTL."),
                "description": Field(FieldType.STRING, "Human-friendly description."),
                "token_type": Field(
                    FieldType.STRING,
                    "Token type issued on login.",
                    allowed=("service", "batch", "default-service", "default-batch"),
                ),
                "listing_visibility": Field(FieldType.STRING, "unauth, hidden or empty."),
                "user_lockout_config": Field(
                    FieldType.MAP,
                    "lockout_threshold, lockout_duration, lockout_counter_reset, disable_lockout.",
                ),
            },
        ),
        Path(
            "auth/(?P<path>.+?)/?",
            "Enable or disable an auth method.",
            ops(update=enable, delete=disable),
            fields={
                **path_field,
                "type": Field(FieldType.STRING, "Auth method type, e.g. userpass."),
                "description": Field(FieldType.STRING, "Human-friendly description."),
                "config": Field(FieldType.MAP, "default_lease_ttl, max_lease_ttl."),
                "options": Field(FieldType.MAP, "Method options."),
                "local": Field(FieldType.BOOL, "Accepted for compatibility."),
                "seal_wrap": Field(FieldType.BOOL, "Accepted for compatibility."),
                "plugin_name": Field(FieldType.STRING, "Accepted for compatibility."),
            },
        ),
    ]
