"""``postgresql-database-plugin``: psycopg 3's native async API and its async pool.

Statements of one operation run in one transaction, and PostgreSQL's DDL is transactional: a
failing ``CREATE ROLE ... ; GRANT ...`` leaves nothing behind. The default revocation matches
Vault's: revoke what the role was granted in every schema and on the database, then drop it.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote

import psycopg
from psycopg import sql
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from hush.engines.database.plugins.base import (
    ConnectionSettings,
    DatabaseError,
    DatabasePlugin,
    DatabaseUnreachable,
    scrub,
)
from hush.engines.database.templates import render_statement

__all__ = ["PostgreSQLPlugin"]

_POOL_TIMEOUT = 10.0
_SCHEMAS = """
SELECT nspname FROM pg_namespace
WHERE nspname NOT IN ('pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg_toast%%'
  AND nspname NOT LIKE 'pg_temp%%'
"""


class PostgreSQLPlugin(DatabasePlugin):
    """PostgreSQL users as ``CREATE ROLE ... LOGIN``; one async pool per connection."""

    default_username_template = (
        '{{ printf "v-%s-%s-%s-%s" (.DisplayName | truncate 8) (.RoleName | truncate 8) '
        "(random 20) (unix_time) | truncate 63 }}"
    )
    default_rotation = ("ALTER ROLE \"{{name}}\" WITH PASSWORD '{{password}}'",)
    default_renew = ("ALTER ROLE \"{{name}}\" VALID UNTIL '{{expiration}}'",)

    def __init__(self, settings: ConnectionSettings) -> None:
        super().__init__(settings)
        self._conninfo = render_statement(
            settings.connection_url,
            {
                "username": quote(settings.username, safe=""),
                "password": quote(settings.password, safe=""),
            },
        )
        self._pool: AsyncConnectionPool | None = None

    def _secrets(self, extra: Sequence[str] = ()) -> list[str]:
        return [self.settings.password, quote(self.settings.password, safe=""), *extra]

    def _error(self, action: str, exc: Exception, extra: Sequence[str] = ()) -> DatabaseError:
        if isinstance(exc, psycopg.Error) and exc.diag.message_primary:
            text = exc.diag.message_primary
            if exc.sqlstate:
                text += f" (SQLSTATE {exc.sqlstate})"
        elif isinstance(exc, PoolTimeout):
            text = f"could not get a connection within {_POOL_TIMEOUT:g}s"
        else:
            # libpq connection errors have no diagnostics; their text names host and port only.
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return DatabaseError(f"{action}: {scrub(text, self._secrets(extra))}")

    async def _get_pool(self) -> AsyncConnectionPool:
        pool = await self._make_pool()
        if pool.get_stats().get("pool_size", 0) == 0:
            # The pool keeps retrying an unreachable server until its timeout; one direct
            # connection when it holds none fails at once, with the driver's own reason.
            try:
                await self._probe()
            except Exception as exc:
                error = self._error("error connecting to database", exc)
                raise DatabaseUnreachable(error.message) from None
        return pool

    async def _probe(self) -> None:
        conn = await psycopg.AsyncConnection.connect(
            self._conninfo, connect_timeout=self.settings.connect_timeout
        )
        async with conn:
            await conn.execute("SELECT 1")

    async def _make_pool(self) -> AsyncConnectionPool:
        if self._pool is None:
            pool = AsyncConnectionPool(
                self._conninfo,
                kwargs={"connect_timeout": self.settings.connect_timeout},
                min_size=0,
                max_size=max(self.settings.max_open_connections, 1),
                max_lifetime=float(self.settings.max_connection_lifetime or 3600),
                timeout=_POOL_TIMEOUT,
                open=False,
                name="hush-database",
            )
            await pool.open(wait=False)
            self._pool = pool
        return self._pool

    async def verify(self) -> None:
        """Connect directly (not through the pool, so a bad URL fails fast) and ``SELECT 1``."""
        try:
            conn = await psycopg.AsyncConnection.connect(
                self._conninfo, connect_timeout=self.settings.connect_timeout
            )
            async with conn:
                await conn.execute("SELECT 1")
        except (psycopg.Error, OSError, ValueError) as exc:
            raise self._error(
                "error creating database object: error verifying connection", exc
            ) from None

    async def execute(
        self, queries: Sequence[str], *, secrets_: Sequence[str] = (), transaction: bool = True
    ) -> None:
        """Run ``queries`` in one transaction on a pooled connection."""
        pool = await self._get_pool()
        try:
            async with pool.connection() as conn, conn.transaction():
                for query in queries:
                    await conn.execute(query.encode())
        except (psycopg.Error, PoolTimeout, OSError) as exc:
            raise self._error("error running statements", exc, secrets_) from None

    async def default_delete(self, username: str) -> None:
        """Vault's default: revoke in every schema and on the database, then drop the role."""
        pool = await self._get_pool()
        role = sql.Identifier(username)
        try:
            async with pool.connection() as conn, conn.transaction():
                cursor = await conn.execute(
                    "SELECT 1 FROM pg_roles WHERE rolname = %s", (username,)
                )
                if await cursor.fetchone() is None:
                    return  # already gone: revocation is idempotent
                schemas = [row[0] for row in await (await conn.execute(_SCHEMAS)).fetchall()]
                for schema in schemas:
                    name = sql.Identifier(schema)
                    for kind in ("TABLES", "SEQUENCES", "FUNCTIONS"):
                        await conn.execute(
                            sql.SQL("REVOKE ALL PRIVILEGES ON ALL {} IN SCHEMA {} FROM {}").format(
                                sql.SQL(kind), name, role
                            )
                        )
                    await conn.execute(
                        sql.SQL("REVOKE ALL ON SCHEMA {} FROM {}").format(name, role)
                    )
                await conn.execute(
                    sql.SQL("REVOKE ALL ON DATABASE {} FROM {}").format(
                        sql.Identifier(conn.info.dbname), role
                    )
                )
                await conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(role))
        except (psycopg.Error, PoolTimeout, OSError) as exc:
            raise self._error("error dropping user", exc) from None

    async def close(self) -> None:
        """Close the pool (idempotent)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()
