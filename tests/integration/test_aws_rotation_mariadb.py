"""Rotating MariaDB credentials with ``aws secretsmanager rotate-secret`` and boto3.

Each test gets a throwaway database and root-like user (tests/support/databases.py); the rotated
user and its ``_clone`` carry the target's prefix, so the fixture's teardown drops them. Whether a
password works is checked by really logging in to MariaDB with it.
"""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pymysql
import pytest

from tests.support import db_rotation
from tests.support.databases import MariaDBTarget
from tests.support.server import HushProcess

pytestmark = pytest.mark.mariadb


@pytest.fixture
def maria_user(maria_target: MariaDBTarget) -> Iterator[str]:
    """A login user with SELECT on the target database (dropped by the target's teardown)."""
    user = maria_target.prefix + "rot"
    with maria_target.admin_connect() as conn, conn.cursor() as cursor:
        cursor.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (user, "initial-pw"))
        cursor.execute(f"GRANT SELECT ON `{maria_target.dbname}`.* TO %s@'%%'", (user,))
        # The master (the target's root-like user) copies grants with SHOW GRANTS, which needs
        # read access to the grant tables, as AWS's alternating-users template does.
        cursor.execute(f"GRANT SELECT ON mysql.* TO '{maria_target.root_user}'@'%'")
    yield user


def _logs_in(target: MariaDBTarget, user: str, password: str) -> bool:
    try:
        with target.connect(user, password) as conn, conn.cursor() as cursor:
            cursor.execute("SELECT name FROM items")
            return cursor.fetchall() == (("one",),)
    except pymysql.err.OperationalError as exc:
        assert exc.args[0] == 1045, exc  # access denied, not some other failure
        return False


def _credentials(target: MariaDBTarget, username: str, password: str, **extra: str) -> str:
    return db_rotation.credentials_json(
        "mariadb", target.host, target.port, target.dbname, username, password, **extra
    )


def test_aws_cli_rotates_a_single_user_password(
    aws_server: HushProcess, maria_target: MariaDBTarget, maria_user: str
) -> None:
    sm = db_rotation.sm_client(aws_server)
    name = f"maria/{maria_user}"
    sm.create_secret(Name=name, SecretString=_credentials(maria_target, maria_user, "initial-pw"))
    assert _logs_in(maria_target, maria_user, "initial-pw")
    db_rotation.cli_rotate(aws_server, sm, name, "hush:mariadb-single-user")
    new = db_rotation.secret_json(sm, name)
    assert new["username"] == maria_user and new["password"] != "initial-pw"
    assert _logs_in(maria_target, maria_user, new["password"])
    assert not _logs_in(maria_target, maria_user, "initial-pw")
    previous = db_rotation.secret_json(sm, name, "AWSPREVIOUS")
    assert previous["password"] == "initial-pw"
    assert new["password"] not in aws_server.log_text()


def test_alternating_users_keep_previous_working_until_next_rotation(
    aws_server: HushProcess, maria_target: MariaDBTarget, maria_user: str
) -> None:
    sm = db_rotation.sm_client(aws_server)
    master = f"maria-master/{maria_user}"
    sm.create_secret(
        Name=master,
        SecretString=_credentials(maria_target, maria_target.root_user, maria_target.root_password),
    )
    name = f"maria-alt/{maria_user}"
    sm.create_secret(
        Name=name,
        SecretString=_credentials(maria_target, maria_user, "initial-pw", masterarn=master),
    )
    db_rotation.rotate(sm, name, "hush:mariadb-alternating-users")
    first = db_rotation.secret_json(sm, name)
    assert first["username"] == maria_user + "_clone"
    # The clone got the base user's SELECT grant: it reads the table.
    assert _logs_in(maria_target, maria_user + "_clone", first["password"])
    previous = db_rotation.secret_json(sm, name, "AWSPREVIOUS")
    assert _logs_in(maria_target, previous["username"], previous["password"])
    db_rotation.rotate(sm, name)
    second = db_rotation.secret_json(sm, name)
    assert second["username"] == maria_user
    assert _logs_in(maria_target, maria_user, second["password"])
    assert not _logs_in(maria_target, maria_user, "initial-pw")
    assert _logs_in(maria_target, maria_user + "_clone", first["password"])
    log = aws_server.log_text()
    assert first["password"] not in log and second["password"] not in log


def test_failing_test_step_keeps_awscurrent(
    aws_server: HushProcess, maria_target: MariaDBTarget, maria_user: str
) -> None:
    sm = db_rotation.sm_client(aws_server)
    master = f"maria-master2/{maria_user}"
    sm.create_secret(
        Name=master,
        SecretString=_credentials(maria_target, maria_target.root_user, maria_target.root_password),
    )
    name = f"maria-bad/{maria_user}"
    # The pending user logs in to a database it has no rights on: testSecret fails.
    value = _credentials(maria_target, maria_user, "initial-pw", masterarn=master)
    value = value.replace(maria_target.dbname, "mysql")
    first = sm.create_secret(Name=name, SecretString=value)["VersionId"]
    db_rotation.start_failing_rotation(aws_server, sm, name, "hush:mariadb-alternating-users")
    current = sm.get_secret_value(SecretId=name)
    assert current["VersionId"] == first
    assert orjson.loads(current["SecretString"])["password"] == "initial-pw"
    assert _logs_in(maria_target, maria_user, "initial-pw")
    rotation = db_rotation.rotation_status(aws_server, name)
    assert rotation["failures"] == 1 and rotation["last_error"].startswith("testSecret")
    assert "initial-pw" not in rotation["last_error"]
