"""The database engine against the real MariaDB server, through hvac and a dev server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import hvac
import hvac.exceptions
import pymysql
import pytest

from tests.support.databases import MariaDBTarget, configure_root_connection, database_mount
from tests.support.server import HushProcess

pytestmark = pytest.mark.mariadb


def _create(target: MariaDBTarget) -> list[str]:
    return [
        "CREATE USER '{{name}}'@'%' IDENTIFIED BY '{{password}}';"
        f"GRANT SELECT ON `{target.dbname}`.* TO '{{{{name}}}}'@'%';"
    ]


@pytest.fixture
def db(dev_server: HushProcess, maria_target: MariaDBTarget) -> Iterator[tuple[hvac.Client, str]]:
    with database_mount(dev_server, "maria") as (client, mount):
        configure_root_connection(client, mount, "maria", maria_target, "*")
        client.secrets.database.create_role(
            "app", "maria", _create(maria_target), default_ttl="10m", mount_point=mount
        )
        yield client, mount


def test_dynamic_credential_logs_in_with_granted_rights_only(
    db: tuple[hvac.Client, str], maria_target: MariaDBTarget
) -> None:
    client, mount = db
    creds = client.secrets.database.generate_credentials("app", mount_point=mount)
    assert creds["lease_duration"] == 600
    data = creds["data"]
    with maria_target.connect(data["username"], data["password"]) as conn, conn.cursor() as cur:
        cur.execute("SELECT name FROM items")
        assert cur.fetchall() == (("one",),)
        with pytest.raises(pymysql.err.OperationalError, match="command denied"):
            cur.execute("INSERT INTO items VALUES (2, 'two')")


def test_failed_creation_runs_rollback_and_leaves_no_user(
    db: tuple[hvac.Client, str], maria_target: MariaDBTarget
) -> None:
    client, mount = db
    # CREATE USER commits implicitly in MySQL; the failing GRANT must not leave the user.
    client.secrets.database.create_role(
        "broken",
        "maria",
        ["CREATE USER '{{name}}'@'%' IDENTIFIED BY '{{password}}'; GRANT SELEC ON x.* TO y;"],
        mount_point=mount,
    )
    with pytest.raises(hvac.exceptions.InvalidRequest, match="SQL syntax") as exc:
        client.secrets.database.generate_credentials("broken", mount_point=mount)
    assert maria_target.root_password not in str(exc.value)
    assert maria_target.users_with_prefix() == []
    client.secrets.database.create_role(
        "broken2",
        "maria",
        ["CREATE USER '{{name}}'@'%' IDENTIFIED BY '{{password}}'; GRANT SELEC ON x.* TO y;"],
        rollback_statements=["DROP USER IF EXISTS '{{name}}'@'%'"],
        mount_point=mount,
    )
    with pytest.raises(hvac.exceptions.InvalidRequest):
        client.secrets.database.generate_credentials("broken2", mount_point=mount)
    assert maria_target.users_with_prefix() == []


def test_rotate_root_old_password_stops_working(
    db: tuple[hvac.Client, str], maria_target: MariaDBTarget
) -> None:
    client, mount = db
    client.secrets.database.rotate_root_credentials("maria", mount_point=mount)
    with pytest.raises(pymysql.err.OperationalError, match="Access denied"):
        maria_target.connect(maria_target.root_user, maria_target.root_password).close()
    creds = client.secrets.database.generate_credentials("app", mount_point=mount)["data"]
    maria_target.connect(creds["username"], creds["password"]).close()


def test_static_role_rotation(db: tuple[hvac.Client, str], maria_target: MariaDBTarget) -> None:
    client, mount = db
    user = f"{maria_target.prefix}static"
    with maria_target.admin_connect() as conn, conn.cursor() as cur:
        cur.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY 'initial-password'")
    client.secrets.database.create_static_role(
        "static", "maria", user, [], rotation_period="1h", mount_point=mount
    )
    with pytest.raises(pymysql.err.OperationalError, match="Access denied"):
        maria_target.connect(user, "initial-password", use_db=False).close()
    first = client.secrets.database.get_static_credentials("static", mount_point=mount)["data"]
    maria_target.connect(user, first["password"], use_db=False).close()
    client.secrets.database.rotate_static_role_credentials("static", mount_point=mount)
    second = client.secrets.database.get_static_credentials("static", mount_point=mount)["data"]
    maria_target.connect(user, second["password"], use_db=False).close()
    with pytest.raises(pymysql.err.OperationalError, match="Access denied"):
        maria_target.connect(user, first["password"], use_db=False).close()


def test_legacy_plugin_names_get_16_character_usernames(
    dev_server: HushProcess, maria_target: MariaDBTarget
) -> None:
    client = dev_server.client()
    mount = f"maria-{uuid.uuid4().hex[:8]}"
    client.sys.enable_secrets_engine("database", path=mount)
    try:
        client.secrets.database.configure(
            "legacy",
            "mysql-legacy-database-plugin",
            connection_url=maria_target.connection_url,
            username=maria_target.root_user,
            password=maria_target.root_password,
            allowed_roles="*",
            mount_point=mount,
        )
        client.secrets.database.create_role(
            "app", "legacy", _create(maria_target), mount_point=mount
        )
        creds = client.secrets.database.generate_credentials("app", mount_point=mount)["data"]
        try:
            assert len(creds["username"]) == 16 and creds["username"].startswith("v-app-")
            maria_target.connect(creds["username"], creds["password"]).close()
        finally:
            with maria_target.admin_connect() as conn, conn.cursor() as cur:
                cur.execute(f"DROP USER IF EXISTS '{creds['username']}'@'%'")
    finally:
        client.sys.disable_secrets_engine(mount)
