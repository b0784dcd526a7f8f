"""Shared fixtures: real Hush servers on loopback ports, hvac clients, the PostgreSQL DSN."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pymysql
import pytest
from hypothesis import settings

from tests.support.databases import MariaDBTarget, PostgresTarget, mariadb_target, postgres_target
from tests.support.idp import LocalIdP
from tests.support.server import HushProcess, free_port, start_hush, write_config

PG_DSN = os.environ.get("HUSH_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
MARIADB_DSN = os.environ.get("HUSH_TEST_MARIADB_DSN", "mysql://root@127.0.0.1:3306/test")
DEV_ROOT_TOKEN = "root"
# The dev AWS key pair the aws_server fixture fixes with -dev-aws-access-key-id/-secret-access-key.
DEV_AWS_ACCESS_KEY_ID = "AKIAHUSHTESTDEV00001"
DEV_AWS_SECRET_ACCESS_KEY = "hushTestDevSecretKey0000000000000000000/"

# No per-example deadline for property tests that do not set their own: on a loaded CI machine
# one example of a microsecond function can still be descheduled past hypothesis's 200 ms
# default, and the fast re-run then fails the test as "Flaky: unreliable test timings".
settings.register_profile("hush-tests", deadline=None)
settings.load_profile("hush-tests")


@pytest.fixture(scope="session")
def pg_dsn() -> str:
    """The PostgreSQL DSN; unreachable means fail under CI, skip elsewhere."""
    try:
        with psycopg.connect(PG_DSN, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        message = f"PostgreSQL at HUSH_TEST_PG_DSN is unreachable ({type(exc).__name__})"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return PG_DSN


@pytest.fixture(scope="session")
def mariadb_dsn() -> str:
    """The MariaDB DSN (HUSH_TEST_MARIADB_DSN); unreachable means fail under CI, skip elsewhere."""
    from urllib.parse import urlsplit

    parts = urlsplit(MARIADB_DSN)
    try:
        pymysql.connect(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 3306,
            user=parts.username or "root",
            password=parts.password or "",
            connect_timeout=5,
        ).close()
    except pymysql.Error as exc:
        message = f"MariaDB at HUSH_TEST_MARIADB_DSN is unreachable ({type(exc).__name__})"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return MARIADB_DSN


@pytest.fixture
def pg_target(pg_dsn: str) -> Iterator[PostgresTarget]:
    """A throwaway PostgreSQL database with a root-like user, dropped afterwards."""
    yield from postgres_target(pg_dsn)


@pytest.fixture
def maria_target(mariadb_dsn: str) -> Iterator[MariaDBTarget]:
    """A throwaway MariaDB database with a root-like user, dropped afterwards."""
    yield from mariadb_target(mariadb_dsn)


@pytest.fixture
def pg_table(pg_dsn: str) -> Iterator[str]:
    """A fresh table name for one test, dropped afterwards."""
    table = f"hush_test_{uuid.uuid4().hex[:12]}"
    yield table
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f'DROP TABLE IF EXISTS "{table}"')
        conn.execute(f'DROP TABLE IF EXISTS "{table}_due"')


@pytest.fixture(scope="module")
def dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HushProcess]:
    """One in-memory dev server per test module, root token ``root``."""
    workdir = tmp_path_factory.mktemp("dev")
    port = free_port()
    server = start_hush(
        workdir,
        [
            "-dev",
            "-dev-kv-v1",
            f"-dev-root-token-id={DEV_ROOT_TOKEN}",
            f"-dev-listen-address=127.0.0.1:{port}",
        ],
        port=port,
        root_token=DEV_ROOT_TOKEN,
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def aws_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HushProcess]:
    """A SQLite dev server per module with the fixed dev AWS key pair (awssm/ mounted)."""
    workdir = tmp_path_factory.mktemp("aws")
    port = free_port()
    server = start_hush(
        workdir,
        [
            "-dev",
            "-dev-storage=sqlite",
            f"-dev-storage-path={workdir / 'hush.db'}",
            f"-dev-root-token-id={DEV_ROOT_TOKEN}",
            f"-dev-listen-address=127.0.0.1:{port}",
            f"-dev-aws-access-key-id={DEV_AWS_ACCESS_KEY_ID}",
            f"-dev-aws-secret-access-key={DEV_AWS_SECRET_ACCESS_KEY}",
        ],
        port=port,
        root_token=DEV_ROOT_TOKEN,
    )
    yield server
    server.stop()


ServerFactory = Callable[..., HushProcess]


@pytest.fixture
def sealed_server(tmp_path: Path) -> Iterator[ServerFactory]:
    """Factory: ``sealed_server("sqlite")`` starts an uninitialised server from a config file."""
    started: list[HushProcess] = []

    def factory(storage: str = "sqlite", **options: str | int | bool) -> HushProcess:
        port = free_port()
        if storage == "sqlite":
            options.setdefault("path", str(tmp_path / "hush.db"))
        config = write_config(tmp_path, port, storage, **options)
        server = start_hush(tmp_path, [f"-config={config}"], port=port)
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def local_idp() -> Iterator[LocalIdP]:
    """A local identity provider (JWKS, OIDC discovery, authorize/token endpoints) per module."""
    idp = LocalIdP().start()
    yield idp
    idp.stop()
