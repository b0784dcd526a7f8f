"""PostgreSQL rotators: change a database user's password in the four rotation steps.

The secret's value is the JSON AWS's rotation templates use: ``engine`` (``postgres``), ``host``,
``port``, ``username``, ``password``, ``dbname`` and, for alternating users, ``masterarn`` (the
name or ARN of another secret on the same mount holding a superuser's credentials).

* ``hush:postgresql-single-user``: setSecret logs in with the AWSCURRENT credentials and changes
  that user's own password; there is a moment when clients holding the old password fail.
* ``hush:postgresql-alternating-users``: two users, ``<name>`` and ``<name>_clone``. Each rotation
  gives the *other* user a new password (creating it on first use, with the same role membership),
  so AWSPREVIOUS keeps working until the rotation after next.

testSecret logs in with the pending credentials. Statements use ``psycopg.sql`` quoting: neither a
username nor a password is ever formatted into SQL text by hand, and neither reaches a log or an
error message.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final

import orjson
import psycopg
from psycopg import sql

from hush.engines.awssm.rotators import StepFailed, new_random_value
from hush.engines.awssm.store import SecretValue

__all__ = ["ALTERNATING", "SINGLE_USER", "PostgresRotator"]

SINGLE_USER: Final = "hush:postgresql-single-user"
ALTERNATING: Final = "hush:postgresql-alternating-users"
_CLONE: Final = "_clone"
_CONNECT_TIMEOUT: Final = 5

#: The AWSCURRENT value of a secret on the same mount, by name or ARN.
SecretLookup = Callable[[str], Awaitable[SecretValue | None]]


def _credentials(value: SecretValue | None, what: str) -> dict[str, Any]:
    if value is None or value.string is None:
        raise StepFailed(f"{what} is not a JSON SecretString with database credentials")
    try:
        parsed = orjson.loads(value.string)
    except orjson.JSONDecodeError:
        raise StepFailed(f"{what} is not valid JSON") from None
    if not isinstance(parsed, dict) or not all(
        isinstance(parsed.get(k), str) and parsed.get(k) for k in ("host", "username", "password")
    ):
        raise StepFailed(f"{what} needs host, username and password")
    return parsed


async def _connect(credentials: dict[str, Any], step: str) -> psycopg.AsyncConnection[Any]:
    try:
        return await psycopg.AsyncConnection.connect(
            host=credentials["host"],
            port=int(credentials.get("port") or 5432),
            user=credentials["username"],
            password=credentials["password"],
            dbname=credentials.get("dbname") or "postgres",
            connect_timeout=_CONNECT_TIMEOUT,
            autocommit=True,
        )
    except (psycopg.Error, ValueError, TypeError) as exc:
        raise StepFailed(
            f"{step}: cannot log in to PostgreSQL as {credentials['username']!r} "
            f"({type(exc).__name__})"
        ) from None


class PostgresRotator:
    """Single-user or alternating-users password rotation for PostgreSQL."""

    def __init__(self, strategy: str, lookup: SecretLookup) -> None:
        self._strategy = strategy
        self._lookup = lookup

    async def create(self, event: dict[str, Any], current: SecretValue | None) -> SecretValue:
        """createSecret: a new password (for the other user when alternating)."""
        credentials = _credentials(current, "the AWSCURRENT value")
        fresh = orjson.loads(new_random_value(current).string or "{}")
        if self._strategy == ALTERNATING:
            username = credentials["username"]
            fresh["username"] = (
                username[: -len(_CLONE)] if username.endswith(_CLONE) else username + _CLONE
            )
        return SecretValue(string=orjson.dumps(fresh).decode())

    async def step(self, event: dict[str, Any], pending: SecretValue) -> None:
        """setSecret changes the password in the database; testSecret logs in with it."""
        step = event["Step"]
        new = _credentials(pending, "the AWSPENDING value")
        if step == "setSecret":
            await self._set(event["SecretId"], new)
        elif step == "testSecret":
            connection = await _connect(new, step)
            try:
                await connection.execute("SELECT 1")
            finally:
                await connection.close()

    async def _set(self, secret_id: str, new: dict[str, Any]) -> None:
        if self._strategy == SINGLE_USER:
            current = _credentials(await self._lookup(secret_id), "the AWSCURRENT value")
            try:
                connection = await _connect(current, "setSecret")
            except StepFailed:
                # A retry after an earlier setSecret changed the password: log in with the new one.
                connection = await _connect(new, "setSecret")
        else:
            master_id = new.get("masterarn")
            if not isinstance(master_id, str) or not master_id:
                raise StepFailed("setSecret: alternating users need masterarn in the secret")
            master = _credentials(await self._lookup(master_id), "the masterarn secret")
            connection = await _connect(master, "setSecret")
        try:
            await self._apply(connection, new)
        except psycopg.Error as exc:
            raise StepFailed(
                f"setSecret: PostgreSQL refused the change ({type(exc).__name__})"
            ) from None
        finally:
            await connection.close()

    async def _apply(self, connection: psycopg.AsyncConnection[Any], new: dict[str, Any]) -> None:
        user = sql.Identifier(new["username"])
        password = sql.Literal(new["password"])
        if self._strategy == ALTERNATING:
            cursor = await connection.execute(
                "SELECT 1 FROM pg_roles WHERE rolname = %s", (new["username"],)
            )
            if await cursor.fetchone() is None:
                base = new["username"].removesuffix(_CLONE)
                await connection.execute(
                    sql.SQL("CREATE ROLE {} WITH LOGIN PASSWORD {}").format(user, password)
                )
                await connection.execute(
                    sql.SQL("GRANT {} TO {}").format(sql.Identifier(base), user)
                )
                return
        await connection.execute(sql.SQL("ALTER ROLE {} WITH PASSWORD {}").format(user, password))
