"""MariaDB/MySQL rotators: the database part of rotating a MariaDB or MySQL user's password.

The strategies and the secret's JSON are :mod:`hush.engines.awssm.rotators_database`'s, as AWS's
MySQL rotation templates use them: ``engine`` is ``mysql`` or ``mariadb``, ``dbname`` is optional
and the masterarn user may ``CREATE USER`` and grant what the rotated user holds.

* ``hush:mariadb-single-user``: the user changes its own password (``SET PASSWORD``, which needs
  no privilege).
* ``hush:mariadb-alternating-users``: the clone is created on first use with the grants of
  ``<name>`` (``SHOW GRANTS`` copied, as AWS's template does).

Accounts are ``'<username>'@'%'``. PyMySQL runs in a worker thread; usernames and passwords are
passed as driver parameters (quoted by the driver), never formatted into SQL by hand, and never
reach a log or an error message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Final

import pymysql

from hush.engines.awssm.rotators import StepFailed
from hush.engines.awssm.rotators_database import CLONE, CONNECT_TIMEOUT, DatabaseUserRotator

__all__ = ["MARIADB_ALTERNATING", "MARIADB_SINGLE_USER", "MariaDBRotator"]

MARIADB_SINGLE_USER: Final = "hush:mariadb-single-user"
MARIADB_ALTERNATING: Final = "hush:mariadb-alternating-users"
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
            connect_timeout=CONNECT_TIMEOUT,
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


def _alter_own_password(cursor: Any, new: dict[str, Any]) -> None:
    try:
        cursor.execute("SET PASSWORD = PASSWORD(%s)", (new["password"],))
    except pymysql.err.ProgrammingError:
        # MySQL 8 dropped PASSWORD(); ALTER USER on oneself needs no privilege there.
        cursor.execute("ALTER USER USER() IDENTIFIED BY %s", (new["password"],))


def _alter_or_create_user(cursor: Any, new: dict[str, Any]) -> None:
    user, password = new["username"], new["password"]
    try:
        cursor.execute("ALTER USER %s@'%%' IDENTIFIED BY %s", (user, password))
    except pymysql.err.OperationalError as exc:
        if exc.args[0] != _NO_SUCH_USER:
            raise
        cursor.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (user, password))
        try:
            _clone_grants(cursor, user.removesuffix(CLONE), user)
        except pymysql.Error:
            cursor.execute("DROP USER IF EXISTS %s@'%%'", (user,))
            raise


def _change(
    connection: pymysql.connections.Connection[Any],
    change: Callable[[Any, dict[str, Any]], None],
    new: dict[str, Any],
) -> None:
    """Run ``change(cursor, new)``; a driver error fails setSecret. Closes ``connection``."""
    try:
        with connection.cursor() as cursor:
            change(cursor, new)
    except pymysql.Error as exc:
        raise StepFailed(f"setSecret: MariaDB refused the change ({type(exc).__name__})") from None
    finally:
        connection.close()


def _log_in_and_set_own_password(current: dict[str, Any], new: dict[str, Any]) -> None:
    try:
        connection = _connect(current, "setSecret")
    except StepFailed:
        # A retry after an earlier setSecret changed the password: log in with the new one.
        connection = _connect(new, "setSecret")
    _change(connection, _alter_own_password, new)


def _log_in_and_set_other_user(master: dict[str, Any], new: dict[str, Any]) -> None:
    _change(_connect(master, "setSecret"), _alter_or_create_user, new)


class MariaDBRotator(DatabaseUserRotator):
    """Single-user or alternating-users password rotation for MariaDB and MySQL."""

    single_user = MARIADB_SINGLE_USER
    alternating = MARIADB_ALTERNATING

    async def _test_login(self, credentials: dict[str, Any]) -> None:
        await asyncio.to_thread(_login_test, credentials)

    async def _set_own_password(self, current: dict[str, Any], new: dict[str, Any]) -> None:
        await asyncio.to_thread(_log_in_and_set_own_password, current, new)

    async def _set_other_user(self, master: dict[str, Any], new: dict[str, Any]) -> None:
        await asyncio.to_thread(_log_in_and_set_other_user, master, new)
