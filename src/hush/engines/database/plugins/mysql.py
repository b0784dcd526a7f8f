"""``mysql-database-plugin`` (and Vault's aurora/rds/legacy names) for MySQL and MariaDB.

The driver is PyMySQL, run in worker threads: it is the most used and best kept pure-Python
MySQL driver (aiomysql wraps it, lags its releases and pins old versions), and the engine's
traffic is a few statements per credential, so a thread hop costs nothing that matters. The
pool is a small one of our own: at most ``max_open_connections`` connections, idle ones reused
until ``max_connection_lifetime``.

MySQL commits DDL implicitly, so ``CREATE USER`` cannot be rolled back by the transaction: a
failing creation runs the role's ``rollback_statements`` or, without them, ``DROP USER IF
EXISTS`` for the new name, so no half-created user stays behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import pymysql

from hush.engines.database.plugins.base import (
    ConnectionSettings,
    DatabaseError,
    DatabasePlugin,
    scrub,
)
from hush.engines.database.templates import render_statement

__all__ = ["MySQLPlugin", "parse_mysql_dsn"]

_T = TypeVar("_T")
# Go's MySQL DSN: [user[:password]@][net[(addr)]]/dbname[?params]
_GO_DSN = re.compile(
    r"^(?:(?P<user>[^:@]*)(?::(?P<password>.*))?@)?"
    r"(?:(?P<net>[a-z]+)(?:\((?P<addr>[^)]*)\))?)?/(?P<db>[^?]*)(?:\?(?P<params>.*))?$"
)
_ACQUIRE_TIMEOUT = 10.0


def parse_mysql_dsn(url: str, username: str, password: str) -> dict[str, Any]:
    """PyMySQL connect arguments from a Go-style DSN or a ``mysql://`` URL.

    ``{{username}}``/``{{password}}`` are filled from the config (never URL-escaped: Go's DSN
    parser does not unescape either).
    """
    filled = render_statement(url, {"username": username, "password": password})
    if filled.startswith(("mysql://", "mariadb://")):
        parts = urlsplit(filled)
        return {
            "host": parts.hostname or "127.0.0.1",
            "port": parts.port or 3306,
            "user": unquote(parts.username or ""),
            "password": unquote(parts.password or ""),
            "database": parts.path.lstrip("/") or None,
        }
    match = _GO_DSN.match(filled)
    if match is None:
        raise DatabaseError(
            "invalid connection_url: expected user:password@tcp(host:port)/dbname "
            "or mysql://user:password@host:port/dbname"
        )
    args: dict[str, Any] = {
        "user": match["user"] or "",
        "password": match["password"] or "",
        "database": match["db"] or None,
    }
    address = match["addr"] or "127.0.0.1:3306"
    if match["net"] == "unix":
        args["unix_socket"] = address
    else:
        args["host"], args["port"] = _host_port(address)
    return args


def _host_port(address: str) -> tuple[str, int]:
    """``host:port``, ``[v6]:port``, a bare host or a bare IPv6 address → (host, port)."""
    if address.startswith("["):
        host, _, rest = address[1:].partition("]")
        port = rest.removeprefix(":")
    elif address.count(":") == 1:
        host, _, port = address.partition(":")
    else:
        host, port = address, ""
    if port and not (port.isdigit() and 0 < int(port) < 65536):
        raise DatabaseError(f"invalid connection_url: bad port {port[:10]!r}")
    return host or "127.0.0.1", int(port) if port else 3306


class _Pool:
    """At most ``size`` PyMySQL connections; idle ones are reused until ``lifetime`` seconds."""

    def __init__(self, args: dict[str, Any], size: int, lifetime: float) -> None:
        self._args = args
        self._slots = asyncio.Semaphore(size)
        self._idle: list[tuple[pymysql.connections.Connection[Any], float]] = []
        self._lifetime = lifetime

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[pymysql.connections.Connection[Any]]:
        try:
            await asyncio.wait_for(self._slots.acquire(), _ACQUIRE_TIMEOUT)
        except TimeoutError:
            raise DatabaseError("could not get a connection: pool exhausted") from None
        try:
            conn, born = await self._take()
            try:
                yield conn
            except BaseException:
                await asyncio.to_thread(_close_quietly, conn)
                raise
            self._idle.append((conn, born))
        finally:
            self._slots.release()

    async def _take(self) -> tuple[pymysql.connections.Connection[Any], float]:
        while self._idle:
            conn, born = self._idle.pop()
            if time.monotonic() - born < self._lifetime and conn.open:
                return conn, born
            await asyncio.to_thread(_close_quietly, conn)
        conn = await asyncio.to_thread(pymysql.connect, **self._args)
        return conn, time.monotonic()

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for conn, _ in idle:
            await asyncio.to_thread(_close_quietly, conn)


def _close_quietly(conn: pymysql.connections.Connection[Any]) -> None:
    with contextlib.suppress(pymysql.Error, OSError):
        conn.close()


class MySQLPlugin(DatabasePlugin):
    """MySQL/MariaDB users as ``CREATE USER``; ``legacy`` names get Vault's 16-char usernames."""

    default_revocation = ("DROP USER IF EXISTS '{{name}}'@'%'",)
    default_rotation = ("ALTER USER '{{name}}'@'%' IDENTIFIED BY '{{password}}'",)

    def __init__(self, settings: ConnectionSettings, *, legacy: bool = False) -> None:
        super().__init__(settings)
        if legacy:
            self.default_username_template = (
                '{{ printf "v-%s-%s" (.RoleName | truncate 4) (random 20) | truncate 16 }}'
            )
        else:
            self.default_username_template = (
                '{{ printf "v-%s-%s-%s-%s" (.DisplayName | truncate 10) (.RoleName | truncate 10)'
                " (random 20) (unix_time) | truncate 32 }}"
            )
        self._args = parse_mysql_dsn(settings.connection_url, settings.username, settings.password)
        self._args.update(
            connect_timeout=settings.connect_timeout, autocommit=False, charset="utf8mb4"
        )
        self._pool: _Pool | None = None

    def expiration_text(self, expires_at: float) -> str:
        """MySQL wants a plain ``YYYY-MM-DD HH:MM:SS`` (UTC)."""
        return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(expires_at))

    def _error(self, action: str, exc: Exception, extra: Sequence[str] = ()) -> DatabaseError:
        if isinstance(exc, DatabaseError):
            return exc
        args: tuple[Any, ...] = tuple(getattr(exc, "args", ()))
        if isinstance(exc, pymysql.Error) and len(args) >= 2:
            text = f"{args[1]} (error {args[0]})"
        else:
            text = str(exc) or type(exc).__name__
        return DatabaseError(f"{action}: {scrub(text, [self.settings.password, *extra])}")

    def _get_pool(self) -> _Pool:
        if self._pool is None:
            self._pool = _Pool(
                self._args,
                max(self.settings.max_open_connections, 1),
                float(self.settings.max_connection_lifetime or 3600),
            )
        return self._pool

    async def _run(
        self,
        action: str,
        work: Callable[[pymysql.connections.Connection[Any]], _T],
        extra: Sequence[str] = (),
    ) -> _T:
        try:
            async with self._get_pool().connection() as conn:
                return await asyncio.to_thread(work, conn)
        except Exception as exc:  # driver failures of every kind become a 400
            raise self._error(action, exc, extra) from None

    async def verify(self) -> None:
        """Connect directly and ``SELECT 1``."""

        def ping() -> None:
            conn = pymysql.connect(**self._args)
            try:
                with conn.cursor() as cursor:
                    cursor.execute("SELECT 1")
            finally:
                _close_quietly(conn)

        try:
            await asyncio.to_thread(ping)
        except (pymysql.Error, OSError) as exc:
            raise self._error(
                "error creating database object: error verifying connection", exc
            ) from None

    async def execute(
        self, queries: Sequence[str], *, secrets_: Sequence[str] = (), transaction: bool = True
    ) -> None:
        """Run ``queries`` in one transaction (DDL inside commits implicitly, as MySQL does)."""

        def run(conn: pymysql.connections.Connection[Any]) -> None:
            try:
                conn.begin()
                with conn.cursor() as cursor:
                    for query in queries:
                        cursor.execute(query)
                conn.commit()
            except BaseException:
                with contextlib.suppress(pymysql.Error, OSError):
                    conn.rollback()
                raise

        await self._run("error running statements", run, secrets_)

    async def close(self) -> None:
        """Close idle connections (idempotent)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()
