"""Rotating MariaDB credentials with ``aws secretsmanager rotate-secret`` and boto3.

Each test gets a throwaway database and root-like user (tests/support/databases.py); the rotated
user and its ``_clone`` carry the target's prefix, so the fixture's teardown drops them. Whether a
password works is checked by really logging in to MariaDB with it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pymysql
import pytest

from tests.conftest import DEV_AWS_ACCESS_KEY_ID, DEV_AWS_SECRET_ACCESS_KEY
from tests.integration.test_aws_cli import _aws
from tests.support.aws import rotation_finished, secretsmanager, wait_for
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
    return orjson.dumps(
        {
            "engine": "mariadb",
            "host": target.host,
            "port": target.port,
            "username": username,
            "password": password,
            "dbname": target.dbname,
            **extra,
        }
    ).decode()


def test_aws_cli_rotates_a_single_user_password(
    aws_server: HushProcess, maria_target: MariaDBTarget, maria_user: str
) -> None:
    sm = secretsmanager(aws_server.url, DEV_AWS_ACCESS_KEY_ID, DEV_AWS_SECRET_ACCESS_KEY)
    name = f"maria/{maria_user}"
    sm.create_secret(Name=name, SecretString=_credentials(maria_target, maria_user, "initial-pw"))
    assert _logs_in(maria_target, maria_user, "initial-pw")
    rotated = _aws(
        aws_server,
        "secretsmanager",
        "rotate-secret",
        "--secret-id",
        name,
        "--rotation-lambda-arn",
        "hush:mariadb-single-user",
        "--rotation-rules",
        "ScheduleExpression=rate(30 days)",
    )
    assert rotated.returncode == 0, rotated.stderr
    rotation_finished(sm, name, orjson.loads(rotated.stdout)["VersionId"])
    new = orjson.loads(sm.get_secret_value(SecretId=name)["SecretString"])
    assert new["username"] == maria_user and new["password"] != "initial-pw"
    assert _logs_in(maria_target, maria_user, new["password"])
    assert not _logs_in(maria_target, maria_user, "initial-pw")
    previous = orjson.loads(
        sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")["SecretString"]
    )
    assert previous["password"] == "initial-pw"
    assert new["password"] not in aws_server.log_text()


def test_alternating_users_keep_previous_working_until_next_rotation(
    aws_server: HushProcess, maria_target: MariaDBTarget, maria_user: str
) -> None:
    sm = secretsmanager(aws_server.url, DEV_AWS_ACCESS_KEY_ID, DEV_AWS_SECRET_ACCESS_KEY)
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
    started = sm.rotate_secret(SecretId=name, RotationLambdaARN="hush:mariadb-alternating-users")
    rotation_finished(sm, name, started["VersionId"])
    first: dict[str, Any] = orjson.loads(sm.get_secret_value(SecretId=name)["SecretString"])
    assert first["username"] == maria_user + "_clone"
    # The clone got the base user's SELECT grant: it reads the table.
    assert _logs_in(maria_target, maria_user + "_clone", first["password"])
    previous = orjson.loads(
        sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")["SecretString"]
    )
    assert _logs_in(maria_target, previous["username"], previous["password"])
    rotation_finished(sm, name, sm.rotate_secret(SecretId=name)["VersionId"])
    second = orjson.loads(sm.get_secret_value(SecretId=name)["SecretString"])
    assert second["username"] == maria_user
    assert _logs_in(maria_target, maria_user, second["password"])
    assert not _logs_in(maria_target, maria_user, "initial-pw")
    assert _logs_in(maria_target, maria_user + "_clone", first["password"])
    log = aws_server.log_text()
    assert first["password"] not in log and second["password"] not in log


def test_failing_test_step_keeps_awscurrent(
    aws_server: HushProcess, maria_target: MariaDBTarget, maria_user: str
) -> None:
    sm = secretsmanager(aws_server.url, DEV_AWS_ACCESS_KEY_ID, DEV_AWS_SECRET_ACCESS_KEY)
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
    sm.rotate_secret(SecretId=name, RotationLambdaARN="hush:mariadb-alternating-users")
    wait_for(
        lambda: aws_server.client().adapter.get(f"/v1/awssm/secrets/{name}")["data"]["rotation"][
            "failures"
        ],
        "the rotation failure",
    )
    current = sm.get_secret_value(SecretId=name)
    assert current["VersionId"] == first
    assert orjson.loads(current["SecretString"])["password"] == "initial-pw"
    assert _logs_in(maria_target, maria_user, "initial-pw")
    rotation = aws_server.client().adapter.get(f"/v1/awssm/secrets/{name}")["data"]["rotation"]
    assert rotation["failures"] == 1 and rotation["last_error"].startswith("testSecret")
    assert "initial-pw" not in rotation["last_error"]
