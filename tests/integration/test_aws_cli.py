"""The ``aws`` CLI (PyPI awscli) works against Hush with ``--endpoint-url`` and the dev key pair."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

from tests.conftest import DEV_AWS_ACCESS_KEY_ID, DEV_AWS_SECRET_ACCESS_KEY
from tests.support.aws import rotation_finished, secretsmanager
from tests.support.server import HushProcess

AWS = str(Path(sys.executable).parent / "aws")


def _aws(server: HushProcess, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(server.workdir),
        "AWS_ACCESS_KEY_ID": DEV_AWS_ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": DEV_AWS_SECRET_ACCESS_KEY,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(server.workdir / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(server.workdir / "no-aws-credentials"),
    }
    return subprocess.run(
        [AWS, "--endpoint-url", server.url, "--output", "json", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_aws_cli_create_get_list_and_rotate(aws_server: HushProcess) -> None:
    name = f"cli/{uuid.uuid4().hex[:8]}"
    created = _aws(
        aws_server, "secretsmanager", "create-secret", "--name", name, "--secret-string", "s1"
    )
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["Name"] == name
    got = _aws(aws_server, "secretsmanager", "get-secret-value", "--secret-id", name)
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout)["SecretString"] == "s1"
    listed = _aws(
        aws_server, "secretsmanager", "list-secrets", "--filters", f"Key=name,Values={name}"
    )
    assert [s["Name"] for s in json.loads(listed.stdout)["SecretList"]] == [name]
    rotated = _aws(aws_server, "secretsmanager", "rotate-secret", "--secret-id", name)
    assert rotated.returncode == 0, rotated.stderr
    sm = secretsmanager(aws_server.url, DEV_AWS_ACCESS_KEY_ID, DEV_AWS_SECRET_ACCESS_KEY)
    rotation_finished(sm, name, json.loads(rotated.stdout)["VersionId"])
    after = json.loads(
        _aws(aws_server, "secretsmanager", "get-secret-value", "--secret-id", name).stdout
    )
    assert after["SecretString"] != "s1"
    assert after["VersionId"] == json.loads(rotated.stdout)["VersionId"]


def test_aws_cli_reports_aws_error_types(aws_server: HushProcess) -> None:
    missing = _aws(aws_server, "secretsmanager", "get-secret-value", "--secret-id", "nope-cli")
    assert missing.returncode != 0
    assert "ResourceNotFoundException" in missing.stderr
