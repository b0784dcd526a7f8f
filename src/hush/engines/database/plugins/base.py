"""The interface every database plugin implements, and the error type they raise.

A plugin owns one connection pool for one ``config/:name`` and runs the role's statements in a
transaction where the database allows. Every error it raises is a :class:`DatabaseError` (400)
whose text never contains a password: driver messages are reduced to their primary text and
every secret the plugin knows is scrubbed from them.
"""

from __future__ import annotations

import abc
import asyncio
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from hush.core.errors import InvalidRequest
from hush.engines.database.templates import render_statement, split_statements

__all__ = [
    "ConnectionSettings",
    "DatabaseError",
    "DatabasePlugin",
    "DatabaseUnreachable",
    "scrub",
]

_REDACTED = "[redacted]"


class DatabaseError(InvalidRequest):
    """The database refused or could not be reached; the message is safe to show."""


class DatabaseUnreachable(DatabaseError):
    """No connection could be made: nothing ran, so there is nothing to roll back."""


def scrub(message: str, secrets_: Iterable[str]) -> str:
    """``message`` with every non-empty secret replaced by ``[redacted]``."""
    for secret in secrets_:
        if secret:
            message = message.replace(secret, _REDACTED)
    return message


@dataclass(frozen=True, slots=True)
class ConnectionSettings:
    """How to reach a database as its root user (``config/:name``)."""

    connection_url: str
    username: str
    password: str
    max_open_connections: int = 4
    max_connection_lifetime: int = 0
    connect_timeout: int = 5

    def __repr__(self) -> str:  # never print the password by accident
        return f"ConnectionSettings(username={self.username!r}, password=[redacted])"


class DatabasePlugin(abc.ABC):
    """One database connection pool and the user-management operations Vault's plugins offer."""

    #: Vault's default username template for this plugin.
    default_username_template: str = ""
    #: The statements used when a role gives none, per operation.
    default_revocation: tuple[str, ...] = ()
    default_rotation: tuple[str, ...] = ()
    default_renew: tuple[str, ...] = ()

    def __init__(self, settings: ConnectionSettings) -> None:
        self.settings = settings
        # User management is serialised per connection, as in Vault's plugins (their mutex):
        # PostgreSQL fails concurrent GRANT/REVOKE/DROP ROLE touching the same catalog rows
        # ("tuple concurrently updated"), and the expiry loop revokes leases in parallel.
        self._user_lock = asyncio.Lock()

    @abc.abstractmethod
    async def verify(self) -> None:
        """Open one connection and run a trivial query; raises DatabaseError."""

    @abc.abstractmethod
    async def execute(
        self, queries: Sequence[str], *, secrets_: Sequence[str] = (), transaction: bool = True
    ) -> None:
        """Run ``queries`` (already rendered) in one transaction; all or nothing where possible."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Close the pool."""

    def expiration_text(self, expires_at: float) -> str:
        """``{{expiration}}`` as this database wants it."""
        return time.strftime("%Y-%m-%d %H:%M:%S+0000", time.gmtime(expires_at))

    def _render(self, statements: Sequence[str], values: dict[str, str]) -> list[str]:
        return [render_statement(q, values) for q in split_statements(list(statements))]

    async def create_user(
        self,
        creation: Sequence[str],
        rollback: Sequence[str],
        username: str,
        password: str,
        expires_at: float,
    ) -> None:
        """Run the creation statements; on failure run the rollback ones and re-raise.

        Where DDL is transactional (PostgreSQL) the failed transaction already undid
        everything; the rollback statements cover databases where it is not (MySQL), and when
        a role gives none, the default revocation drops whatever was half-created.
        """
        if not split_statements(list(creation)):
            raise DatabaseError("creation_statements are empty: nothing would create the user")
        values = {
            "name": username,
            "username": username,
            "password": password,
            "expiration": self.expiration_text(expires_at),
        }
        async with self._user_lock:
            try:
                await self.execute(self._render(creation, values), secrets_=(password,))
            except DatabaseUnreachable:
                raise
            except DatabaseError:
                try:
                    if rollback:
                        await self.execute(self._render(rollback, values), secrets_=(password,))
                    else:
                        await self.default_delete(username)
                except DatabaseError:
                    pass  # the creation error is the one the caller needs to see
                raise

    async def delete_user(self, revocation: Sequence[str], username: str) -> None:
        """Run the revocation statements (or the plugin's default drop)."""
        values = {"name": username, "username": username}
        async with self._user_lock:
            if revocation:
                await self.execute(self._render(revocation, values))
            else:
                await self.default_delete(username)

    async def default_delete(self, username: str) -> None:
        """Drop ``username`` with the plugin's default statements (idempotent).

        Called by :meth:`create_user` and :meth:`delete_user`, which hold the user lock.
        """
        await self.execute(self._render(self.default_revocation, {"name": username}))

    async def renew_user(self, renew: Sequence[str], username: str, expires_at: float) -> None:
        """Run the renew statements (Vault: nothing when a role gives none)."""
        statements = renew or self.default_renew
        if not statements:
            return
        values = {"name": username, "username": username}
        values["expiration"] = self.expiration_text(expires_at)
        async with self._user_lock:
            await self.execute(self._render(statements, values))

    async def set_password(self, statements: Sequence[str], username: str, password: str) -> None:
        """Change ``username``'s password (static roles and root rotation)."""
        values = {"name": username, "username": username, "password": password}
        async with self._user_lock:
            await self.execute(
                self._render(statements or self.default_rotation, values), secrets_=(password,)
            )
