"""MariaDB/MySQL rotators: change a database user's password in the four rotation steps.

The secret's value is the JSON AWS's MySQL rotation templates use: ``engine`` (``mysql`` or
``mariadb``), ``host``, ``port``, ``username``, ``password``, ``dbname`` (optional) and, for
alternating users, ``masterarn`` (the name or ARN of another secret on the same mount holding the
credentials of a user allowed to ``CREATE USER`` and grant what the rotated user holds).

* ``hush:mariadb-single-user``: setSecret logs in with the AWSCURRENT credentials and changes that
  user's own password (``SET PASSWORD``, which
  needs no privilege); clients holding the old password fail
  from then on.
* ``hush:mariadb-alternating-users``: two users, ``<name>`` and ``<name>_clone``. Each rotation
  gives the *other* user a new password; the clone is created on first use with the grants of
  ``<name>`` (``SHOW GRANTS`` copied, as AWS's template does), so AWSPREVIOUS keeps working until
  the rotation after next.

Accounts are ``'<username>'@'%'``. testSecret logs in with the pending credentials. PyMySQL runs
in a worker thread; usernames and passwords are passed as driver parameters (quoted by the
driver), never formatted into SQL by hand, and never reach a log or an error message.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

import orjson
import pymysql

from hush.engines.awssm.rotators import StepFailed, new_random_value
from hush.engines.awssm.rotators_postgres import SecretLookup, credentials_of
from hush.engines.awssm.store import SecretValue

__all__ = ["MARIADB_ALTERNATING", "MARIADB_SINGLE_USER", "MariaDBRotator"]

MARIADB_SINGLE_USER: Final = "hush:mariadb-single-user"
MARIADB_ALTERNATING: Final = "hush:mariadb-alternating-users"
_CLONE: Final = "_clone"
_CONNECT_TIMEOUT: Final = 5
#: ER_CANNOT_USER: the operation failed for the account (here: it does not exist).
_NO_SUCH_USER: Final = 1396


def _connect(credentials: dict[str, Any], step: str) -> pymysql.connections.Connection[Any]:
    try:
        return pymysql.connect(
            host=credentials["host"],
            port=int(credentials.get("port") or 3306),
            user=credentials["username"],
            password=credentials["password"],
            database=credentials.get("dbname") or None,
            connect_timeout=_CONNECT_TIMEOUT,
            autocommit=True,
        )
    except (pymysql.Error, ValueError, TypeError) as exc:
        raise StepFailed(
            f"{step}: cannot log in to MariaDB as {credentials['username']!r} "
            f"({type(exc).__name__})"
        ) from None


def _login_test(credentials: dict[str, Any]) -> None:
    with _connect(credentials, "testSecret") as connection, connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _clone_grants(cursor: Any, base: str, clone: str) -> None:
    """Give ``clone`` the grants ``base`` holds (password/identification clauses left out)."""
    cursor.execute("SHOW GRANTS FOR %s@'%%'", (base,))
    quoted_base = pymysql.converters.escape_string(base)
    for (grant,) in cursor.fetchall():
        statement = str(grant)
        if "IDENTIFIED" in statement.upper() or not statement.upper().startswith("GRANT "):
            continue
        for quote in ("`", "'"):
            marker = f" TO {quote}{quoted_base}{quote}@"
            if marker in statement:
                head, host_and_rest = (
                    part.replace("%", "%%") for part in statement.split(marker, 1)
                )
                cursor.execute(f"{head} TO %s@{host_and_rest}", (clone,))
                break


class MariaDBRotator:
    """Single-user or alternating-users password rotation for MariaDB and MySQL."""

    def __init__(self, strategy: str, lookup: SecretLookup) -> None:
        """``strategy`` is one of the two rotator names; ``lookup`` reads other secrets."""
        self._strategy = strategy
        self._lookup = lookup

    async def create(self, event: dict[str, Any], current: SecretValue | None) -> SecretValue:
        """createSecret: a new password (for the other user when alternating)."""
        credentials = credentials_of(current, "the AWSCURRENT value")
        fresh = orjson.loads(new_random_value(current).string or "{}")
        if self._strategy == MARIADB_ALTERNATING:
            username = credentials["username"]
            fresh["username"] = (
                username[: -len(_CLONE)] if username.endswith(_CLONE) else username + _CLONE
            )
        return SecretValue(string=orjson.dumps(fresh).decode())

    async def step(self, event: dict[str, Any], pending: SecretValue) -> None:
        """setSecret changes the password in the database; testSecret logs in with it."""
        step = event["Step"]
        new = credentials_of(pending, "the AWSPENDING value")
        if step == "setSecret":
            await self._set(event["SecretId"], new)
        elif step == "testSecret":
            await asyncio.to_thread(_login_test, new)

    async def _set(self, secret_id: str, new: dict[str, Any]) -> None:
        if self._strategy == MARIADB_SINGLE_USER:
            current = credentials_of(await self._lookup(secret_id), "the AWSCURRENT value")
            await asyncio.to_thread(self._set_own_password, current, new)
        else:
            master_id = new.get("masterarn")
            if not isinstance(master_id, str) or not master_id:
                raise StepFailed("setSecret: alternating users need masterarn in the secret")
            master = credentials_of(await self._lookup(master_id), "the masterarn secret")
            await asyncio.to_thread(self._set_other_user, master, new)

    @staticmethod
    def _set_own_password(current: dict[str, Any], new: dict[str, Any]) -> None:
        try:
            connection = _connect(current, "setSecret")
        except StepFailed:
            # A retry after an earlier setSecret changed the password: log in with the new one.
            connection = _connect(new, "setSecret")
        try:
            with connection.cursor() as cursor:
                try:
                    cursor.execute("SET PASSWORD = PASSWORD(%s)", (new["password"],))
                except pymysql.err.ProgrammingError:
                    # MySQL 8 dropped PASSWORD(); ALTER USER on oneself needs no privilege there.
                    cursor.execute("ALTER USER USER() IDENTIFIED BY %s", (new["password"],))
        except pymysql.Error as exc:
            raise StepFailed(
                f"setSecret: MariaDB refused the change ({type(exc).__name__})"
            ) from None
        finally:
            connection.close()

    @staticmethod
    def _set_other_user(master: dict[str, Any], new: dict[str, Any]) -> None:
        connection = _connect(master, "setSecret")
        user, password = new["username"], new["password"]
        try:
            with connection.cursor() as cursor:
                try:
                    cursor.execute("ALTER USER %s@'%%' IDENTIFIED BY %s", (user, password))
                except pymysql.err.OperationalError as exc:
                    if exc.args[0] != _NO_SUCH_USER:
                        raise
                    cursor.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (user, password))
                    try:
                        _clone_grants(cursor, user.removesuffix(_CLONE), user)
                    except pymysql.Error:
                        cursor.execute("DROP USER IF EXISTS %s@'%%'", (user,))
                        raise
        except pymysql.Error as exc:
            raise StepFailed(
                f"setSecret: MariaDB refused the change ({type(exc).__name__})"
            ) from None
        finally:
            connection.close()
