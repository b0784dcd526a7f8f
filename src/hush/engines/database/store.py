"""What the database engine keeps in its storage view: connections, roles and static roles.

Keys: ``config/<name>``, ``role/<name>``, ``static-role/<name>``; the due-time index holds
``rotation/<name>`` for each static role, at its next rotation time. Passwords (the root one,
static roles' current ones) are stored behind the barrier like every value, and never returned
by a read of the config.
"""

from __future__ import annotations

import dataclasses
import datetime
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote, unquote

import orjson

from hush.barrier.view import LogicalStorage

__all__ = [
    "ConnectionConfig",
    "DatabaseStore",
    "DynamicRole",
    "StaticRole",
    "role_from_rotation_key",
    "rotation_key",
]

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class ConnectionConfig:
    """One ``config/:name``: how to reach a database and who may use it."""

    name: str
    plugin_name: str
    connection_url: str
    username: str = ""
    password: str = field(default="", repr=False)
    allowed_roles: tuple[str, ...] = ()
    verify_connection: bool = True
    password_policy: str = ""
    username_template: str = ""
    max_open_connections: int = 4
    max_idle_connections: int = 0
    max_connection_lifetime: int = 0
    root_rotation_statements: tuple[str, ...] = ()
    #: Set by rotate-root before the database is changed, cleared after (see config_paths).
    pending_password: str = field(default="", repr=False)

    def describe(self) -> dict[str, Any]:
        """The read response: everything but the password (Vault's shape)."""
        details: dict[str, Any] = {"connection_url": self.connection_url, "username": self.username}
        if self.max_open_connections != 4:
            details["max_open_connections"] = self.max_open_connections
        if self.max_connection_lifetime:
            details["max_connection_lifetime"] = f"{self.max_connection_lifetime}s"
        if self.username_template:
            details["username_template"] = self.username_template
        return {
            "plugin_name": self.plugin_name,
            "plugin_version": "",
            "connection_details": details,
            "allowed_roles": list(self.allowed_roles),
            "root_credentials_rotate_statements": list(self.root_rotation_statements),
            "password_policy": self.password_policy,
        }


@dataclass(frozen=True, slots=True)
class DynamicRole:
    """One ``roles/:name``: statements that create and drop a short-lived user."""

    name: str
    db_name: str
    creation_statements: tuple[str, ...]
    revocation_statements: tuple[str, ...] = ()
    rollback_statements: tuple[str, ...] = ()
    renew_statements: tuple[str, ...] = ()
    default_ttl: int = 0
    max_ttl: int = 0

    def describe(self) -> dict[str, Any]:
        """The read response (Vault's shape)."""
        return {
            "db_name": self.db_name,
            "creation_statements": list(self.creation_statements),
            "revocation_statements": list(self.revocation_statements),
            "rollback_statements": list(self.rollback_statements),
            "renew_statements": list(self.renew_statements),
            "default_ttl": self.default_ttl,
            "max_ttl": self.max_ttl,
            "credential_type": "password",
        }


@dataclass(frozen=True, slots=True)
class StaticRole:
    """One ``static-roles/:name``: an existing database user whose password Hush rotates.

    ``pending_password`` is set before the database is changed and cleared after, so a rotation
    interrupted between the two is finished with the same password (the database may already
    have it) instead of losing it.
    """

    name: str
    db_name: str
    username: str
    rotation_period: int = 0
    rotation_schedule: str = ""
    rotation_window: int = 0
    rotation_statements: tuple[str, ...] = ()
    password: str = field(default="", repr=False)
    pending_password: str = field(default="", repr=False)
    last_vault_rotation: float = 0.0
    next_rotation: float = 0.0

    def describe(self, now: float) -> dict[str, Any]:
        """The read response (Vault's shape, without the password)."""
        data: dict[str, Any] = {
            "db_name": self.db_name,
            "username": self.username,
            "rotation_statements": list(self.rotation_statements),
            "credential_type": "password",
            "last_vault_rotation": _rfc3339(self.last_vault_rotation),
            "ttl": max(int(self.next_rotation - now), 0),
        }
        if self.rotation_schedule:
            data["rotation_schedule"] = self.rotation_schedule
            if self.rotation_window:
                data["rotation_window"] = self.rotation_window
        else:
            data["rotation_period"] = self.rotation_period
        return data


def _rfc3339(stamp: float) -> str:
    if not stamp:
        return ""
    moment = datetime.datetime.fromtimestamp(stamp, tz=datetime.UTC)
    return moment.isoformat().replace("+00:00", "Z")


def _encode(value: Any) -> bytes:
    return orjson.dumps(dataclasses.asdict(value))


def _decode(kind: type[_T], blob: bytes) -> _T:
    raw = orjson.loads(blob)
    names = {f.name: f for f in dataclasses.fields(kind)}  # type: ignore[arg-type]
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items() if k in names}
    return kind(**values)


class DatabaseStore:
    """Typed access to the engine's storage view."""

    def __init__(self, storage: LogicalStorage) -> None:
        self.storage = storage

    async def _get(self, kind: type[_T], key: str) -> _T | None:
        blob = await self.storage.get(key)
        return None if blob is None else _decode(kind, blob)

    async def _names(self, folder: str) -> list[str]:
        return sorted(unquote(k) for k in await self.storage.list(folder) if not k.endswith("/"))

    async def config(self, name: str) -> ConnectionConfig | None:
        """A connection config."""
        return await self._get(ConnectionConfig, "config/" + quote(name, safe=""))

    async def put_config(self, config: ConnectionConfig) -> None:
        """Store a connection config."""
        await self.storage.put("config/" + quote(config.name, safe=""), _encode(config))

    async def delete_config(self, name: str) -> None:
        """Delete a connection config."""
        await self.storage.delete("config/" + quote(name, safe=""))

    async def config_names(self) -> list[str]:
        """Every connection name."""
        return await self._names("config/")

    async def role(self, name: str) -> DynamicRole | None:
        """A dynamic role."""
        return await self._get(DynamicRole, "role/" + quote(name, safe=""))

    async def put_role(self, role: DynamicRole) -> None:
        """Store a dynamic role."""
        await self.storage.put("role/" + quote(role.name, safe=""), _encode(role))

    async def delete_role(self, name: str) -> None:
        """Delete a dynamic role."""
        await self.storage.delete("role/" + quote(name, safe=""))

    async def role_names(self) -> list[str]:
        """Every dynamic role name."""
        return await self._names("role/")

    async def static_role(self, name: str) -> StaticRole | None:
        """A static role."""
        return await self._get(StaticRole, "static-role/" + quote(name, safe=""))

    async def put_static_role(self, role: StaticRole) -> None:
        """Store a static role."""
        await self.storage.put("static-role/" + quote(role.name, safe=""), _encode(role))

    async def delete_static_role(self, name: str) -> None:
        """Delete a static role."""
        await self.storage.delete("static-role/" + quote(name, safe=""))

    async def static_role_names(self) -> list[str]:
        """Every static role name."""
        return await self._names("static-role/")


def rotation_key(name: str) -> str:
    """The due-time index key of a static role's next rotation."""
    return "rotation/" + quote(name, safe="")


def role_from_rotation_key(key: str) -> str:
    """Inverse of :func:`rotation_key`."""
    return unquote(key.removeprefix("rotation/"))
