"""The database engine against the real PostgreSQL server, through hvac and a dev server."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import hvac
import hvac.exceptions
import psycopg
import pytest

from tests.support.databases import PostgresTarget, configure_root_connection, database_mount
from tests.support.server import HushProcess

pytestmark = pytest.mark.postgres

CREATE = [
    "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';"
    ' GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{{name}}";'
]


@pytest.fixture
def db(dev_server: HushProcess, pg_target: PostgresTarget) -> Iterator[tuple[hvac.Client, str]]:
    """A fresh database mount configured for ``pg_target`` with a role ``app``."""
    with database_mount(dev_server, "db") as (client, mount):
        configure_root_connection(client, mount, "pg", pg_target, ["app", "static-*"])
        client.secrets.database.create_role(
            "app", "pg", CREATE, default_ttl="1h", max_ttl="2h", mount_point=mount
        )
        yield client, mount


def test_dynamic_credential_logs_in_and_has_only_granted_rights(
    db: tuple[hvac.Client, str], pg_target: PostgresTarget
) -> None:
    client, mount = db
    creds = client.secrets.database.generate_credentials("app", mount_point=mount)
    username, password = creds["data"]["username"], creds["data"]["password"]
    assert username.startswith(pg_target.prefix)
    assert creds["lease_duration"] == 3600
    with pg_target.connect(username, password) as conn:
        assert conn.execute("SELECT name FROM items").fetchall() == [("one",)]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("INSERT INTO items VALUES (2, 'two')")


def test_default_password_is_vault_shaped(
    db: tuple[hvac.Client, str], pg_target: PostgresTarget
) -> None:
    client, mount = db
    creds = client.secrets.database.generate_credentials("app", mount_point=mount)["data"]
    password = creds["password"]
    assert pg_target.password_works(creds["username"], password)
    assert len(password) == 20
    assert any(c.isupper() for c in password) and any(c.islower() for c in password)
    assert any(c.isdigit() for c in password) and "-" in password


def test_password_policy_shapes_generated_passwords(
    db: tuple[hvac.Client, str], pg_target: PostgresTarget
) -> None:
    client, mount = db
    policy = f"dbpp-{uuid.uuid4().hex[:8]}"
    client.write(
        f"sys/policies/password/{policy}",
        policy='length = 32\nrule "charset" {\n charset = "abcxyz"\n min-chars = 1\n}\n'
        'rule "charset" {\n charset = "789"\n min-chars = 5\n}',
    )
    client.write(f"{mount}/config/pg", password_policy=policy, verify_connection=False)
    creds = client.secrets.database.generate_credentials("app", mount_point=mount)["data"]
    assert len(creds["password"]) == 32
    assert set(creds["password"]) <= set("abcxyz789")
    assert sum(c in "789" for c in creds["password"]) >= 5
    assert pg_target.password_works(creds["username"], creds["password"])
    client.write(f"{mount}/config/pg", password_policy="no-such-policy", verify_connection=False)
    with pytest.raises(hvac.exceptions.InvalidRequest, match='"no-such-policy" does not exist'):
        client.secrets.database.generate_credentials("app", mount_point=mount)


def test_config_read_never_returns_the_password(
    db: tuple[hvac.Client, str], pg_target: PostgresTarget
) -> None:
    client, mount = db
    config = client.secrets.database.read_connection("pg", mount_point=mount)["data"]
    assert config["plugin_name"] == "postgresql-database-plugin"
    assert config["allowed_roles"] == ["app", "static-*"]
    assert config["connection_details"]["username"] == pg_target.root_user
    assert pg_target.root_password not in str(config)
    assert "pg" in client.secrets.database.list_connections(mount_point=mount)["data"]["keys"]
    role = client.secrets.database.read_role("app", mount_point=mount)["data"]
    assert role["db_name"] == "pg" and role["default_ttl"] == 3600 and role["max_ttl"] == 7200


def test_bad_sql_is_400_and_leaves_no_user(
    db: tuple[hvac.Client, str], pg_target: PostgresTarget
) -> None:
    client, mount = db
    client.secrets.database.create_role(
        "app",
        "pg",
        ["CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}'; SELEC 1;"],
        mount_point=mount,
    )
    with pytest.raises(hvac.exceptions.InvalidRequest, match="syntax error") as exc:
        client.secrets.database.generate_credentials("app", mount_point=mount)
    assert pg_target.root_password not in str(exc.value)
    assert pg_target.roles_with_prefix() == []


def test_role_not_in_allowed_roles_is_400(db: tuple[hvac.Client, str]) -> None:
    client, mount = db
    client.secrets.database.create_role("other", "pg", CREATE, mount_point=mount)
    with pytest.raises(hvac.exceptions.InvalidRequest, match="not an allowed role"):
        client.secrets.database.generate_credentials("other", mount_point=mount)


def test_ttl_above_max_is_400(db: tuple[hvac.Client, str]) -> None:
    client, mount = db
    with pytest.raises(hvac.exceptions.InvalidRequest, match="ttl cannot be greater than max_ttl"):
        client.secrets.database.create_role(
            "app", "pg", CREATE, default_ttl="3h", max_ttl="1h", mount_point=mount
        )


def test_unreachable_host_and_bad_plugin_are_400_without_password(
    dev_server: HushProcess, db: tuple[hvac.Client, str]
) -> None:
    client, mount = db
    secret = f"Canary-{uuid.uuid4().hex}"
    with pytest.raises(hvac.exceptions.InvalidRequest, match="error verifying connection") as exc:
        client.secrets.database.configure(
            "down",
            "postgresql-database-plugin",
            connection_url="postgresql://{{username}}:{{password}}@127.0.0.1:1/x",
            username="u",
            password=secret,
            mount_point=mount,
        )
    assert secret not in str(exc.value)
    with pytest.raises(hvac.exceptions.InvalidPath):
        client.secrets.database.read_connection("down", mount_point=mount)
    with pytest.raises(hvac.exceptions.InvalidRequest, match="unknown plugin_name"):
        client.secrets.database.configure(
            "bad", "oracle-database-plugin", connection_url="x", mount_point=mount
        )
    with pytest.raises(hvac.exceptions.InvalidRequest, match="does not exist"):
        client.secrets.database.configure(
            "nouser",
            "postgresql-database-plugin",
            connection_url="postgresql://{{username}}:{{password}}@127.0.0.1:5432/postgres",
            username=f"no_such_user_{uuid.uuid4().hex[:8]}",
            password=secret,
            mount_point=mount,
        )
    assert secret not in dev_server.log_text()


def test_rotate_root_changes_the_password_and_creds_still_work(
    db: tuple[hvac.Client, str], pg_target: PostgresTarget
) -> None:
    client, mount = db
    assert pg_target.password_works(pg_target.root_user, pg_target.root_password)
    client.secrets.database.rotate_root_credentials("pg", mount_point=mount)
    assert not pg_target.password_works(pg_target.root_user, pg_target.root_password)
    creds = client.secrets.database.generate_credentials("app", mount_point=mount)["data"]
    with pg_target.connect(creds["username"], creds["password"]) as conn:
        assert conn.execute("SELECT count(*) FROM items").fetchone() == (1,)
    # The new root password is nowhere in the config read.
    assert (
        "password"
        not in client.secrets.database.read_connection("pg", mount_point=mount)["data"][
            "connection_details"
        ]
    )


def _static_user(pg_target: PostgresTarget) -> str:
    name = f"{pg_target.prefix}static"
    with pg_target.connect(pg_target.root_user, pg_target.root_password) as conn:
        conn.execute(f"CREATE ROLE \"{name}\" LOGIN PASSWORD 'initial-password'")
    return name


def test_static_role_rotates_on_demand_and_old_password_stops_working(
    db: tuple[hvac.Client, str], pg_target: PostgresTarget
) -> None:
    client, mount = db
    user = _static_user(pg_target)
    client.secrets.database.create_static_role(
        "static-app",
        "pg",
        user,
        ["ALTER ROLE \"{{name}}\" WITH PASSWORD '{{password}}'"],
        rotation_period="1h",
        mount_point=mount,
    )
    assert not pg_target.password_works(user, "initial-password")  # rotated at creation
    first = client.secrets.database.get_static_credentials("static-app", mount_point=mount)["data"]
    assert first["username"] == user and 3590 <= first["ttl"] <= 3600
    assert first["last_vault_rotation"]
    assert pg_target.password_works(user, first["password"])
    client.secrets.database.rotate_static_role_credentials("static-app", mount_point=mount)
    second = client.secrets.database.get_static_credentials("static-app", mount_point=mount)["data"]
    assert second["password"] != first["password"]
    assert pg_target.password_works(user, second["password"])
    assert not pg_target.password_works(user, first["password"])
    read = client.secrets.database.read_static_role("static-app", mount_point=mount)["data"]
    assert "password" not in read and read["rotation_period"] == 3600


@pytest.mark.slow
def test_static_role_rotates_on_schedule(
    db: tuple[hvac.Client, str], pg_target: PostgresTarget
) -> None:
    client, mount = db
    user = _static_user(pg_target)
    client.secrets.database.create_static_role(
        "static-fast", "pg", user, [], rotation_period="5s", mount_point=mount
    )
    first = client.secrets.database.get_static_credentials("static-fast", mount_point=mount)[
        "data"
    ]["password"]
    deadline = time.monotonic() + 40  # period 5s + the scheduler's 10s tick, with slack
    current = first
    while current == first and time.monotonic() < deadline:
        time.sleep(1)
        current = client.secrets.database.get_static_credentials("static-fast", mount_point=mount)[
            "data"
        ]["password"]
    assert current != first, "the static role was not rotated by the scheduler"
    assert pg_target.password_works(user, current)
    assert not pg_target.password_works(user, first)


def test_static_role_validation(db: tuple[hvac.Client, str], pg_target: PostgresTarget) -> None:
    client, mount = db
    cases = [
        ({"rotation_period": "2s"}, "5 seconds or more"),
        ({"rotation_schedule": "not a cron"}, "invalid rotation_schedule"),
        ({"rotation_period": "1h", "rotation_schedule": "0 * * * *"}, "mutually exclusive"),
        ({}, "one of rotation_schedule or rotation_period"),
        ({"rotation_period": "1h", "rotation_window": "2h"}, "rotation_window is invalid"),
    ]
    with pytest.raises(hvac.exceptions.InvalidRequest, match="names must be unique"):
        client.write(f"{mount}/static-roles/app", db_name="pg", username="u", rotation_period="1h")
    for extra, message in cases:
        with pytest.raises(hvac.exceptions.InvalidRequest, match=message):
            client.write(f"{mount}/static-roles/static-x", db_name="pg", username="u", **extra)
    client.write(
        f"{mount}/static-roles/static-cron",
        db_name="pg",
        username=_static_user(pg_target),
        rotation_schedule="0 0 * * *",
        rotation_window="2h",
    )
    read = client.read(f"{mount}/static-roles/static-cron")["data"]
    client.write(
        f"{mount}/config/down",
        plugin_name="postgresql-database-plugin",
        connection_url="postgresql://u@127.0.0.1:1/x",
        verify_connection=False,
        allowed_roles="*",
    )
    with pytest.raises(hvac.exceptions.InvalidRequest, match="Connection refused"):
        client.write(
            f"{mount}/static-roles/static-down", db_name="down", username="u", rotation_period="1h"
        )
    assert client.read(f"{mount}/static-roles/static-down") is None
    assert read["rotation_schedule"] == "0 0 * * *" and read["rotation_window"] == 7200
    assert 0 < read["ttl"] <= 86400


def test_cli_reads_dynamic_credentials(
    dev_server: HushProcess, db: tuple[hvac.Client, str], pg_target: PostgresTarget
) -> None:
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    _, mount = db
    hush = str(Path(sys.executable).with_name("hush"))
    env = {**os.environ, "VAULT_ADDR": dev_server.url, "VAULT_TOKEN": "root"}
    out = subprocess.run(
        [hush, "read", "-format=json", f"{mount}/creds/app"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    data = json.loads(out.stdout)["data"]
    with pg_target.connect(data["username"], data["password"]) as conn:
        conn.execute("SELECT 1")


def test_hvac_management_methods_behave_as_against_vault(
    db: tuple[hvac.Client, str], pg_target: PostgresTarget
) -> None:
    client, mount = db
    api = client.secrets.database
    assert api.list_roles(mount_point=mount)["data"]["keys"] == ["app"]
    user = _static_user(pg_target)
    api.create_static_role("static-a", "pg", user, [], rotation_period="1h", mount_point=mount)
    assert api.list_static_roles(mount_point=mount)["data"]["keys"] == ["static-a"]
    assert api.read_static_role("static-a", mount_point=mount)["data"]["username"] == user
    api.reset_connection("pg", mount_point=mount)
    creds = api.generate_credentials("app", mount_point=mount)["data"]  # reconnects after reset
    assert pg_target.password_works(creds["username"], creds["password"])
    reload = client.write(f"{mount}/reload/postgresql-database-plugin")["data"]
    assert reload == {"connections": ["pg"], "count": 1}
    api.delete_static_role("static-a", mount_point=mount)
    with pytest.raises(hvac.exceptions.InvalidRequest, match="unknown role"):
        api.get_static_credentials("static-a", mount_point=mount)
    api.delete_role("app", mount_point=mount)
    with pytest.raises(hvac.exceptions.InvalidRequest, match="unknown role: app"):
        api.generate_credentials("app", mount_point=mount)
    # Outstanding leases need their connection to be revoked (as in Vault, where disabling the
    # mount would otherwise fail until revoke-force): revoke them before deleting it.
    client.sys.revoke_prefix(f"{mount}/creds/app")
    assert not pg_target.role_exists(creds["username"])
    api.delete_connection("pg", mount_point=mount)
    with pytest.raises(hvac.exceptions.InvalidPath):
        api.list_connections(mount_point=mount)
