"""PostgreSQL rotators: the database part of rotating a PostgreSQL user's password.

The strategies and the secret's JSON are :mod:`hush.engines.awssm.rotators_database`'s;
``engine`` is ``postgres``, ``dbname`` defaults to ``postgres`` and the masterarn secret holds a
superuser's credentials.

* ``hush:postgresql-single-user``: the user changes its own password (``ALTER ROLE``).
* ``hush:postgresql-alternating-users``: the clone is created on first use as a login role that is
  a member of ``<name>`` (``GRANT <name> TO <name>_clone``), so it holds the same privileges.

Statements use ``psycopg.sql`` quoting: neither a username nor a password is ever formatted into
SQL text by hand, and neither reaches a log or an error message.
"""

from __future__ import annotations

from typing import Any, Final

import psycopg
from psycopg import sql

from hush.engines.awssm.rotators import StepFailed
from hush.engines.awssm.rotators_database import CLONE, CONNECT_TIMEOUT, DatabaseUserRotator

__all__ = ["ALTERNATING", "SINGLE_USER", "PostgresRotator"]

SINGLE_USER: Final = "hush:postgresql-single-user"
ALTERNATING: Final = "hush:postgresql-alternating-users"


async def _connect(credentials: dict[str, Any], step: str) -> psycopg.AsyncConnection[Any]:
    try:
        return await psycopg.AsyncConnection.connect(
            host=credentials["host"],
            port=int(credentials.get("port") or 5432),
            user=credentials["username"],
            password=credentials["password"],
            dbname=credentials.get("dbname") or "postgres",
            connect_timeout=CONNECT_TIMEOUT,
            autocommit=True,
        )
    except (psycopg.Error, ValueError, TypeError) as exc:
        raise StepFailed(
            f"{step}: cannot log in to PostgreSQL as {credentials['username']!r} "
            f"({type(exc).__name__})"
        ) from None


async def _change_password(
    connection: psycopg.AsyncConnection[Any], new: dict[str, Any], *, may_create: bool
) -> None:
    """Set ``new``'s password (creating its role if ``may_create``); closes ``connection``."""
    try:
        user = sql.Identifier(new["username"])
        password = sql.Literal(new["password"])
        if may_create:
            cursor = await connection.execute(
                "SELECT 1 FROM pg_roles WHERE rolname = %s", (new["username"],)
            )
            if await cursor.fetchone() is None:
                base = new["username"].removesuffix(CLONE)
                await connection.execute(
                    sql.SQL("CREATE ROLE {} WITH LOGIN PASSWORD {}").format(user, password)
                )
                await connection.execute(
                    sql.SQL("GRANT {} TO {}").format(sql.Identifier(base), user)
                )
                return
        await connection.execute(sql.SQL("ALTER ROLE {} WITH PASSWORD {}").format(user, password))
    except psycopg.Error as exc:
        raise StepFailed(
            f"setSecret: PostgreSQL refused the change ({type(exc).__name__})"
        ) from None
    finally:
        await connection.close()


class PostgresRotator(DatabaseUserRotator):
    """Single-user or alternating-users password rotation for PostgreSQL."""

    single_user = SINGLE_USER
    alternating = ALTERNATING

    async def _test_login(self, credentials: dict[str, Any]) -> None:
        connection = await _connect(credentials, "testSecret")
        try:
            await connection.execute("SELECT 1")
        finally:
            await connection.close()

    async def _set_own_password(self, current: dict[str, Any], new: dict[str, Any]) -> None:
        try:
            connection = await _connect(current, "setSecret")
        except StepFailed:
            # A retry after an earlier setSecret changed the password: log in with the new one.
            connection = await _connect(new, "setSecret")
        await _change_password(connection, new, may_create=False)

    async def _set_other_user(self, master: dict[str, Any], new: dict[str, Any]) -> None:
        connection = await _connect(master, "setSecret")
        await _change_password(connection, new, may_create=True)
