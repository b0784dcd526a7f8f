"""The ``aws`` CLI (subprocess) against Hush: a three-level hierarchy of SecureStrings read back
with ``get-parameters-by-path --recursive --with-decryption``, paged by the CLI's paginator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import DEV_AWS_ACCESS_KEY_ID, DEV_AWS_SECRET_ACCESS_KEY
from tests.support.aws import client
from tests.support.server import HushProcess

AWS = str(Path(sys.executable).with_name("aws"))


@pytest.fixture(scope="module")
def server(aws_server: HushProcess) -> HushProcess:
    aws_server.client().sys.enable_secrets_engine("transit", path="transit")
    return aws_server


def aws(server: HushProcess, *args: str) -> Any:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": DEV_AWS_ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": DEV_AWS_SECRET_ACCESS_KEY,
        "AWS_DEFAULT_REGION": "us-east-1",
        # No profile of the machine's user leaks in (files that do not exist).
        "AWS_CONFIG_FILE": str(server.workdir / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(server.workdir / "no-aws-credentials"),
    }
    done = subprocess.run(
        [AWS, "--endpoint-url", server.url, "--output", "json", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else None


def test_get_parameters_by_path_recursive_with_decryption(server: HushProcess) -> None:
    root = f"/cli{uuid.uuid4().hex[:6]}"
    expected = {
        f"{root}/app/db/password": "pw-1",
        f"{root}/app/db/user": "user-1",
        f"{root}/app/api/token": "tok-1",
        f"{root}/app/api/v2/token": "tok-2",
        f"{root}/app/name": "name-1",
    }
    ssm = client("ssm", server.url, DEV_AWS_ACCESS_KEY_ID, DEV_AWS_SECRET_ACCESS_KEY)
    for name, value in expected.items():
        ssm.put_parameter(Name=name, Value=value, Type="SecureString")
    everything = aws(
        server,
        "ssm",
        "get-parameters-by-path",
        "--path",
        f"{root}/app",
        "--recursive",
        "--with-decryption",
        "--page-size",
        "2",
    )
    got = {p["Name"]: (p["Value"], p["Type"]) for p in everything["Parameters"]}
    assert got == {name: (value, "SecureString") for name, value in expected.items()}

    first = aws(
        server,
        "ssm",
        "get-parameters-by-path",
        "--path",
        f"{root}/app",
        "--recursive",
        "--with-decryption",
        "--page-size",
        "2",
        "--max-items",
        "3",
    )
    assert len(first["Parameters"]) == 3 and first["NextToken"]
    rest = aws(
        server,
        "ssm",
        "get-parameters-by-path",
        "--path",
        f"{root}/app",
        "--recursive",
        "--with-decryption",
        "--page-size",
        "2",
        "--starting-token",
        first["NextToken"],
    )
    names = [p["Name"] for p in first["Parameters"] + rest["Parameters"]]
    assert sorted(names) == sorted(expected) and len(names) == len(set(names))

    one_level = aws(server, "ssm", "get-parameters-by-path", "--path", f"{root}/app")
    assert [p["Name"] for p in one_level["Parameters"]] == [f"{root}/app/name"]
    assert one_level["Parameters"][0]["Value"] != "name-1"  # not decrypted
