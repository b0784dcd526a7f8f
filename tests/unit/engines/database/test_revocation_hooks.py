"""The engine's lease hooks against the real databases, in process.

These tests drive ``revoke_secret``/``renew_secret`` directly on a backend whose storage is an
in-memory view, with the same endpoint handlers the server runs; the same hooks called by the
expiration manager over HTTP are covered by ``tests/integration/test_database_leases.py``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
import pymysql
import pytest

from hush.barrier.view import StorageView
from hush.core.request import Auth, Operation, Request, Response
from hush.engines.database import DatabaseBackend
from hush.framework.backend import BackendContext
from hush.storage.memory import MemoryStorage
from tests.support.databases import MariaDBTarget, PostgresTarget

Call = Callable[..., Awaitable[Response | None]]
Scenario = Callable[[DatabaseBackend, Call], Awaitable[None]]


def _run(scenario: Scenario) -> None:
    """Run ``scenario`` on a fresh backend, and close the backend's connections afterwards."""

    async def run() -> None:
        storage = StorageView(MemoryStorage(), "logical/test/")  # type: ignore[arg-type]
        backend = DatabaseBackend(BackendContext(storage, "database/", "test"))

        async def call(operation: Operation, path: str, **data: Any) -> Response | None:
            request = Request(
                id=str(uuid.uuid4()),
                operation=operation,
                path="database/" + path,
                data=data,
                auth=Auth("accessor", ("root",), display_name="token"),
            ).with_route("database/", path)
            return await (await backend.prepare(request)).run()

        try:
            await scenario(backend, call)
        finally:
            await backend.cleanup()

    asyncio.run(run())


async def _configure(
    call: Call, name: str, target: PostgresTarget | MariaDBTarget, allowed_roles: str, **extra: Any
) -> None:
    """Connection ``name`` to ``target`` as its root-like user."""
    await call(
        Operation.UPDATE,
        f"config/{name}",
        plugin_name=target.plugin_name,
        connection_url=target.connection_url,
        username=target.root_user,
        password=target.root_password,
        allowed_roles=allowed_roles,
        **extra,
    )


@pytest.mark.postgres
def test_postgresql_revoke_drops_the_user_and_is_idempotent(pg_target: PostgresTarget) -> None:
    async def scenario(backend: DatabaseBackend, call: Call) -> None:
        await _configure(call, "pg", pg_target, "*", username_template=pg_target.username_template)
        await call(
            Operation.UPDATE,
            "roles/app",
            db_name="pg",
            creation_statements=[
                "CREATE ROLE \"{{name}}\" LOGIN PASSWORD '{{password}}' "
                "VALID UNTIL '{{expiration}}'",
                'GRANT SELECT ON items TO "{{name}}"',
            ],
            renew_statements=["ALTER ROLE \"{{name}}\" VALID UNTIL '{{expiration}}'"],
            default_ttl=600,
        )
        response = await call(Operation.READ, "creds/app")
        assert response is not None and response.data is not None
        assert response.secret is not None and response.secret.ttl == 600
        username = response.data["username"]
        with pg_target.connect(username, response.data["password"]) as conn:
            assert conn.execute("SELECT count(*) FROM items").fetchone() == (1,)
        lease = response.secret
        renewed = await backend.renew_secret(lease.secret_type, lease.internal_data, 300)
        assert renewed.ttl == 300
        await backend.revoke_secret(lease.secret_type, lease.internal_data)
        assert not pg_target.role_exists(username)
        with pytest.raises(psycopg.OperationalError, match="does not exist"):
            pg_target.connect(username, response.data["password"]).close()
        # A retried revocation (the expiration manager retries) succeeds quietly.
        await backend.revoke_secret(lease.secret_type, lease.internal_data)

    _run(scenario)


@pytest.mark.mariadb
def test_mariadb_revoke_drops_the_user(maria_target: MariaDBTarget) -> None:
    async def scenario(backend: DatabaseBackend, call: Call) -> None:
        await _configure(
            call, "maria", maria_target, "app", username_template=maria_target.username_template
        )
        await call(
            Operation.UPDATE,
            "roles/app",
            db_name="maria",
            creation_statements=[
                "CREATE USER '{{name}}'@'%' IDENTIFIED BY '{{password}}';"
                f"GRANT SELECT ON `{maria_target.dbname}`.* TO '{{{{name}}}}'@'%'"
            ],
        )
        response = await call(Operation.READ, "creds/app")
        assert response is not None and response.data is not None
        assert response.secret is not None
        username, password = response.data["username"], response.data["password"]
        with maria_target.connect(username, password) as conn, conn.cursor() as cursor:
            cursor.execute("SELECT name FROM items")
            assert cursor.fetchall() == (("one",),)
        await backend.revoke_secret("creds", response.secret.internal_data)
        assert not maria_target.user_exists(username)
        with pytest.raises(pymysql.err.OperationalError, match="Access denied"):
            maria_target.connect(username, password).close()
        await backend.revoke_secret("creds", response.secret.internal_data)

    _run(scenario)


@pytest.mark.postgres
def test_periodic_rotates_static_roles_only_when_due(pg_target: PostgresTarget) -> None:
    async def scenario(backend: DatabaseBackend, call: Call) -> None:
        user = f"{pg_target.prefix}static"
        with pg_target.connect(pg_target.root_user, pg_target.root_password) as conn:
            conn.execute(f"CREATE ROLE \"{user}\" LOGIN PASSWORD 'initial'")
        await _configure(call, "pg", pg_target, "*")
        await call(
            Operation.UPDATE,
            "static-roles/s",
            db_name="pg",
            username=user,
            rotation_period=3600,
        )
        creds = await call(Operation.READ, "static-creds/s")
        assert creds is not None and creds.data is not None
        first = creds.data["password"]
        assert pg_target.password_works(user, first)
        start = time.time()
        await backend.periodic(start + 3500)  # not due yet: nothing is claimed
        assert await backend.static_roles.rotate_due(start + 3500) == []
        assert await backend.static_roles.rotate_due(start + 3601) == ["s"]
        creds = await call(Operation.READ, "static-creds/s")
        assert creds is not None and creds.data is not None
        second = creds.data["password"]
        assert second != first
        assert pg_target.password_works(user, second)
        assert not pg_target.password_works(user, first)
        # Rescheduled one period after the rotation, not re-claimed at once.
        assert await backend.static_roles.rotate_due(start + 3700) == []
        await call(Operation.DELETE, "static-roles/s")
        assert await backend.static_roles.rotate_due(start + 10**6) == []

    _run(scenario)


@pytest.mark.mariadb
@pytest.mark.parametrize("database_changed", [True, False])
def test_interrupted_rotate_root_is_completed_without_losing_the_password(
    maria_target: MariaDBTarget, database_changed: bool
) -> None:
    """A crash between the database change and the storage write leaves a pending password;
    the next use of the connection keeps whichever password the database accepts."""

    async def scenario(backend: DatabaseBackend, call: Call) -> None:
        await _configure(
            call, "maria", maria_target, "app", username_template=maria_target.username_template
        )
        await call(
            Operation.UPDATE,
            "roles/app",
            db_name="maria",
            creation_statements=["CREATE USER '{{name}}'@'%' IDENTIFIED BY '{{password}}'"],
        )
        config = await backend.store.config("maria")
        assert config is not None
        pending = f"Pending-{uuid.uuid4().hex}"
        await backend.store.put_config(dataclasses.replace(config, pending_password=pending))
        if database_changed:
            with maria_target.admin_connect() as conn, conn.cursor() as cursor:
                cursor.execute(
                    f"ALTER USER '{maria_target.root_user}'@'%%' IDENTIFIED BY %s", (pending,)
                )
        await backend.cleanup()
        response = await call(Operation.READ, "creds/app")
        assert response is not None and response.data is not None
        settled = await backend.store.config("maria")
        assert settled is not None and settled.pending_password == ""
        expected = pending if database_changed else maria_target.root_password
        assert settled.password == expected
        # And a real rotation afterwards still works.
        await call(Operation.UPDATE, "rotate-root/maria")
        with pytest.raises(pymysql.err.OperationalError, match="Access denied"):
            maria_target.connect(maria_target.root_user, expected).close()
        assert await call(Operation.READ, "creds/app") is not None

    _run(scenario)
