"""Rotating PostgreSQL credentials with ``aws secretsmanager rotate-secret`` and boto3.

The shared test server trusts every local login, so whether a password "works" is checked the way
PostgreSQL itself would with password authentication: against the SCRAM-SHA-256 verifier stored in
``pg_authid`` for the role.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import botocore.exceptions
import orjson
import psycopg
import pytest
from psycopg import sql

from tests.conftest import DEV_AWS_ACCESS_KEY_ID, DEV_AWS_SECRET_ACCESS_KEY
from tests.support import db_rotation
from tests.support.databases import verifier_matches
from tests.support.server import HushProcess

pytestmark = pytest.mark.postgres


def password_verifies(dsn: str, role: str, password: str) -> bool:
    """Whether ``password`` matches the SCRAM-SHA-256 verifier PostgreSQL stores for ``role``."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT rolpassword FROM pg_authid WHERE rolname = %s", (role,)
        ).fetchone()
    assert row is not None and row[0], f"role {role} has no password"
    assert row[0].split("$", 1)[0] == "SCRAM-SHA-256"
    return verifier_matches(row[0], role, password)


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
    host, port, dbname = parts.hostname or "127.0.0.1", parts.port or 5432, parts.path.lstrip("/")
    return db_rotation.credentials_json(
        "postgres", host, port, dbname or "postgres", username, password, **extra
    )


def test_aws_cli_rotates_a_single_user_password(
    aws_server: HushProcess, pg_dsn: str, pg_role: str
) -> None:
    sm = db_rotation.sm_client(aws_server)
    name = f"pg/{pg_role}"
    sm.create_secret(Name=name, SecretString=_credentials(pg_dsn, pg_role, "initial-pw"))
    assert password_verifies(pg_dsn, pg_role, "initial-pw")
    db_rotation.cli_rotate(aws_server, sm, name, "hush:postgresql-single-user")
    new = db_rotation.secret_json(sm, name)
    assert new["username"] == pg_role and new["password"] != "initial-pw"
    assert password_verifies(pg_dsn, pg_role, new["password"])
    assert not password_verifies(pg_dsn, pg_role, "initial-pw")
    previous = db_rotation.secret_json(sm, name, "AWSPREVIOUS")
    assert previous["password"] == "initial-pw"


def test_alternating_users_keep_previous_working_until_next_rotation(
    aws_server: HushProcess, pg_dsn: str, pg_role: str
) -> None:
    sm = db_rotation.sm_client(aws_server)
    master = f"pg-master/{pg_role}"
    sm.create_secret(Name=master, SecretString=_credentials(pg_dsn, "postgres", "unused"))
    name = f"pg-alt/{pg_role}"
    sm.create_secret(
        Name=name, SecretString=_credentials(pg_dsn, pg_role, "initial-pw", masterarn=master)
    )
    db_rotation.rotate(sm, name, "hush:postgresql-alternating-users")
    first = db_rotation.secret_json(sm, name)
    assert first["username"] == pg_role + "_clone"
    assert password_verifies(pg_dsn, pg_role + "_clone", first["password"])
    assert password_verifies(pg_dsn, pg_role, "initial-pw")  # AWSPREVIOUS still works
    with psycopg.connect(pg_dsn) as conn:
        member = conn.execute(
            "SELECT pg_has_role(%s, %s, 'MEMBER')", (pg_role + "_clone", pg_role)
        ).fetchone()
    assert member == (True,)
    db_rotation.rotate(sm, name)
    second = db_rotation.secret_json(sm, name)
    assert second["username"] == pg_role
    assert password_verifies(pg_dsn, pg_role, second["password"])
    assert not password_verifies(pg_dsn, pg_role, "initial-pw")
    assert password_verifies(pg_dsn, pg_role + "_clone", first["password"])


def test_failing_test_step_keeps_awscurrent(
    aws_server: HushProcess, pg_dsn: str, pg_role: str
) -> None:
    sm = db_rotation.sm_client(aws_server)
    master = f"pg-master2/{pg_role}"
    sm.create_secret(Name=master, SecretString=_credentials(pg_dsn, "postgres", "unused"))
    name = f"pg-bad/{pg_role}"
    # The pending user logs in to a database that does not exist: testSecret fails.
    value = _credentials(pg_dsn, pg_role, "initial-pw", masterarn=master)
    value = value.replace('"dbname":"', '"dbname":"missing_db_')
    first = sm.create_secret(Name=name, SecretString=value)["VersionId"]
    db_rotation.start_failing_rotation(aws_server, sm, name, "hush:postgresql-alternating-users")
    current = sm.get_secret_value(SecretId=name)
    assert current["VersionId"] == first
    assert orjson.loads(current["SecretString"])["password"] == "initial-pw"
    rotation = db_rotation.rotation_status(aws_server, name)
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
    sm = db_rotation.sm_client(aws_server)
    name = f"pg-kms/{pg_role}"
    sm.create_secret(
        Name=name, SecretString=_credentials(pg_dsn, pg_role, "initial-pw"), KmsKeyId=key_id
    )
    db_rotation.rotate(sm, name, "hush:postgresql-single-user")
    new = db_rotation.secret_json(sm, name)
    assert new["password"] != "initial-pw"
    assert password_verifies(pg_dsn, pg_role, new["password"])
    kms.disable_key(KeyId=key_id)
    try:
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            sm.get_secret_value(SecretId=name)
        assert exc.value.response["Error"]["Code"] == "DecryptionFailure"
    finally:
        kms.enable_key(KeyId=key_id)
