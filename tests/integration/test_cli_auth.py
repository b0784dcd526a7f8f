"""``hush auth``, ``hush login -method=...``, ``hush unwrap`` and ``-wrap-ttl`` as subprocesses.

Each command runs with a clean environment and ``HOME`` in a temporary directory (see
:class:`tests.integration.test_cli.HushCLI`).
"""

from __future__ import annotations

import os
import pty
import select
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import DEV_ROOT_TOKEN
from tests.integration.test_cli import HushCLI
from tests.support.server import HushProcess


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def root(dev_server: HushProcess, home: Path) -> HushCLI:
    return HushCLI(dev_server.url, home, DEV_ROOT_TOKEN)


def _userpass(root: HushCLI, user: str = "alice", password: str = "pw-alice") -> str:
    path = f"up-{uuid.uuid4().hex[:8]}"
    root.ok("auth", "enable", f"-path={path}", "userpass")
    root.ok("write", f"auth/{path}/users/{user}", f"password={password}", "policies=dev")
    return path


def test_auth_enable_list_tune_help_disable(root: HushCLI) -> None:
    path = f"people-{uuid.uuid4().hex[:8]}"
    enabled = root.ok("auth", "enable", f"-path={path}", "-description=staff", "userpass")
    assert enabled == f"Success! Enabled userpass auth method at: {path}/\n"
    listing = root.json("auth", "list")
    assert listing[f"{path}/"]["type"] == "userpass" and listing["token/"]["type"] == "token"
    accessor = listing[f"{path}/"]["accessor"]
    assert accessor.startswith("auth_userpass_")
    table = root.ok("auth", "list")
    assert table.splitlines()[0].split() == ["Path", "Type", "Accessor", "Description"]
    assert any(
        line.split()[:3] == [f"{path}/", "userpass", accessor] for line in table.splitlines()
    )
    assert "Token Type" in root.ok("auth", "list", "-detailed")

    tuned = root.ok("auth", "tune", "-default-lease-ttl=30m", "-token-type=batch", path)
    assert tuned == f"Success! Tuned the auth method at: {path}/\n"
    tune = root.json("read", f"sys/auth/{path}/tune")["data"]
    assert tune["default_lease_ttl"] == 1800 and tune["token_type"] == "batch"

    assert "username=NAME" in root.ok("auth", "help", "userpass")
    assert "username=NAME" in root.ok("auth", "help", path)
    assert "role_id=ID" in root.ok("auth", "help", "approle")
    unknown = root("auth", "help", "nothing-here")
    assert unknown.returncode == 1 and "No auth method" in unknown.stderr

    bad = root("auth", "enable", "-path=sys-x", "no-such-method")
    assert bad.returncode == 2 and "unknown" in bad.stderr
    gone = root.ok("auth", "disable", path)
    assert gone == f"Success! Disabled the auth method (if it existed) at: {path}/\n"
    assert f"{path}/" not in root.json("auth", "list")


def test_login_userpass_stores_token_and_disable_revokes_it(root: HushCLI) -> None:
    path = _userpass(root)
    anonymous = HushCLI(root.address, root.home)
    shown = anonymous.ok(
        "login",
        "-method=userpass",
        f"-path={path}",
        "username=alice",
        "password=pw-alice",
    )
    assert shown.startswith("Success! You are now authenticated.")
    assert ["token_policies", '["default"', '"dev"]'] in [
        line.split() for line in shown.splitlines()
    ]
    assert "pw-alice" not in shown
    stored = (root.home / ".hush-token").read_text()
    assert stored.startswith("hss.")
    me = anonymous.json("token", "lookup")["data"]
    assert me["path"] == f"auth/{path}/login/alice" and me["entity_id"]

    # The password from standard input; a wrong one is refused without echoing it.
    token = anonymous.ok(
        "login",
        "-method=userpass",
        f"-path={path}",
        "-token-only",
        "username=alice",
        "password=-",
        stdin="pw-alice\n",
    )
    assert token.startswith("hss.") and token != stored
    wrong = anonymous(
        "login", "-method=userpass", f"-path={path}", "username=alice", "password=nope1"
    )
    assert wrong.returncode == 2 and "invalid username or password" in wrong.stderr
    assert "nope1" not in wrong.stderr + wrong.stdout
    no_password = anonymous("login", "-method=userpass", f"-path={path}", "username=alice")
    assert no_password.returncode == 1 and "no password given" in no_password.stderr

    root.ok("auth", "disable", path)
    refused = anonymous("token", "lookup")
    assert refused.returncode == 2 and "permission denied" in refused.stderr


def test_login_userpass_prompts_for_the_password_on_a_terminal(root: HushCLI) -> None:
    path = _userpass(root, "bob", "pw-bob")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUSH_", "VAULT_"))}
    env.update(HOME=str(root.home), HUSH_ADDR=root.address)
    args = [sys.executable, "-m", "hush.cli.main", "login", "-method=userpass", f"-path={path}"]
    pid, fd = pty.fork()
    if pid == 0:  # the child: the CLI with a terminal as its controlling tty
        os.execve(sys.executable, [*args, "-format=json", "username=bob"], env)
    output = b""
    deadline = time.monotonic() + 30
    sent = False
    status = 0
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                chunk = b""
            if not chunk:
                break
            output += chunk
            if not sent and b"Password (will be hidden)" in output:
                os.write(fd, b"pw-bob\n")
                sent = True
    _, status = os.waitpid(pid, 0)
    assert sent, output
    assert os.waitstatus_to_exitcode(status) == 0, output
    assert b"pw-bob" not in output  # hidden input is not echoed
    assert (root.home / ".hush-token").read_text().startswith("hss.")


def test_login_approle(root: HushCLI) -> None:
    path = f"ar-{uuid.uuid4().hex[:8]}"
    root.ok("auth", "enable", f"-path={path}", "approle")
    root.ok("write", f"auth/{path}/role/ci", "token_policies=ci")
    role_id = root.ok("read", "-field=role_id", f"auth/{path}/role/ci/role-id")
    secret_id = root.ok("write", "-f", "-field=secret_id", f"auth/{path}/role/ci/secret-id")
    anonymous = HushCLI(root.address, root.home)
    auth = anonymous.json(
        "login", "-method=approle", f"-path={path}", f"role_id={role_id}", f"secret_id={secret_id}"
    )["auth"]
    assert auth["token_policies"] == ["ci", "default"] and auth["entity_id"]
    missing = anonymous("login", "-method=approle", f"-path={path}")
    assert missing.returncode == 1 and "'role_id' must be specified" in missing.stderr
    unknown = anonymous("login", "-method=kerberos", "x=y")
    assert unknown.returncode == 1 and "Unknown login method" in unknown.stderr


def test_login_jwt_refuses_a_malformed_token(root: HushCLI) -> None:
    path = f"jwt-{uuid.uuid4().hex[:8]}"
    root.ok("auth", "enable", f"-path={path}", "jwt")
    anonymous = HushCLI(root.address, root.home)
    refused = anonymous("login", "-method=jwt", f"-path={path}", "role=x", "jwt=not.a.jwt")
    assert refused.returncode == 2 and "not.a.jwt" not in refused.stderr
    missing = anonymous("login", "-method=jwt", f"-path={path}", "role=x")
    assert missing.returncode == 1 and "'jwt' must be specified" in missing.stderr


def test_wrap_ttl_and_unwrap_once(root: HushCLI) -> None:
    root.ok("write", "secret/cli-wrap", "answer=wrapped-canary-7f3a")
    table = root.ok("read", "-wrap-ttl=5m", "secret/cli-wrap")
    rows = [line.split() for line in table.splitlines()]
    assert ["wrapping_token_ttl:", "5m"] in rows and any(r[0] == "wrapping_token:" for r in rows)
    assert "wrapped-canary-7f3a" not in table
    token = root.ok("read", "-wrap-ttl=5m", "-field=wrapping_token", "secret/cli-wrap")
    assert token and "\n" not in token

    anonymous = HushCLI(root.address, root.home)
    assert anonymous.json("unwrap", token)["data"] == {"answer": "wrapped-canary-7f3a"}
    again = anonymous("unwrap", token)
    assert again.returncode == 2

    # With a token of our own, the wrapping token goes in the body; -wrap-ttl on write too.
    wrapped = root.json("write", "-wrap-ttl=2m", "auth/token/create", "policies=default")
    assert wrapped["wrap_info"]["creation_path"] == "auth/token/create"
    unwrapped = root.json("unwrap", wrapped["wrap_info"]["token"])
    assert unwrapped["auth"]["client_token"].startswith("hss.")
    bad = root("read", "-wrap-ttl=soon", "secret/cli-wrap")
    assert bad.returncode != 0 and "soon" in bad.stderr


def test_identity_through_generic_commands(root: HushCLI) -> None:
    name = f"cli-ent-{uuid.uuid4().hex[:6]}"
    created = root.json("write", "identity/entity", f"name={name}", "policies=ops")["data"]
    read = root.json("read", f"identity/entity/name/{name}")["data"]
    assert read["id"] == created["id"] and read["policies"] == ["ops"]
    assert created["id"] in root.json("list", "identity/entity/id")
    group = root.json(
        "write", "identity/group", f"name={name}-g", f"member_entity_ids={created['id']}"
    )["data"]
    assert root.json("read", f"identity/group/id/{group['id']}")["data"]["member_entity_ids"] == [
        created["id"]
    ]
    refused = root("write", "identity/group", f"name={name}-r", "policies=root")
    assert refused.returncode == 2 and "policies cannot contain root" in refused.stderr
    assert root.ok("delete", f"identity/entity/id/{created['id']}").startswith("Success!")
