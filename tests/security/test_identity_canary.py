"""Passwords and tokens of logins never reach identity records, storage, logs or audit in clear.

A login now writes identity records (entity, alias with the login's metadata) and a token path
index; the CLI login carries passwords. Canary passwords go through every one of those paths,
then the SQLite files, the server's output and the audit file are searched for them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import hvac
import hvac.exceptions
import pytest

from tests.conftest import ServerFactory
from tests.security.test_canary import _assert_absent, _sqlite_dump


def _canary() -> str:
    return f"canary-{uuid.uuid4().hex}"


def test_login_canaries_stay_out_of_storage_logs_and_audit(
    sealed_server: ServerFactory, tmp_path: Path
) -> None:
    server = sealed_server("sqlite")
    init = server.client().sys.initialize(secret_shares=1, secret_threshold=1)
    root = server.client(init["root_token"])
    root.sys.submit_unseal_keys(init["keys"])
    audit_file = tmp_path / "audit.log"
    root.sys.enable_audit_device("file", options={"file_path": str(audit_file)})
    root.sys.enable_auth_method("userpass")
    password, wrong, cli_password = _canary(), _canary(), _canary()
    root.auth.userpass.create_or_update_user("carol", password=password, policies=["dev"])
    root.auth.userpass.create_or_update_user("dave", password=cli_password)

    anonymous = hvac.Client(url=server.url, verify=server.verify)
    login = anonymous.auth.userpass.login("carol", password, use_token=False)["auth"]
    with pytest.raises(hvac.exceptions.InvalidRequest):
        anonymous.auth.userpass.login("carol", wrong)
    entity = root.secrets.identity.read_entity(login["entity_id"])["data"]
    assert entity["aliases"][0]["metadata"] == {"username": "carol"}

    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUSH_", "VAULT_"))}
    env.update(HOME=str(home), HUSH_ADDR=server.url)
    command = ["login", "-method=userpass", "username=dave", "password=-"]
    result = subprocess.run(
        [sys.executable, "-m", "hush.cli.main", *command],
        input=cli_password + "\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert cli_password not in result.stdout + result.stderr
    cli_token = (home / ".hush-token").read_text()

    secrets = {
        "password": password.encode(),
        "wrong password": wrong.encode(),
        "cli password": cli_password.encode(),
        "login token": login["client_token"].encode(),
        "cli token": cli_token.encode(),
    }
    stored = _sqlite_dump(server.workdir)()
    _assert_absent(stored, secrets, "storage")
    _assert_absent(server.log_text().encode(), secrets, "server output")
    _assert_absent(audit_file.read_bytes(), secrets, "the audit file")
