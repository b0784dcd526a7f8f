"""Connection endpoints: ``config/:name``, ``reset/:name``, ``reload/:plugin_name``,
``rotate-root/:name``.
"""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from hush.core.errors import InvalidRequest
from hush.core.request import Request, Response
from hush.engines.database.plugins import PLUGIN_NAMES, check_plugin_name, make_plugin
from hush.engines.database.store import ConnectionConfig
from hush.engines.database.templates import UsernameTemplate
from hush.framework.fields import Field, FieldData, FieldType
from hush.framework.path import Path, ops

if TYPE_CHECKING:
    from hush.engines.database.backend import DatabaseBackend

__all__ = ["config_paths"]

_NAME = Field(FieldType.STRING, "Name of this database connection.", required=True)
_CONFIG_FIELDS = {
    "name": _NAME,
    "plugin_name": Field(
        FieldType.STRING, f"The database plugin: one of {', '.join(PLUGIN_NAMES)}."
    ),
    "plugin_version": Field(FieldType.STRING, "Accepted for compatibility; must be empty."),
    "connection_url": Field(
        FieldType.STRING,
        "How to reach the database; {{username}} and {{password}} are filled from the fields "
        "below (PostgreSQL: a libpq URL; MySQL: user:password@tcp(host:port)/db).",
    ),
    "username": Field(FieldType.STRING, "The root user Hush connects as."),
    "password": Field(FieldType.STRING, "The root user's password (write-only).", sensitive=True),
    "verify_connection": Field(
        FieldType.BOOL, "Connect once before saving (default true).", default=True
    ),
    "allowed_roles": Field(
        FieldType.COMMA_STRING_LIST,
        'Roles allowed to use this connection (globs; "*" for all; empty for none).',
    ),
    "root_rotation_statements": Field(
        FieldType.STRING_LIST, "Statements run by rotate-root ({{username}}, {{password}})."
    ),
    "password_policy": Field(
        FieldType.STRING, "Name of the sys/policies/password policy for generated passwords."
    ),
    "username_template": Field(
        FieldType.STRING, "Template for dynamic usernames (Vault's Go-template subset)."
    ),
    "max_open_connections": Field(
        FieldType.INT, "Maximum open connections in the pool (default 4).", default=4
    ),
    "max_idle_connections": Field(FieldType.INT, "Accepted; idle connections are pooled."),
    "max_connection_lifetime": Field(
        FieldType.DURATION, "Maximum lifetime of a pooled connection (0: one hour)."
    ),
}


def _redacted_url(url: str) -> str:
    """``url`` with a literal password shown as ``xxxxx`` (Vault shows URLs through Go's
    ``url.Redacted()``); a ``{{password}}`` placeholder is left as it is.

    Handles URLs, Go's MySQL DSN (``user:password@tcp(host)/db``) and libpq's key=value form.
    """
    if "://" in url:
        try:
            parts = urlsplit(url)
            if parts.password and parts.password != "{{password}}":
                host = parts.netloc.rsplit("@", 1)[1]
                return urlunsplit(parts._replace(netloc=f"{parts.username}:xxxxx@{host}"))
        except ValueError:
            return _KEY_VALUE_PASSWORD.sub("password=xxxxx", url)
        return url
    if "=" in url.split("@", 1)[0] or "@" not in url:
        return _KEY_VALUE_PASSWORD.sub(
            lambda m: m.group(0) if m.group(1) == "{{password}}" else "password=xxxxx", url
        )
    credentials, _, rest = url.rpartition("@")
    user, colon, password = credentials.partition(":")
    if colon and password and password != "{{password}}":
        return f"{user}:xxxxx@{rest}"
    return url


_KEY_VALUE_PASSWORD = re.compile(r"password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)")


def config_paths(backend: DatabaseBackend) -> list[Path]:
    """The connection endpoints of one database mount."""
    store = backend.store

    async def exists(request: Request, fields: FieldData) -> bool:
        return await store.config(fields.string("name")) is not None

    async def write(request: Request, fields: FieldData) -> Response | None:
        """Create or update a connection; verifies it first unless told not to."""
        name = fields.string("name")
        old = await store.config(name)
        if fields.string("plugin_version"):
            raise InvalidRequest("plugin_version is not supported: Hush ships builtin plugins")
        plugin_name = fields.string("plugin_name") or (old.plugin_name if old else "")
        if not plugin_name:
            raise InvalidRequest("plugin_name must be set")
        check_plugin_name(plugin_name)
        if old is not None and old.plugin_name != plugin_name:
            raise InvalidRequest("cannot change plugin_name of an existing connection")
        updates: dict[str, object] = {}
        for key in ("connection_url", "username", "password", "password_policy"):
            if fields.has(key):
                updates[key] = fields.string(key)
        if "password" in updates:
            updates["pending_password"] = ""  # a password set by hand supersedes a rotation
        if fields.has("username_template"):
            template = fields.string("username_template")
            if template:
                UsernameTemplate(template)  # refuse a bad template now, not at creds time
            updates["username_template"] = template
        for key in ("max_open_connections", "max_idle_connections", "max_connection_lifetime"):
            if fields.has(key) or old is None:
                updates[key] = fields.integer(key)
        if fields.has("allowed_roles"):
            updates["allowed_roles"] = tuple(r for r in fields.strings("allowed_roles") if r)
        if fields.has("root_rotation_statements"):
            updates["root_rotation_statements"] = tuple(fields.strings("root_rotation_statements"))
        updates["verify_connection"] = fields.boolean("verify_connection")
        if old is None:
            if not fields.string("connection_url"):
                raise InvalidRequest("connection_url must be set")
            config = ConnectionConfig(name=name, plugin_name=plugin_name, **updates)  # type: ignore[arg-type]
        else:
            config = dataclasses.replace(old, **updates)  # type: ignore[arg-type]
        if config.max_open_connections < 1:
            raise InvalidRequest("max_open_connections must be at least 1")
        if config.verify_connection:
            from hush.engines.database.backend import settings_of

            probe = make_plugin(config.plugin_name, settings_of(config))
            try:
                await probe.verify()
            finally:
                await probe.close()
        await store.put_config(config)
        await backend.close_plugin(name)  # the next use connects with the new settings
        return None

    async def read(request: Request, fields: FieldData) -> Response | None:
        """A connection's settings, without its password."""
        config = await store.config(fields.string("name"))
        if config is None:
            return None
        data = config.describe()
        data["connection_details"]["connection_url"] = _redacted_url(config.connection_url)
        return Response(data=data)

    async def delete(request: Request, fields: FieldData) -> None:
        """Remove a connection and close its pool."""
        name = fields.string("name")
        await store.delete_config(name)
        await backend.close_plugin(name)

    async def list_configs(request: Request, fields: FieldData) -> Response | None:
        """Every connection name."""
        names = await store.config_names()
        return Response(data={"keys": names}) if names else None

    async def reset(request: Request, fields: FieldData) -> None:
        """Close the connection's pool; the next request reconnects with the stored settings."""
        config = await backend.require_config(fields.string("name"))
        await backend.close_plugin(config.name)

    async def reload(request: Request, fields: FieldData) -> Response:
        """Close the pools of every connection using ``plugin_name``."""
        plugin_name = fields.string("plugin_name")
        check_plugin_name(plugin_name)
        reloaded: list[str] = []
        for name in await store.config_names():
            config = await store.config(name)
            if config is not None and config.plugin_name == plugin_name:
                await backend.close_plugin(name)
                reloaded.append(name)
        return Response(data={"connections": reloaded, "count": len(reloaded)})

    async def rotate_root(request: Request, fields: FieldData) -> None:
        """Give the root user a new password nobody sees; the old one stops working."""
        config = await backend.require_config(fields.string("name"))
        if not config.username:
            raise InvalidRequest("unable to rotate root credentials: no username in configuration")
        if not config.password:
            raise InvalidRequest("unable to rotate root credentials: no password in configuration")
        config = await backend.recover_root_password(config)
        # The new password is stored as pending before the database changes, so a crash
        # between the two cannot lose it: recover_root_password finishes the job later.
        pending = dataclasses.replace(
            config, pending_password=await backend.generate_password(config)
        )
        await store.put_config(pending)
        plugin = await backend.plugin(config)
        try:
            await plugin.set_password(
                config.root_rotation_statements, config.username, pending.pending_password
            )
        except Exception:
            await store.put_config(config)  # refused: the old password is still the one
            raise
        await store.put_config(
            dataclasses.replace(config, password=pending.pending_password, pending_password="")
        )
        await backend.close_plugin(config.name)

    name_only = {"name": _NAME}
    segment = r"(?P<name>[^/]+)"
    return [
        Path("config/?", "List database connections.", ops(list=list_configs)),
        Path(
            f"config/{segment}",
            "Configure, read or delete a database connection.",
            ops(create=write, update=write, read=read, delete=delete),
            fields=_CONFIG_FIELDS,
            exists=exists,
        ),
        Path(
            f"reset/{segment}",
            "Close a connection's pool and reconnect on next use.",
            ops(update=reset),
            fields=name_only,
        ),
        Path(
            "reload/(?P<plugin_name>[^/]+)",
            "Close the pools of every connection using a plugin.",
            ops(update=reload),
            fields={"plugin_name": Field(FieldType.STRING, "Plugin name.", required=True)},
        ),
        Path(
            f"rotate-root/{segment}",
            "Rotate the root user's password; the new one is never returned.",
            ops(update=rotate_root),
            fields=name_only,
        ),
    ]
