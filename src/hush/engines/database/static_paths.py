"""Static roles: ``static-roles/:name``, ``static-creds/:name``, ``rotate-role/:name`` and the
scheduled rotation behind them.

Each static role has one entry in the storage due-time index (``rotation/<name>`` inside the
mount's view) at its next rotation time; the scheduler's tick claims only the entries that are
due, so the cost of a tick does not grow with the number of roles. A rotation stores the new
password as *pending* before changing the database and commits it after, so a rotation
interrupted in between is completed with the same password on the next attempt. A failed
rotation stays claimed for :data:`RETRY_AFTER` seconds and is then retried.
"""

from __future__ import annotations

import dataclasses
import datetime
import fnmatch
import logging
import time
from collections.abc import Iterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from croniter import croniter

from hush.barrier.view import DueIndex
from hush.core.errors import InvalidRequest
from hush.core.request import Request, Response
from hush.engines.database.store import StaticRole, role_from_rotation_key, rotation_key
from hush.framework.fields import Field, FieldData, FieldType
from hush.framework.path import Path, ops

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from hush.engines.database.backend import DatabaseBackend

__all__ = ["MIN_ROTATION_PERIOD", "MIN_ROTATION_WINDOW", "RETRY_AFTER", "StaticRoles"]

MIN_ROTATION_PERIOD = 5
MIN_ROTATION_WINDOW = 3600
RETRY_AFTER = 30.0
_BATCH = 100
log = logging.getLogger("hush.engines.database")

_NAME = Field(FieldType.STRING, "Name of the static role.", required=True)
_FIELDS = {
    "name": _NAME,
    "db_name": Field(FieldType.STRING, "Name of the database connection."),
    "username": Field(FieldType.STRING, "The existing database user whose password rotates."),
    "rotation_period": Field(FieldType.DURATION, "Rotate every this long (at least 5s)."),
    "rotation_schedule": Field(FieldType.STRING, "Rotate on this cron schedule (5 fields)."),
    "rotation_window": Field(
        FieldType.DURATION, "With rotation_schedule: how long after each time rotation may run."
    ),
    "rotation_statements": Field(
        FieldType.STRING_LIST, "Statements changing the password ({{name}}, {{password}})."
    ),
    "credential_type": Field(
        FieldType.STRING, "Only password credentials are supported.", allowed=("password",)
    ),
}


def _cron_next(schedule: str, after: float) -> float:
    start = datetime.datetime.fromtimestamp(after, tz=datetime.UTC)
    return float(croniter(schedule, start).get_next(float))


def _check_schedule(schedule: str) -> None:
    if len(schedule.split()) != 5 or not croniter.is_valid(schedule):
        raise InvalidRequest(
            f'invalid rotation_schedule "{schedule}": expected a standard 5-field cron expression'
        )


def next_rotation(role: StaticRole, after: float) -> float:
    """When ``role`` rotates next, counting from ``after``."""
    if role.rotation_schedule:
        return _cron_next(role.rotation_schedule, after)
    return after + role.rotation_period


class StaticRoles:
    """The static role endpoints and rotation of one database mount."""

    def __init__(self, backend: DatabaseBackend) -> None:
        self._backend = backend
        self._store = backend.store

    @property
    def _index(self) -> DueIndex:
        storage = self._backend.context.storage
        if not isinstance(storage, DueIndex):
            raise TypeError("the database engine needs storage with a due-time index")
        return storage

    @asynccontextmanager
    async def _lock(self, name: str) -> AsyncIterator[None]:
        # A store-wide lock per role name: a scheduled rotation and a rotate-role or an update of
        # the same role never interleave, on this node or on any other sharing the store.
        async with self._backend.context.storage.exclusive("lock/static-role/" + name):
            yield

    # -- rotation --------------------------------------------------------------------------

    async def rotate(self, role: StaticRole, now: float) -> StaticRole:
        """Give ``role``'s user a new password (the pending one, if a rotation was cut short)."""
        config = await self._backend.require_config(role.db_name)
        if not role.pending_password:
            role = dataclasses.replace(
                role, pending_password=await self._backend.generate_password(config)
            )
            await self._store.put_static_role(role)
        plugin = await self._backend.plugin(config)
        await plugin.set_password(role.rotation_statements, role.username, role.pending_password)
        role = dataclasses.replace(
            role,
            password=role.pending_password,
            pending_password="",
            last_vault_rotation=now,
            next_rotation=next_rotation(role, now),
        )
        await self._store.put_static_role(role)
        await self._index.schedule(rotation_key(role.name), role.next_rotation)
        return role

    async def rotate_due(self, now: float) -> list[str]:
        """Rotate every static role whose due time has come; returns the names rotated."""
        rotated: list[str] = []
        for entry in await self._index.claim_due(now, _BATCH, RETRY_AFTER, prefix="rotation/"):
            name = role_from_rotation_key(entry.key)
            async with self._lock(name):
                role = await self._store.static_role(name)
                if role is None:
                    await self._index.unschedule(entry.key)
                    continue
                window = role.rotation_window
                # Measured from the scheduled time, not from a retry's claim.
                scheduled = role.next_rotation or entry.due_at
                if role.rotation_schedule and window and now > scheduled + window:
                    # Missed its window (Vault): wait for the next scheduled time.
                    await self._index.schedule(entry.key, next_rotation(role, now))
                    continue
                try:
                    await self.rotate(role, now)
                except Exception as exc:  # the claim's hold retries it after RETRY_AFTER
                    log.warning(
                        "rotation of static role %s failed (%s); retrying in %ss",
                        name,
                        type(exc).__name__,
                        int(RETRY_AFTER),
                    )
                    continue
            rotated.append(name)
        return rotated

    # -- endpoints -------------------------------------------------------------------------

    async def _exists(self, request: Request, fields: FieldData) -> bool:
        return await self._store.static_role(fields.string("name")) is not None

    async def _write(self, request: Request, fields: FieldData) -> Response | None:
        """Create or update a static role; a new one is rotated at once."""
        name = fields.string("name")
        async with self._lock(name):
            old = await self._store.static_role(name)
            if old is None and await self._store.role(name) is not None:
                raise InvalidRequest("Role and Static Role names must be unique")
            role = self._updated(name, old, fields)
            config = await self._backend.require_config(role.db_name)
            if not any(fnmatch.fnmatchcase(name, p) for p in config.allowed_roles):
                raise InvalidRequest(f'"{name}" is not an allowed role')
            now = time.time()
            if old is None:
                try:
                    await self.rotate(role, now)
                except Exception:
                    # The database refused the first password: the role is not created.
                    await self._store.delete_static_role(name)
                    raise
                return None
            schedule_changed = (old.rotation_period, old.rotation_schedule) != (
                role.rotation_period,
                role.rotation_schedule,
            )
            if schedule_changed:
                role = dataclasses.replace(
                    role, next_rotation=next_rotation(role, role.last_vault_rotation or now)
                )
            await self._store.put_static_role(role)
            await self._index.schedule(rotation_key(name), role.next_rotation)
        return None

    def _updated(self, name: str, old: StaticRole | None, fields: FieldData) -> StaticRole:
        updates: dict[str, Any] = {}
        if fields.has("username"):
            if old is not None and fields.string("username") != old.username:
                raise InvalidRequest("cannot update static account username")
            updates["username"] = fields.string("username")
        if fields.has("db_name"):
            if old is not None and fields.string("db_name") != old.db_name:
                raise InvalidRequest("cannot update static role db_name")
            updates["db_name"] = fields.string("db_name")
        if fields.has("rotation_statements"):
            updates["rotation_statements"] = tuple(fields.strings("rotation_statements"))
        period_sent, schedule_sent = fields.has("rotation_period"), fields.has("rotation_schedule")
        if period_sent and schedule_sent:
            raise InvalidRequest("mutually exclusive fields rotation_period and rotation_schedule")
        if period_sent:
            period = fields.integer("rotation_period")
            if period < MIN_ROTATION_PERIOD:
                raise InvalidRequest(
                    f"rotation_period must be {MIN_ROTATION_PERIOD} seconds or more"
                )
            updates.update(rotation_period=period, rotation_schedule="", rotation_window=0)
        if schedule_sent:
            schedule = fields.string("rotation_schedule").strip()
            _check_schedule(schedule)
            updates.update(rotation_schedule=schedule, rotation_period=0)
        if fields.has("rotation_window"):
            window = fields.integer("rotation_window")
            if not (schedule_sent or (old is not None and old.rotation_schedule)):
                raise InvalidRequest("rotation_window is invalid with use of rotation_period")
            if window and window < MIN_ROTATION_WINDOW:
                raise InvalidRequest(
                    f"rotation_window must be {MIN_ROTATION_WINDOW} seconds or more"
                )
            updates["rotation_window"] = window
        if old is None:
            if not updates.get("username"):
                raise InvalidRequest("username is a required field to create a static account")
            if not updates.get("db_name"):
                raise InvalidRequest("database name is a required field")
            if not (period_sent or schedule_sent):
                raise InvalidRequest(
                    "one of rotation_schedule or rotation_period must be provided to create a "
                    "static account"
                )
            return StaticRole(name=name, **updates)
        return dataclasses.replace(old, **updates)

    async def _read(self, request: Request, fields: FieldData) -> Response | None:
        """A static role's settings and rotation state (never its password)."""
        role = await self._store.static_role(fields.string("name"))
        return None if role is None else Response(data=role.describe(time.time()))

    async def _delete(self, request: Request, fields: FieldData) -> None:
        """Stop managing the user (its current password stays valid in the database)."""
        name = fields.string("name")
        async with self._lock(name):
            await self._store.delete_static_role(name)
            await self._index.unschedule(rotation_key(name))

    async def _list(self, request: Request, fields: FieldData) -> Response | None:
        """Every static role name."""
        names = await self._store.static_role_names()
        return Response(data={"keys": names}) if names else None

    async def _creds(self, request: Request, fields: FieldData) -> Response:
        """The current password of a static role's user."""
        name = fields.string("name")
        role = await self._store.static_role(name)
        if role is None:
            raise InvalidRequest(f"unknown role: {name}")
        data = role.describe(time.time())
        data.pop("rotation_statements", None)
        data.pop("db_name", None)
        data.pop("credential_type", None)
        data["password"] = role.password
        return Response(data=data)

    async def _rotate(self, request: Request, fields: FieldData) -> None:
        """Rotate a static role's password now."""
        name = fields.string("name")
        async with self._lock(name):
            role = await self._store.static_role(name)
            if role is None:
                raise InvalidRequest("no static role found for role name")
            await self.rotate(role, time.time())

    def paths(self) -> Iterator[Path]:
        """The static role endpoints."""
        segment = r"(?P<name>[^/]+)"
        yield Path("static-roles/?", "List static roles.", ops(list=self._list))
        yield Path(
            f"static-roles/{segment}",
            "Manage a static role: an existing user whose password Hush rotates.",
            ops(create=self._write, update=self._write, read=self._read, delete=self._delete),
            fields=_FIELDS,
            exists=self._exists,
        )
        yield Path(
            f"static-creds/{segment}",
            "Read the current password of a static role.",
            ops(read=self._creds),
            fields={"name": _NAME},
        )
        yield Path(
            f"rotate-role/{segment}",
            "Rotate a static role's password now.",
            ops(update=self._rotate),
            fields={"name": _NAME},
        )
