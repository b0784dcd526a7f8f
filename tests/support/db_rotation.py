"""Running the built-in database rotators through Hush's Secrets Manager API, for their tests.

The PostgreSQL and MariaDB rotation tests store the same credentials JSON and drive rotations the
same way; how a test checks a password against its database stays in its own file.
"""

from __future__ import annotations

from typing import Any

import orjson

from tests.conftest import DEV_AWS_ACCESS_KEY_ID, DEV_AWS_SECRET_ACCESS_KEY
from tests.integration.test_aws_cli import _aws
from tests.support.aws import rotation_finished, secretsmanager, wait_for
from tests.support.server import HushProcess

__all__ = [
    "cli_rotate",
    "credentials_json",
    "rotate",
    "rotation_status",
    "secret_json",
    "sm_client",
    "start_failing_rotation",
]


def sm_client(server: HushProcess) -> Any:
    """A boto3 Secrets Manager client on ``server`` with the dev AWS key pair."""
    return secretsmanager(server.url, DEV_AWS_ACCESS_KEY_ID, DEV_AWS_SECRET_ACCESS_KEY)


def credentials_json(
    engine: str, host: str, port: int, dbname: str, username: str, password: str, **extra: str
) -> str:
    """The SecretString AWS's rotation templates use for database credentials (keys in order)."""
    return orjson.dumps(
        {
            "engine": engine,
            "host": host,
            "port": port,
            "username": username,
            "password": password,
            "dbname": dbname,
            **extra,
        }
    ).decode()


def secret_json(sm: Any, name: str, stage: str | None = None) -> dict[str, Any]:
    """The parsed SecretString of ``name`` (its version in ``stage``; AWSCURRENT if not given)."""
    staged = {"VersionStage": stage} if stage else {}
    parsed: dict[str, Any] = orjson.loads(
        sm.get_secret_value(SecretId=name, **staged)["SecretString"]
    )
    return parsed


def cli_rotate(server: HushProcess, sm: Any, name: str, rotator: str) -> None:
    """``aws secretsmanager rotate-secret`` with ``rotator`` every 30 days; wait until done."""
    rotated = _aws(
        server,
        "secretsmanager",
        "rotate-secret",
        "--secret-id",
        name,
        "--rotation-lambda-arn",
        rotator,
        "--rotation-rules",
        "ScheduleExpression=rate(30 days)",
    )
    assert rotated.returncode == 0, rotated.stderr
    rotation_finished(sm, name, orjson.loads(rotated.stdout)["VersionId"])


def rotate(sm: Any, name: str, rotator: str | None = None) -> None:
    """RotateSecret (naming ``rotator`` if given) and wait until the new version is AWSCURRENT."""
    named = {"RotationLambdaARN": rotator} if rotator else {}
    rotation_finished(sm, name, sm.rotate_secret(SecretId=name, **named)["VersionId"])


def rotation_status(server: HushProcess, name: str) -> dict[str, Any]:
    """The ``rotation`` part of what Hush's own API says about secret ``name``."""
    status: dict[str, Any] = server.client().adapter.get(f"/v1/awssm/secrets/{name}")["data"][
        "rotation"
    ]
    return status


def start_failing_rotation(server: HushProcess, sm: Any, name: str, rotator: str) -> None:
    """RotateSecret with ``rotator`` and wait until Hush counts a failed rotation attempt."""
    sm.rotate_secret(SecretId=name, RotationLambdaARN=rotator)
    wait_for(lambda: rotation_status(server, name)["failures"], "the rotation failure")
