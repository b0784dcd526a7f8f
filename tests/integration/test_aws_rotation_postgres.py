"""Rotating PostgreSQL credentials with ``aws secretsmanager rotate-secret`` and boto3.

The shared test server trusts every local login, so whether a password "works" is checked the way
PostgreSQL itself would with password authentication: against the SCRAM-SHA-256 verifier stored in
``pg_authid`` for the role.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import botocore.exceptions
import orjson
import psycopg
import pytest
from psycopg import sql

from tests.conftest import DEV_AWS_ACCESS_KEY_ID, DEV_AWS_SECRET_ACCESS_KEY
from tests.integration.test_aws_cli import _aws
from tests.support.aws import rotation_finished, secretsmanager, wait_for
from tests.support.server import HushProcess

pytestmark = pytest.mark.postgres


def password_verifies(dsn: str, role: str, password: str) -> bool:
    """Whether ``password`` matches the SCRAM-SHA-256 verifier PostgreSQL stores for ``role``."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT rolpassword FROM pg_authid WHERE rolname = %s", (role,)
        ).fetchone()
    assert row is not None and row[0], f"role {role} has no password"
    method, rest = row[0].split("$", 1)
    assert method == "SCRAM-SHA-256"
    params, keys = rest.split("$")
    iterations, salt = params.split(":")
    stored_key = base64.b64decode(keys.split(":")[0])
    salted = hashlib.pbkdf2_hmac(
        "sha256", password.encode(), base64.b64decode(salt), int(iterations)
    )
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    return hmac.compare_digest(hashlib.sha256(client_key).digest(), stored_key)


@pytest.fixture
def pg_role(pg_dsn: str) -> Iterator[str]:
    """A fresh login role (and its _clone), dropped afterwards."""
    role = f"hush_rot_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("SET password_encryption = 'scram-sha-256'")
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(role), sql.Literal("initial-pw")
            )
        )
    yield role
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        for name in (role + "_clone", role):
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


def _credentials(pg_dsn: str, username: str, password: str, **extra: str) -> str:
    parts = urlsplit(pg_dsn)
    return orjson.dumps(
        {
            "engine": "postgres",
            "host": parts.hostname or "127.0.0.1",
            "port": parts.port or 5432,
            "username": username,
            "password": password,
            "dbname": parts.path.lstrip("/") or "postgres",
            **extra,
        }
    ).decode()


def test_aws_cli_rotates_a_single_user_password(
    aws_server: HushProcess, pg_dsn: str, pg_role: str
) -> None:
    sm = secretsmanager(aws_server.url, DEV_AWS_ACCESS_KEY_ID, DEV_AWS_SECRET_ACCESS_KEY)
    name = f"pg/{pg_role}"
    sm.create_secret(Name=name, SecretString=_credentials(pg_dsn, pg_role, "initial-pw"))
    assert password_verifies(pg_dsn, pg_role, "initial-pw")
    rotated = _aws(
        aws_server,
        "secretsmanager",
        "rotate-secret",
        "--secret-id",
        name,
        "--rotation-lambda-arn",
        "hush:postgresql-single-user",
        "--rotation-rules",
        "ScheduleExpression=rate(30 days)",
    )
    assert rotated.returncode == 0, rotated.stderr
    rotation_finished(sm, name, orjson.loads(rotated.stdout)["VersionId"])
    new = orjson.loads(sm.get_secret_value(SecretId=name)["SecretString"])
    assert new["username"] == pg_role and new["password"] != "initial-pw"
    assert password_verifies(pg_dsn, pg_role, new["password"])
    assert not password_verifies(pg_dsn, pg_role, "initial-pw")
    previous = orjson.loads(
        sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")["SecretString"]
    )
    assert previous["password"] == "initial-pw"


def test_alternating_users_keep_previous_working_until_next_rotation(
    aws_server: HushProcess, pg_dsn: str, pg_role: str
) -> None:
    sm = secretsmanager(aws_server.url, DEV_AWS_ACCESS_KEY_ID, DEV_AWS_SECRET_ACCESS_KEY)
    master = f"pg-master/{pg_role}"
    sm.create_secret(Name=master, SecretString=_credentials(pg_dsn, "postgres", "unused"))
    name = f"pg-alt/{pg_role}"
    sm.create_secret(
        Name=name, SecretString=_credentials(pg_dsn, pg_role, "initial-pw", masterarn=master)
    )
    started = sm.rotate_secret(SecretId=name, RotationLambdaARN="hush:postgresql-alternating-users")
    rotation_finished(sm, name, started["VersionId"])
    first: dict[str, Any] = orjson.loads(sm.get_secret_value(SecretId=name)["SecretString"])
    assert first["username"] == pg_role + "_clone"
    assert password_verifies(pg_dsn, pg_role + "_clone", first["password"])
    assert password_verifies(pg_dsn, pg_role, "initial-pw")  # AWSPREVIOUS still works
    with psycopg.connect(pg_dsn) as conn:
        member = conn.execute(
            "SELECT pg_has_role(%s, %s, 'MEMBER')", (pg_role + "_clone", pg_role)
        ).fetchone()
    assert member == (True,)
    rotation_finished(sm, name, sm.rotate_secret(SecretId=name)["VersionId"])
    second = orjson.loads(sm.get_secret_value(SecretId=name)["SecretString"])
    assert second["username"] == pg_role
    assert password_verifies(pg_dsn, pg_role, second["password"])
    assert not password_verifies(pg_dsn, pg_role, "initial-pw")
    assert password_verifies(pg_dsn, pg_role + "_clone", first["password"])


def test_failing_test_step_keeps_awscurrent(
    aws_server: HushProcess, pg_dsn: str, pg_role: str
) -> None:
    sm = secretsmanager(aws_server.url, DEV_AWS_ACCESS_KEY_ID, DEV_AWS_SECRET_ACCESS_KEY)
    master = f"pg-master2/{pg_role}"
    sm.create_secret(Name=master, SecretString=_credentials(pg_dsn, "postgres", "unused"))
    name = f"pg-bad/{pg_role}"
    # The pending user logs in to a database that does not exist: testSecret fails.
    value = _credentials(pg_dsn, pg_role, "initial-pw", masterarn=master)
    value = value.replace('"dbname":"', '"dbname":"missing_db_')
    first = sm.create_secret(Name=name, SecretString=value)["VersionId"]
    sm.rotate_secret(SecretId=name, RotationLambdaARN="hush:postgresql-alternating-users")
    wait_for(
        lambda: aws_server.client().adapter.get(f"/v1/awssm/secrets/{name}")["data"]["rotation"][
            "failures"
        ],
        "the rotation failure",
    )
    current = sm.get_secret_value(SecretId=name)
    assert current["VersionId"] == first
    assert orjson.loads(current["SecretString"])["password"] == "initial-pw"
    rotation = aws_server.client().adapter.get(f"/v1/awssm/secrets/{name}")["data"]["rotation"]
    assert rotation["failures"] == 1 and rotation["last_error"].startswith("testSecret")
    assert "initial-pw" not in rotation["last_error"]


def test_single_user_rotation_of_a_secret_under_a_kms_key(
    aws_server: HushProcess, pg_dsn: str, pg_role: str
) -> None:
    """The rotator reads the current value (decrypted) and writes the new one under the key."""
    from tests.support.aws import client

    vault = aws_server.client()
    if "transit/" not in vault.sys.list_mounted_secrets_engines()["data"]:
        vault.sys.enable_secrets_engine("transit", path="transit")
    kms = client("kms", aws_server.url, DEV_AWS_ACCESS_KEY_ID, DEV_AWS_SECRET_ACCESS_KEY)
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    sm = secretsmanager(aws_server.url, DEV_AWS_ACCESS_KEY_ID, DEV_AWS_SECRET_ACCESS_KEY)
    name = f"pg-kms/{pg_role}"
    sm.create_secret(
        Name=name, SecretString=_credentials(pg_dsn, pg_role, "initial-pw"), KmsKeyId=key_id
    )
    started = sm.rotate_secret(SecretId=name, RotationLambdaARN="hush:postgresql-single-user")
    rotation_finished(sm, name, started["VersionId"])
    new = orjson.loads(sm.get_secret_value(SecretId=name)["SecretString"])
    assert new["password"] != "initial-pw"
    assert password_verifies(pg_dsn, pg_role, new["password"])
    kms.disable_key(KeyId=key_id)
    try:
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            sm.get_secret_value(SecretId=name)
        assert exc.value.response["Error"]["Code"] == "DecryptionFailure"
    finally:
        kms.enable_key(KeyId=key_id)
