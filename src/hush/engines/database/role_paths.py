"""Dynamic roles and their credentials: ``roles/:name`` and ``creds/:name``."""

from __future__ import annotations

import dataclasses
import fnmatch
import time
from typing import TYPE_CHECKING

from hush.core.errors import InvalidRequest
from hush.core.request import Request, Response, SecretLease
from hush.engines.database.store import DynamicRole
from hush.engines.database.templates import UsernameTemplate
from hush.framework.fields import Field, FieldData, FieldType
from hush.framework.path import Path, ops

if TYPE_CHECKING:
    from hush.engines.database.backend import DatabaseBackend

__all__ = ["role_paths"]

_NAME = Field(FieldType.STRING, "Name of the role.", required=True)
_STATEMENTS = ("creation_statements", "revocation_statements", "rollback_statements")
_ROLE_FIELDS = {
    "name": _NAME,
    "db_name": Field(FieldType.STRING, "Name of the database connection this role uses."),
    "creation_statements": Field(
        FieldType.STRING_LIST,
        "Statements creating the user: {{name}}, {{password}}, {{expiration}} are filled in.",
    ),
    "revocation_statements": Field(
        FieldType.STRING_LIST, "Statements dropping the user (default: the plugin's drop)."
    ),
    "rollback_statements": Field(
        FieldType.STRING_LIST, "Statements undoing a failed creation (MySQL: no DDL rollback)."
    ),
    "renew_statements": Field(
        FieldType.STRING_LIST, "Statements run when a lease is renewed ({{expiration}})."
    ),
    "default_ttl": Field(FieldType.DURATION, "Default lease TTL (0: the mount's)."),
    "max_ttl": Field(FieldType.DURATION, "Maximum lease TTL (0: the mount's)."),
    "credential_type": Field(
        FieldType.STRING, "Only password credentials are supported.", allowed=("password",)
    ),
}


def role_paths(backend: DatabaseBackend) -> list[Path]:
    """The dynamic role endpoints of one database mount."""
    store = backend.store

    async def exists(request: Request, fields: FieldData) -> bool:
        return await store.role(fields.string("name")) is not None

    async def write(request: Request, fields: FieldData) -> None:
        """Create or update a role (fields not sent keep their value)."""
        name = fields.string("name")
        old = await store.role(name)
        updates: dict[str, object] = {}
        for key in ("db_name",):
            if fields.has(key):
                updates[key] = fields.string(key)
        for key in (*_STATEMENTS, "renew_statements"):
            if fields.has(key):
                updates[key] = tuple(s for s in fields.strings(key) if s.strip())
        for key in ("default_ttl", "max_ttl"):
            if fields.has(key):
                updates[key] = fields.integer(key)
        if old is None:
            if await store.static_role(name) is not None:
                raise InvalidRequest("Role and Static Role names must be unique")
            if not updates.get("db_name"):
                raise InvalidRequest("empty database name attribute")
            role = DynamicRole(name=name, **{"creation_statements": (), **updates})  # type: ignore[arg-type]
        else:
            role = dataclasses.replace(old, **updates)  # type: ignore[arg-type]
        if not role.creation_statements:
            raise InvalidRequest("empty creation statements")
        if role.max_ttl and role.default_ttl > role.max_ttl:
            raise InvalidRequest("ttl cannot be greater than max_ttl")
        await store.put_role(role)

    async def read(request: Request, fields: FieldData) -> Response | None:
        """A role's statements and TTLs."""
        role = await store.role(fields.string("name"))
        return None if role is None else Response(data=role.describe())

    async def delete(request: Request, fields: FieldData) -> None:
        """Delete a role (its outstanding credentials stay until their leases end)."""
        await store.delete_role(fields.string("name"))

    async def list_roles(request: Request, fields: FieldData) -> Response | None:
        """Every role name."""
        names = await store.role_names()
        return Response(data={"keys": names}) if names else None

    async def creds(request: Request, fields: FieldData) -> Response:
        """Create a database user for the role and return it with a lease."""
        name = fields.string("name")
        role = await store.role(name)
        if role is None:
            raise InvalidRequest(f"unknown role: {name}")
        config = await backend.require_config(role.db_name)
        if not any(fnmatch.fnmatchcase(name, pattern) for pattern in config.allowed_roles):
            raise InvalidRequest(f'"{name}" is not an allowed role')
        default_ttl, max_ttl = backend.mount_ttls()
        max_ttl = min(role.max_ttl or max_ttl, max_ttl)
        ttl = min(role.default_ttl or default_ttl, max_ttl)
        plugin = await backend.plugin(config)
        template = UsernameTemplate(config.username_template or plugin.default_username_template)
        display_name = request.auth.display_name if request.auth is not None else ""
        username = template.render(name, display_name)
        password = await backend.generate_password(config)
        issued_at = time.time()
        await plugin.create_user(
            role.creation_statements,
            role.rollback_statements,
            username,
            password,
            issued_at + ttl,
        )
        internal = {
            "username": username,
            "role": name,
            "db_name": role.db_name,
            "revocation_statements": list(role.revocation_statements),
            "issued_at": issued_at,
        }
        return Response(
            data={"username": username, "password": password},
            lease_duration=ttl,
            renewable=True,
            secret=SecretLease("creds", ttl=ttl, max_ttl=max_ttl, internal_data=internal),
        )

    segment = r"(?P<name>[^/]+)"
    return [
        Path("roles/?", "List dynamic roles.", ops(list=list_roles)),
        Path(
            f"roles/{segment}",
            "Manage a dynamic role: how its users are created and dropped.",
            ops(create=write, update=write, read=read, delete=delete),
            fields=_ROLE_FIELDS,
            exists=exists,
        ),
        Path(
            f"creds/{segment}",
            "Create a short-lived database user for a role.",
            ops(read=creds),
            fields={"name": _NAME},
        ),
    ]
