"""The ``hush`` CLI for tokens, policies, mounts and KV v1/v2, against a real dev server.

Commands run as subprocesses with a clean environment and ``HOME`` in a temporary directory
(see :class:`tests.integration.test_cli.HushCLI`). Each test mounts its own engines, so none
depends on the version of the dev server's ``secret/`` mount.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from tests.conftest import DEV_ROOT_TOKEN
from tests.integration.test_cli import HushCLI
from tests.support.server import HushProcess


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An empty home directory: no token helper file until a test writes one."""
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def root(dev_server: HushProcess, home: Path) -> HushCLI:
    """The CLI with the dev server's root token in ``HUSH_TOKEN``."""
    return HushCLI(dev_server.url, home, DEV_ROOT_TOKEN)


def _reader_token(root: HushCLI, policy: str, body: str) -> str:
    root.ok("policy", "write", policy, "-", stdin=body)
    return root.ok("token", "create", f"-policy={policy}", "-ttl=1h", "-field=token")


# --- login and the token helper ---------------------------------------------------------------


def test_login_stores_token_0600_and_later_commands_use_it(root: HushCLI) -> None:
    anonymous = HushCLI(root.address, root.home)
    shown = anonymous.ok("login", DEV_ROOT_TOKEN)
    assert shown.startswith("Success! You are now authenticated.")
    assert "token                root" in shown and 'policies             ["root"]' in shown
    helper = root.home / ".hush-token"
    assert helper.read_text() == DEV_ROOT_TOKEN
    assert stat.S_IMODE(helper.stat().st_mode) == 0o600
    assert anonymous.json("token", "lookup")["data"]["policies"] == ["root"]

    assert anonymous.ok("login", "-no-print", "-", stdin=DEV_ROOT_TOKEN + "\n") == ""
    bad = anonymous("login", "not-a-token")
    assert bad.returncode == 2 and "permission denied" in bad.stderr
    assert "not-a-token" not in bad.stderr and helper.read_text() == DEV_ROOT_TOKEN
    other = anonymous("login", "-method=userpass")
    assert other.returncode == 1 and "'username' must be specified" in other.stderr
    assert anonymous("login").returncode == 1  # no token and stdin is not a terminal


# --- tokens -----------------------------------------------------------------------------------


def test_token_create_lookup_renew_capabilities_revoke(root: HushCLI) -> None:
    policy = 'path "tok-kv/*" { capabilities = ["read", "list"] }'
    token = _reader_token(root, "tok-reader", policy)
    assert token.startswith("hss.")
    assert root.ok("token", "capabilities", token, "tok-kv/app") == "list, read\n"
    assert root.json("token", "capabilities", token, "sys/mounts") == ["deny"]
    reader = HushCLI(root.address, root.home, token)
    assert reader.ok("token", "capabilities", "tok-kv/x") == "list, read\n"

    info = root.json("token", "lookup", token)["data"]
    assert sorted(info["policies"]) == ["default", "tok-reader"] and 0 < info["ttl"] <= 3600
    by_accessor = root.json("token", "lookup", "-accessor", info["accessor"])["data"]
    assert by_accessor["display_name"] == info["display_name"]
    renewed = root.json("token", "renew", "-increment=30m", token)["auth"]
    assert renewed["lease_duration"] == 1800

    created = root.json(
        "token",
        "create",
        "-policy=a,b",
        "-metadata",
        "team=ops",
        "-display-name=ci",
        "-use-limit=5",
        "-renewable=false",
        "-no-default-policy",
        "-orphan",
    )["auth"]
    assert created["policies"] == ["a", "b"] and created["renewable"] is False
    assert created["metadata"] == {"team": "ops"} and created["orphan"] is True
    table = root.ok("token", "create", "-policy=a", "-period=1h")
    assert 'token_policies       ["a" "default"]' in table and "token_duration       1h" in table

    assert root.ok("token", "revoke", token) == "Success! Revoked token (if it existed)\n"
    gone = root("token", "lookup", token)
    assert gone.returncode == 2 and "bad token" in gone.stderr
    assert root.ok("token", "revoke", "-accessor", created["accessor"]).startswith("Success!")
    assert root("token", "lookup", created["client_token"]).returncode == 2
    assert root("token", "revoke", "-self", "x").returncode == 1
    assert root("token", "revoke", "-mode=everything", "x").returncode == 1


# --- policies ---------------------------------------------------------------------------------


def test_policy_write_read_list_delete(root: HushCLI, tmp_path: Path) -> None:
    source = tmp_path / "ops.hcl"
    source.write_text('path "ops/*" {\n  capabilities = ["read"]\n}\n')
    assert root.ok("policy", "write", "Ops", str(source)) == "Success! Uploaded policy: ops\n"
    assert root.ok("policy", "read", "ops") == source.read_text()
    assert root.json("policy", "read", "ops") == {"policy": source.read_text()}
    assert "ops" in root.ok("policy", "list").splitlines()
    assert "ops" in root.json("policy", "list")

    invalid = root("policy", "write", "broken", "-", stdin='path "x" { capabilities = ["reed"] }')
    assert invalid.returncode == 2 and 'unknown capability "reed"' in invalid.stderr

    assert root.ok("policy", "delete", "ops") == "Success! Deleted policy: ops\n"
    assert "ops" not in root.json("policy", "list")
    missing = root("policy", "read", "ops")
    assert (missing.returncode, missing.stderr) == (2, "No policy named: ops\n")


def test_policy_fmt_rewrites_canonically_and_refuses_invalid(root: HushCLI, tmp_path: Path) -> None:
    messy = tmp_path / "messy.hcl"
    messy.write_text(
        '# who may read\npath "secret/*"   {\n capabilities=["read","list"]  # inline\n'
        'comment = "ops"\n}\npath "sys/x" { policy="read"\n required_parameters=["a"] }\n'
    )
    assert root.ok("policy", "fmt", str(messy)) == f"Success! Formatted policy: {messy}\n"
    formatted = (
        '# who may read\n\npath "secret/*" {\n  # inline\n  capabilities = ["read", "list"]\n'
        '  comment      = "ops"\n}\n\npath "sys/x" {\n  policy              = "read"\n'
        '  required_parameters = ["a"]\n}\n'
    )
    assert messy.read_text() == formatted
    root.ok("policy", "fmt", str(messy))
    assert messy.read_text() == formatted  # formatting is idempotent

    bad = tmp_path / "bad.hcl"
    bad.write_text('path "a" {\n  capabilities = ["read"\n}\n')
    result = root("policy", "fmt", str(bad))
    assert result.returncode == 2 and "line 3, column 1" in result.stderr, result.stderr
    assert bad.read_text() == 'path "a" {\n  capabilities = ["read"\n}\n'


# --- secrets engines --------------------------------------------------------------------------


def test_secrets_enable_list_tune_disable(root: HushCLI) -> None:
    enabled = root.ok("secrets", "enable", "-path=apps", "-description=app kv", "-version=2", "kv")
    assert enabled == "Success! Enabled the kv secrets engine at: apps/\n"
    mount = root.json("secrets", "list")["apps/"]
    assert (mount["type"], mount["options"], mount["description"]) == (
        "kv",
        {"version": "2"},
        "app kv",
    )
    rows = root.ok("secrets", "list").splitlines()
    assert rows[0].split() == ["Path", "Type", "Accessor", "Description"]
    assert any(row.startswith("apps/") and row.endswith("app kv") for row in rows)

    tuned = root.ok(
        "secrets",
        "tune",
        "-default-lease-ttl=1h",
        "-max-lease-ttl=2h",
        "-description=tuned",
        "apps",
    )
    assert tuned == "Success! Tuned the secrets engine at: apps/\n"
    tune = root.json("read", "sys/mounts/apps/tune")["data"]
    assert (tune["default_lease_ttl"], tune["max_lease_ttl"], tune["description"]) == (
        3600,
        7200,
        "tuned",
    )
    detailed = root.ok("secrets", "list", "-detailed")
    assert "Default TTL" in detailed and any(
        row.split()[:5] == ["apps/", "kv", mount["accessor"], "1h", "2h"]
        for row in detailed.splitlines()
    )
    bad_ttl = root("secrets", "tune", "-default-lease-ttl=soon", "apps")
    assert bad_ttl.returncode == 1 and "soon" in bad_ttl.stderr

    disabled = root.ok("secrets", "disable", "apps")
    assert disabled == "Success! Disabled the secrets engine (if it existed) at: apps/\n"
    assert "apps/" not in root.json("secrets", "list")


def test_secrets_move_keeps_the_data(root: HushCLI) -> None:
    root.ok("secrets", "enable", "-path=before", "kv")
    root.ok("kv", "put", "before/x", "a=1")
    moved = root.ok("secrets", "move", "before", "after")
    assert moved.startswith("Started moving secrets engine before/ to after/")
    assert "Success! Finished moving" in moved
    assert root.json("kv", "get", "after/x")["data"] == {"a": "1"}


# --- KV v2 and v1 through the same commands ---------------------------------------------------


def test_kv_v2_round_trip(root: HushCLI, tmp_path: Path) -> None:
    root.ok("secrets", "enable", "-path=kv2t", "kv-v2")
    assert root.ok("kv", "put", "kv2t/app", "user=alice", "pw=one").startswith(
        "== Secret Path ==\nkv2t/data/app\n\n======= Metadata =======\n"
    )
    pem = tmp_path / "cert.pem"
    pem.write_text("CERT")
    root.ok("kv", "put", "-mount=kv2t", "-cas=1", "app", "user=alice", "pw=two", f"cert=@{pem}")
    conflict = root("kv", "put", "-cas=1", "kv2t/app", "pw=three")
    assert conflict.returncode == 2 and "check-and-set" in conflict.stderr

    table = root.ok("kv", "get", "kv2t/app").split("\n\n")
    assert table[0] == "== Secret Path ==\nkv2t/data/app"
    assert (
        table[1].startswith("======= Metadata =======\nKey ") and "version            2" in table[1]
    )
    assert table[2].splitlines()[0] == "==== Data ====" and "pw      two" in table[2]
    raw = root.json("kv", "get", "kv2t/app")
    assert raw["data"]["data"] == {"user": "alice", "pw": "two", "cert": "CERT"}
    assert root.ok("kv", "get", "-field=pw", "kv2t/app") == "two"
    assert root.json("kv", "get", "-version=1", "kv2t/app")["data"]["data"]["pw"] == "one"

    patched = root.json("kv", "patch", "kv2t/app", "pw=three")
    assert patched["data"]["version"] == 3
    assert root.json("kv", "get", "kv2t/app")["data"]["data"]["user"] == "alice"
    assert (
        root.json("kv", "patch", "-method=rw", "kv2t/app", "note=-", stdin="hi")["data"]["version"]
        == 4
    )
    assert root("kv", "patch", "kv2t/nothing", "a=1").returncode == 2

    deleted = root.ok("kv", "delete", "-versions=1,2", "kv2t/app")
    assert deleted == "Success! Data deleted (if it existed) at: kv2t/data/app\n"
    old = root.json("kv", "get", "-version=1", "kv2t/app")["data"]
    assert old["data"] is None and old["metadata"]["deletion_time"]
    assert root.ok("kv", "undelete", "-versions=1", "kv2t/app").startswith("Success!")
    assert root.json("kv", "get", "-version=1", "kv2t/app")["data"]["data"]["pw"] == "one"
    assert root.ok("kv", "destroy", "-versions=2", "kv2t/app").startswith("Success!")
    assert root("kv", "destroy", "kv2t/app").returncode == 1  # -versions is required

    rolled = root.json("kv", "rollback", "-version=1", "kv2t/app")
    assert rolled["data"]["version"] == 5
    assert root.json("kv", "get", "kv2t/app")["data"]["data"] == {"user": "alice", "pw": "one"}
    gone = root("kv", "rollback", "-version=2", "kv2t/app")  # deleted, then destroyed
    assert gone.returncode == 2 and "Cannot roll back to a version that has been" in gone.stderr

    root.ok(
        "kv",
        "metadata",
        "put",
        "-max-versions=3",
        "-cas-required",
        "-custom-metadata",
        "owner=ops",
        "kv2t/app",
    )
    metadata = root.json("kv", "metadata", "get", "kv2t/app")["data"]
    assert (metadata["max_versions"], metadata["cas_required"]) == (3, True)
    assert metadata["custom_metadata"] == {"owner": "ops"} and metadata["current_version"] == 5
    listing = root.ok("kv", "metadata", "get", "kv2t/app")
    assert listing.startswith("= Metadata Path =\nkv2t/metadata/app\n")  # Vault pads to the path
    assert "====== Version 5 ======" in listing
    root.ok("kv", "metadata", "put", "-cas-required=false", "kv2t/app")
    assert root.json("kv", "metadata", "get", "kv2t/app")["data"]["cas_required"] is False

    assert root.json("kv", "list", "kv2t") == ["app"]
    assert root.json("kv", "list", "-mount=kv2t") == ["app"]
    root.ok("kv", "delete", "kv2t/app")  # latest version only: undeletable
    assert root.ok("kv", "metadata", "delete", "kv2t/app").endswith("kv2t/metadata/app\n")
    missing = root("kv", "get", "kv2t/app")
    assert (missing.returncode, missing.stderr) == (2, "No value found at kv2t/data/app\n")


def test_kv_v1_mount_through_the_same_commands(root: HushCLI) -> None:
    root.ok("secrets", "enable", "-path=kv1t", "-version=1", "kv")
    written = root.ok("kv", "put", "-mount=kv1t", "app/db", "user=bob", "pw=-", stdin="s3\n")
    assert written == "Success! Data written to: kv1t/app/db\n"
    assert root.json("kv", "get", "kv1t/app/db")["data"] == {"user": "bob", "pw": "s3\n"}
    assert "user                bob" in root.ok("kv", "get", "kv1t/app/db")
    assert root.ok("kv", "get", "-mount=kv1t", "-field=user", "app/db") == "bob"
    assert root.json("kv", "list", "kv1t/app") == ["db"]
    for command in ("undelete", "destroy"):
        refused = root("kv", command, "-versions=1", "kv1t/app/db")
        assert refused.returncode == 1 and "not supported on KV Version 1" in refused.stderr
    assert root("kv", "metadata", "get", "kv1t/app/db").returncode == 1
    assert root("kv", "patch", "kv1t/app/db", "a=1").returncode == 2
    deleted = root.ok("kv", "delete", "kv1t/app/db")
    assert deleted == "Success! Data deleted (if it existed) at: kv1t/app/db\n"
    assert root("kv", "get", "kv1t/app/db").returncode == 2


# --- permissions ------------------------------------------------------------------------------


def test_permission_denied_exits_2(root: HushCLI) -> None:
    root.ok("secrets", "enable", "-path=locked", "kv")
    root.ok("kv", "put", "locked/x", "a=1")
    token = _reader_token(root, "only-open", 'path "open/*" { capabilities = ["read"] }')
    limited = HushCLI(root.address, root.home, token)
    for command in (("kv", "get", "locked/x"), ("policy", "list"), ("secrets", "list")):
        result = limited(*command)
        assert result.returncode == 2, command
        assert "permission denied" in result.stderr and token not in result.stderr


def test_limited_token_finds_kv_v2_through_preflight(root: HushCLI) -> None:
    root.ok("secrets", "enable", "-path=team", "-version=2", "kv")
    root.ok("kv", "put", "team/app", "a=1")
    token = _reader_token(root, "team-reader", 'path "team/data/*" { capabilities = ["read"] }')
    reader = HushCLI(root.address, root.home, token)
    assert json.loads(reader.ok("kv", "get", "-format=json", "team/app"))["data"]["data"] == {
        "a": "1"
    }
