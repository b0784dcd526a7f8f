"""Throwaway databases and root-like users on the shared PostgreSQL and MariaDB servers.

Every test gets its own uniquely named database and a root-like user (never the machine's real
``postgres``/``root`` password); dynamic users are named by a per-test username template prefix
so the teardown can drop whatever a failing test left behind.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar
from urllib.parse import urlsplit

import hvac
import psycopg
import pymysql
from psycopg import sql

from tests.support.server import HushProcess

__all__ = [
    "MariaDBTarget",
    "PostgresTarget",
    "configure_root_connection",
    "database_mount",
    "mariadb_target",
    "postgres_target",
    "verifier_matches",
]


@dataclass
class PostgresTarget:
    """A database ``dbname`` owned by ``root_user`` (CREATEROLE) with password ``root_password``."""

    admin_dsn: str
    host: str
    port: int
    dbname: str
    root_user: str
    root_password: str
    prefix: str  # dynamic usernames start with this

    plugin_name: ClassVar[str] = "postgresql-database-plugin"

    @property
    def connection_url(self) -> str:
        return (
            f"postgresql://{{{{username}}}}:{{{{password}}}}@{self.host}:{self.port}/{self.dbname}"
        )

    @property
    def username_template(self) -> str:
        return '{{ printf "' + self.prefix + '%s" (random 10) | lowercase }}'

    def connect(self, user: str, password: str) -> psycopg.Connection:
        return psycopg.connect(
            host=self.host,
            port=self.port,
            dbname=self.dbname,
            user=user,
            password=password,
            connect_timeout=5,
            autocommit=True,
        )

    def role_exists(self, name: str) -> bool:
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            return (
                conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone()
                is not None
            )

    def password_works(self, role: str, password: str) -> bool:
        """Whether ``password`` is ``role``'s password, checked against the stored verifier.

        The shared server trusts local connections (no password check on login), so a login
        proves nothing about a password: the SCRAM-SHA-256 (or md5) verifier in pg_authid does.
        """
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            row = conn.execute(
                "SELECT rolpassword FROM pg_authid WHERE rolname = %s", (role,)
            ).fetchone()
        if row is None or row[0] is None:
            return False
        return verifier_matches(str(row[0]), role, password)

    def roles_with_prefix(self) -> list[str]:
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT rolname FROM pg_roles WHERE starts_with(rolname, %s)", (self.prefix,)
            ).fetchall()
        return [r[0] for r in rows]


def verifier_matches(verifier: str, role: str, password: str) -> bool:
    """Whether ``password`` is ``role``'s, given the md5 or SCRAM-SHA-256 verifier in pg_authid."""
    if verifier.startswith("md5"):
        return verifier == "md5" + hashlib.md5((password + role).encode()).hexdigest()
    method, rest = verifier.split("$", 1)
    assert method == "SCRAM-SHA-256", method
    params, keys = rest.split("$")
    iterations, salt = params.split(":")
    stored_key = base64.b64decode(keys.split(":")[0])
    salted = hashlib.pbkdf2_hmac(
        "sha256", password.encode(), base64.b64decode(salt), int(iterations)
    )
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    return hmac.compare_digest(hashlib.sha256(client_key).digest(), stored_key)


def postgres_target(admin_dsn: str) -> Iterator[PostgresTarget]:
    """Create the database, the root-like user and a table ``items``; drop all afterwards."""
    suffix = uuid.uuid4().hex[:10]
    parts = urlsplit(admin_dsn)
    target = PostgresTarget(
        admin_dsn=admin_dsn,
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        dbname=f"hush_db_{suffix}",
        root_user=f"hush_root_{suffix}",
        root_password=f"Root-{uuid.uuid4().hex}",
        prefix=f"hd{suffix}_",
    )
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN CREATEROLE PASSWORD {}").format(
                sql.Identifier(target.root_user), sql.Literal(target.root_password)
            )
        )
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(target.dbname), sql.Identifier(target.root_user)
            )
        )
    with target.connect(target.root_user, target.root_password) as conn:
        conn.execute("CREATE TABLE items (id int PRIMARY KEY, name text)")
        conn.execute("INSERT INTO items VALUES (1, 'one')")
    try:
        yield target
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(target.dbname)
                )
            )
            for role in [*target.roles_with_prefix(), target.root_user]:
                conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


@dataclass
class MariaDBTarget:
    """A database ``dbname`` and a root-like user ``root_user``@'%' with all privileges on it."""

    admin: dict[str, object]
    host: str
    port: int
    dbname: str
    root_user: str
    root_password: str
    prefix: str

    plugin_name: ClassVar[str] = "mysql-database-plugin"

    @property
    def connection_url(self) -> str:
        return f"{{{{username}}}}:{{{{password}}}}@tcp({self.host}:{self.port})/"

    @property
    def username_template(self) -> str:
        return '{{ printf "' + self.prefix + '%s" (random 10) | lowercase }}'

    def connect(
        self, user: str, password: str, *, use_db: bool = True
    ) -> pymysql.connections.Connection:
        return pymysql.connect(
            host=self.host,
            port=self.port,
            user=user,
            password=password,
            database=self.dbname if use_db else None,
            connect_timeout=5,
            autocommit=True,
        )

    def admin_connect(self) -> pymysql.connections.Connection:
        return pymysql.connect(**self.admin, autocommit=True)  # type: ignore[arg-type]

    def users_with_prefix(self) -> list[str]:
        with self.admin_connect() as conn, conn.cursor() as cursor:
            cursor.execute("SELECT User FROM mysql.user WHERE User LIKE %s", (self.prefix + "%",))
            return [r[0] for r in cursor.fetchall()]

    def user_exists(self, name: str) -> bool:
        with self.admin_connect() as conn, conn.cursor() as cursor:
            cursor.execute("SELECT 1 FROM mysql.user WHERE User = %s", (name,))
            return cursor.fetchone() is not None


def mariadb_target(admin_dsn: str) -> Iterator[MariaDBTarget]:
    """Create the database, the root-like user and a table ``items``; drop all afterwards."""
    suffix = uuid.uuid4().hex[:10]
    parts = urlsplit(admin_dsn)
    admin: dict[str, object] = {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 3306,
        "user": parts.username or "root",
        "password": parts.password or "",
        "connect_timeout": 5,
    }
    target = MariaDBTarget(
        admin=admin,
        host=str(admin["host"]),
        port=int(admin["port"]),  # type: ignore[call-overload]
        dbname=f"hush_db_{suffix}",
        root_user=f"hush_root_{suffix}",
        root_password=f"Root-{uuid.uuid4().hex}",
        prefix=f"hd{suffix[:6]}_",
    )
    with target.admin_connect() as conn, conn.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{target.dbname}`")
        cursor.execute(
            f"CREATE USER '{target.root_user}'@'%%' IDENTIFIED BY %s", (target.root_password,)
        )
        # Root-like: may create users and hand out rights on its own database.
        cursor.execute(f"GRANT CREATE USER ON *.* TO '{target.root_user}'@'%'")
        cursor.execute(
            f"GRANT ALL PRIVILEGES ON `{target.dbname}`.* TO '{target.root_user}'@'%'"
            " WITH GRANT OPTION"
        )
        cursor.execute(f"CREATE TABLE `{target.dbname}`.items (id int PRIMARY KEY, name text)")
        cursor.execute(f"INSERT INTO `{target.dbname}`.items VALUES (1, 'one')")
    try:
        yield target
    finally:
        with target.admin_connect() as conn, conn.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{target.dbname}`")
            for user in [*target.users_with_prefix(), target.root_user]:
                cursor.execute(f"DROP USER IF EXISTS '{user}'@'%'")


@contextlib.contextmanager
def database_mount(server: HushProcess, prefix: str) -> Iterator[tuple[hvac.Client, str]]:
    """A fresh database mount named ``<prefix>-<random>``, disabled afterwards unless gone."""
    client = server.client()
    mount = f"{prefix}-{uuid.uuid4().hex[:8]}"
    client.sys.enable_secrets_engine("database", path=mount)
    yield client, mount
    if mount + "/" in client.sys.list_mounted_secrets_engines()["data"]:
        client.sys.disable_secrets_engine(mount)


def configure_root_connection(
    client: hvac.Client,
    mount: str,
    name: str,
    target: PostgresTarget | MariaDBTarget,
    allowed_roles: str | list[str],
) -> None:
    """Connection ``name`` on ``mount`` to ``target`` as its root-like user, test usernames."""
    client.secrets.database.configure(
        name,
        target.plugin_name,
        connection_url=target.connection_url,
        username=target.root_user,
        password=target.root_password,
        allowed_roles=allowed_roles,
        username_template=target.username_template,
        mount_point=mount,
    )
