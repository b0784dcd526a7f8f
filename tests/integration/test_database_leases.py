"""Dynamic database credentials under the expiration manager, end to end (issue 10).

A real dev server (expiry loop every second), hvac's ``secrets.database`` and ``sys`` lease
methods, the ``hush lease`` CLI, and the shared PostgreSQL and MariaDB servers: every lease
operation is checked by what happened to the user in the database.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import hvac
import hvac.exceptions
import psycopg
import pymysql
import pytest

from tests.conftest import DEV_ROOT_TOKEN
from tests.integration.test_cli import HushCLI
from tests.support.databases import (
    MariaDBTarget,
    PostgresTarget,
    configure_root_connection,
    database_mount,
)
from tests.support.server import HushProcess, free_port

PG_CREATE = [
    "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';"
    ' GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{{name}}";'
]
PG_RENEW = ["ALTER ROLE \"{{name}}\" VALID UNTIL '{{expiration}}';"]


def _wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


def _lease_keys(client: hvac.Client, prefix: str) -> list[str]:
    try:
        return list(client.sys.list_leases(prefix)["data"]["keys"])
    except hvac.exceptions.InvalidPath:
        return []


def _pg_login_works(target: PostgresTarget, user: str, password: str) -> bool:
    try:
        with target.connect(user, password) as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError:
        return False
    return True


def _pg_valid_until(target: PostgresTarget, user: str) -> float:
    with psycopg.connect(target.admin_dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT rolvaliduntil FROM pg_roles WHERE rolname = %s", (user,)
        ).fetchone()
    assert row is not None and isinstance(row[0], datetime)
    return row[0].timestamp()


def _maria_login_works(target: MariaDBTarget, user: str, password: str) -> bool:
    try:
        with target.connect(user, password) as conn, conn.cursor() as cursor:
            cursor.execute("SELECT 1")
    except pymysql.err.OperationalError:
        return False
    return True


def _lease_user_password(creds: dict[str, Any]) -> tuple[str, str, str]:
    """Lease id, username and password of a credentials response."""
    return creds["lease_id"], creds["data"]["username"], creds["data"]["password"]


def _usernames(client: hvac.Client, mount: str, count: int) -> list[str]:
    """The usernames of ``count`` fresh credentials of role ``app``."""
    return [
        client.secrets.database.generate_credentials("app", mount_point=mount)["data"]["username"]
        for _ in range(count)
    ]


def _failed_revocations(server: HushProcess) -> float:
    with server.http() as http:
        text = http.get(
            "/v1/sys/metrics",
            params={"format": "prometheus"},
            headers={"X-Vault-Token": DEV_ROOT_TOKEN},
        ).text
    for line in text.splitlines():
        labels = 'kind="secret"' in line and 'outcome="failed"' in line
        if line.startswith("hush_lease_revocations_total{") and labels:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.fixture
def pg(dev_server: HushProcess, pg_target: PostgresTarget) -> Iterator[tuple[hvac.Client, str]]:
    """A database mount for ``pg_target`` with role ``app`` (default_ttl 1m, max_ttl 2m)."""
    with database_mount(dev_server, "dbl") as (client, mount):
        configure_root_connection(client, mount, "pg", pg_target, ["app", "short", "capped"])
        client.secrets.database.create_role(
            "app",
            "pg",
            PG_CREATE,
            default_ttl="1m",
            max_ttl="2m",
            renew_statements=PG_RENEW,
            mount_point=mount,
        )
        yield client, mount


@pytest.fixture
def maria(
    dev_server: HushProcess, maria_target: MariaDBTarget
) -> Iterator[tuple[hvac.Client, str]]:
    """A database mount for ``maria_target``: roles ``app`` (default_ttl 1m) and ``short`` (5 s)."""
    create = [
        "CREATE USER '{{name}}'@'%' IDENTIFIED BY '{{password}}';"
        f"GRANT SELECT ON `{maria_target.dbname}`.* TO '{{{{name}}}}'@'%';"
    ]
    with database_mount(dev_server, "dbl") as (client, mount):
        configure_root_connection(client, mount, "maria", maria_target, "*")
        for role, ttl in (("app", "1m"), ("short", "5s")):
            client.secrets.database.create_role(
                role, "maria", create, default_ttl=ttl, mount_point=mount
            )
        yield client, mount


# -- PostgreSQL ------------------------------------------------------------------------------


@pytest.mark.postgres
def test_pg_lease_is_real_and_revoking_it_drops_the_role(
    pg: tuple[hvac.Client, str], pg_target: PostgresTarget
) -> None:
    client, mount = pg
    creds = client.secrets.database.generate_credentials("app", mount_point=mount)
    lease_id, user, password = _lease_user_password(creds)
    assert lease_id.startswith(f"{mount}/creds/app/")
    assert creds["lease_duration"] == 60
    assert creds["renewable"] is True
    # Real credentials with exactly the rights the creation statements granted.
    assert pg_target.password_works(user, password)
    with pg_target.connect(user, password) as conn:
        assert conn.execute("SELECT name FROM items").fetchall() == [("one",)]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM items")
    looked_up = client.sys.read_lease(lease_id)["data"]
    assert looked_up["id"] == lease_id and looked_up["renewable"] is True
    assert 55 <= looked_up["ttl"] <= 60
    assert lease_id.rsplit("/", 1)[1] in _lease_keys(client, f"{mount}/creds/app/")

    client.sys.revoke_lease(lease_id)
    assert not pg_target.role_exists(user)
    assert not _pg_login_works(pg_target, user, password)
    with pytest.raises(hvac.exceptions.InvalidRequest, match="invalid lease"):
        client.sys.read_lease(lease_id)


@pytest.mark.postgres
def test_pg_lease_capped_by_role_max_ttl_and_mount_tune(
    pg: tuple[hvac.Client, str], pg_target: PostgresTarget
) -> None:
    client, mount = pg
    # A role without default_ttl gets the mount's default, cut to the role's max_ttl.
    client.secrets.database.create_role("capped", "pg", PG_CREATE, max_ttl="45s", mount_point=mount)
    capped = client.secrets.database.generate_credentials("capped", mount_point=mount)
    assert capped["lease_duration"] == 45
    assert _pg_valid_until(pg_target, capped["data"]["username"]) <= time.time() + 46
    client.sys.tune_mount_configuration(mount, max_lease_ttl="30s")
    creds = client.secrets.database.generate_credentials("app", mount_point=mount)
    assert creds["lease_duration"] == 30
    # The database agrees with the lease: the role is valid until about the lease's end.
    assert _pg_valid_until(pg_target, creds["data"]["username"]) <= time.time() + 31


@pytest.mark.postgres
def test_pg_lease_expires_and_the_role_is_dropped(
    pg: tuple[hvac.Client, str], pg_target: PostgresTarget
) -> None:
    client, mount = pg
    client.secrets.database.create_role(
        "short", "pg", PG_CREATE, default_ttl="5s", mount_point=mount
    )
    creds = client.secrets.database.generate_credentials("short", mount_point=mount)
    user, password = creds["data"]["username"], creds["data"]["password"]
    assert creds["lease_duration"] == 5
    assert pg_target.role_exists(user)
    assert _wait_until(lambda: not pg_target.role_exists(user))
    assert not _pg_login_works(pg_target, user, password)
    assert _lease_keys(client, f"{mount}/creds/short/") == []


@pytest.mark.postgres
def test_pg_renew_runs_renew_statements_and_is_capped_at_max_ttl(
    pg: tuple[hvac.Client, str], pg_target: PostgresTarget
) -> None:
    client, mount = pg
    creds = client.secrets.database.generate_credentials("app", mount_point=mount)
    user = creds["data"]["username"]
    first_expiry = _pg_valid_until(pg_target, user)
    assert abs(first_expiry - (time.time() + 60)) < 5

    renewed = client.sys.renew_lease(creds["lease_id"], increment=100)
    assert renewed["lease_id"] == creds["lease_id"]
    assert renewed["lease_duration"] == 100
    assert not renewed.get("warnings")
    assert abs(_pg_valid_until(pg_target, user) - (time.time() + 100)) < 5
    assert 95 <= client.sys.read_lease(creds["lease_id"])["data"]["ttl"] <= 100

    capped = client.sys.renew_lease(creds["lease_id"], increment=3600)
    assert 110 <= capped["lease_duration"] <= 120
    assert any("capped accordingly" in w for w in capped["warnings"]), capped
    # The database expiry follows the capped lease, not the asked-for hour.
    assert _pg_valid_until(pg_target, user) <= time.time() + 121


@pytest.mark.postgres
def test_pg_revoking_the_reading_token_drops_its_roles(
    pg: tuple[hvac.Client, str], pg_target: PostgresTarget, dev_server: HushProcess
) -> None:
    client, mount = pg
    policy = f"dbl-{uuid.uuid4().hex[:8]}"
    client.sys.create_or_update_policy(
        policy, f'path "{mount}/creds/*" {{ capabilities = ["read"] }}'
    )
    token = client.auth.token.create(policies=[policy], ttl="1h")["auth"]["client_token"]
    reader = hvac.Client(url=client.url, token=token)
    users = [
        reader.secrets.database.generate_credentials("app", mount_point=mount)["data"]["username"]
        for _ in range(2)
    ]
    kept = client.secrets.database.generate_credentials("app", mount_point=mount)["data"]
    assert all(pg_target.role_exists(u) for u in users)
    client.auth.token.revoke(token)
    assert _wait_until(lambda: not any(pg_target.role_exists(u) for u in users)), (
        dev_server.log_text()[-4000:]
    )
    # Leases of other tokens are untouched.
    assert pg_target.role_exists(kept["username"])
    client.sys.delete_policy(policy)


@pytest.mark.postgres
def test_pg_revoke_prefix_drops_every_role_of_the_role(
    pg: tuple[hvac.Client, str], pg_target: PostgresTarget
) -> None:
    client, mount = pg
    users = _usernames(client, mount, 3)
    assert len(_lease_keys(client, f"{mount}/creds/app/")) == 3
    assert _lease_keys(client, f"{mount}/creds/") == ["app/"]
    client.sys.revoke_prefix(f"{mount}/creds/app")
    assert not any(pg_target.role_exists(u) for u in users)
    assert _lease_keys(client, f"{mount}/creds/app/") == []


@pytest.mark.postgres
def test_pg_failed_revocation_is_visible_and_retried_until_it_works(
    dev_server: HushProcess, pg: tuple[hvac.Client, str], pg_target: PostgresTarget
) -> None:
    client, mount = pg
    creds = client.secrets.database.generate_credentials("app", mount_point=mount)
    lease_id, user = creds["lease_id"], creds["data"]["username"]
    closed = f"postgresql://{{{{username}}}}:{{{{password}}}}@127.0.0.1:{free_port()}/x"
    client.secrets.database.configure(
        "pg",
        "postgresql-database-plugin",
        connection_url=closed,
        verify_connection=False,
        mount_point=mount,
    )
    # A synchronous revocation reports the failure (400, no connection details) and keeps the lease.
    with pytest.raises(hvac.exceptions.InvalidRequest) as failed:
        client.sys.revoke_lease(lease_id)
    assert "failed to revoke" in str(failed.value)
    assert pg_target.root_password not in str(failed.value)
    assert client.sys.read_lease(lease_id)["data"]["id"] == lease_id
    assert pg_target.role_exists(user)

    # Expiry: the loop's first attempt fails, is counted, and the lease is kept for a retry.
    before = _failed_revocations(dev_server)
    client.adapter.put("/v1/sys/leases/revoke", json={"lease_id": lease_id, "sync": False})
    assert _wait_until(lambda: _failed_revocations(dev_server) > before)
    assert client.sys.read_lease(lease_id)["data"]["id"] == lease_id
    assert pg_target.role_exists(user)
    # Retried with backoff, not given up: irrevocable only after six attempts (minutes).
    irrevocable = client.adapter.get("/v1/sys/leases", params={"type": "irrevocable"})
    assert lease_id not in {lease["lease_id"] for lease in irrevocable["data"]["leases"]}
    log = dev_server.log_text()
    assert f"revoking lease {lease_id} failed (attempt 1 of 6" in log
    assert pg_target.root_password not in log and creds["data"]["password"] not in log

    # The database comes back: the next retry (backoff 10 s +/- 50 %) drops the role.
    client.secrets.database.configure(
        "pg",
        "postgresql-database-plugin",
        connection_url=pg_target.connection_url,
        mount_point=mount,
    )
    assert _wait_until(lambda: not pg_target.role_exists(user), timeout=40)
    assert _wait_until(lambda: _lease_keys(client, f"{mount}/creds/app/") == [])


@pytest.mark.postgres
def test_pg_disabling_the_mount_revokes_its_leases(
    pg: tuple[hvac.Client, str], pg_target: PostgresTarget
) -> None:
    client, mount = pg
    users = _usernames(client, mount, 2)
    client.sys.disable_secrets_engine(mount)
    assert not any(pg_target.role_exists(u) for u in users)
    assert _lease_keys(client, f"{mount}/") == []


@pytest.fixture
def cli(dev_server: HushProcess, tmp_path: Path) -> HushCLI:
    home = tmp_path / "home"
    home.mkdir()
    return HushCLI(dev_server.url, home, DEV_ROOT_TOKEN)


@pytest.mark.postgres
def test_cli_lease_lookup_renew_revoke_on_a_database_lease(
    pg: tuple[hvac.Client, str], pg_target: PostgresTarget, cli: HushCLI
) -> None:
    _, mount = pg
    read = cli.json("read", f"{mount}/creds/app")
    lease_id, user = read["lease_id"], read["data"]["username"]
    assert lease_id.startswith(f"{mount}/creds/app/") and pg_target.role_exists(user)
    looked_up = cli.json("lease", "lookup", lease_id)
    assert looked_up["data"]["id"] == lease_id and looked_up["data"]["renewable"] is True
    renewed = cli.json("lease", "renew", "-increment=90s", lease_id)
    assert renewed["lease_id"] == lease_id and renewed["lease_duration"] == 90
    assert abs(_pg_valid_until(pg_target, user) - (time.time() + 90)) < 5
    revoked = cli("lease", "revoke", "-sync", lease_id)
    assert revoked.returncode == 0, revoked.stderr
    assert f"Success! Revoked lease: {lease_id}" in revoked.stdout
    assert not pg_target.role_exists(user)
    missing = cli("lease", "lookup", lease_id)
    assert missing.returncode == 2 and "invalid lease" in missing.stderr


# -- MariaDB ---------------------------------------------------------------------------------


@pytest.mark.mariadb
def test_maria_lease_revoke_expiry_prefix_and_disable(
    maria: tuple[hvac.Client, str], maria_target: MariaDBTarget
) -> None:
    client, mount = maria
    creds = client.secrets.database.generate_credentials("app", mount_point=mount)
    lease_id, user, password = _lease_user_password(creds)
    assert lease_id.startswith(f"{mount}/creds/app/")
    assert creds["lease_duration"] == 60 and creds["renewable"] is True
    with maria_target.connect(user, password) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT name FROM items")
        assert cursor.fetchall() == (("one",),)
        with pytest.raises(pymysql.err.OperationalError):
            cursor.execute("DELETE FROM items")

    # Revoke: the user is gone and cannot log in.
    client.sys.revoke_lease(lease_id)
    assert not maria_target.user_exists(user)
    assert not _maria_login_works(maria_target, user, password)

    # Expiry.
    short = client.secrets.database.generate_credentials("short", mount_point=mount)["data"]
    assert _maria_login_works(maria_target, short["username"], short["password"])
    assert _wait_until(lambda: not maria_target.user_exists(short["username"]))
    assert not _maria_login_works(maria_target, short["username"], short["password"])

    # Renewal (MySQL has no expiry statement: the lease is extended, the user kept).
    renewing = client.secrets.database.generate_credentials("app", mount_point=mount)
    renewed = client.sys.renew_lease(renewing["lease_id"], increment=120)
    assert renewed["lease_duration"] == 120
    assert maria_target.user_exists(renewing["data"]["username"])

    # revoke-prefix drops every user of the role.
    users = _usernames(client, mount, 2)
    client.sys.revoke_prefix(f"{mount}/creds/app")
    assert not any(maria_target.user_exists(u) for u in [*users, renewing["data"]["username"]])

    # Disabling the mount revokes what is left.
    last = client.secrets.database.generate_credentials("app", mount_point=mount)["data"]
    client.sys.disable_secrets_engine(mount)
    assert not maria_target.user_exists(last["username"])
    assert maria_target.users_with_prefix() == []
