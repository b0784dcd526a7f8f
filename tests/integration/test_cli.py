"""The ``hush`` CLI against real servers: what an operator types and what they see.

Every command runs as a subprocess (``python -m hush.cli.main``) with a clean environment: no
inherited ``HUSH_*``/``VAULT_*`` variables and ``HOME`` pointing at an empty directory, so the
token comes only from where each test puts it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from hush.core.generate_root import decode_token
from tests.conftest import DEV_ROOT_TOKEN, ServerFactory
from tests.support.server import HushProcess, free_port


@dataclass
class HushCLI:
    """Runs ``hush`` against one address with an isolated environment."""

    address: str
    home: Path
    token: str | None = None

    def __call__(
        self,
        *args: str,
        token: str | None = None,
        stdin: str | None = None,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("HUSH_", "VAULT_"))}
        clean.update(HOME=str(self.home), HUSH_ADDR=self.address)
        chosen = token if token is not None else self.token
        if chosen:
            clean["HUSH_TOKEN"] = chosen
        clean.update(env or {})
        return subprocess.run(
            [sys.executable, "-m", "hush.cli.main", *args],
            check=False,
            input=stdin if stdin is not None else "",
            capture_output=True,
            text=True,
            env=clean,
            timeout=30,
        )

    def ok(self, *args: str, stdin: str | None = None) -> str:
        """Run, assert success, and return stdout."""
        result = self(*args, stdin=stdin)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def json(self, *args: str, **kwargs: Any) -> Any:
        """Run with ``-format=json``, assert success, and parse stdout."""
        result = self(*args, "-format=json", **kwargs)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)


CLIFactory = Callable[..., HushCLI]


@pytest.fixture
def cli(tmp_path: Path) -> CLIFactory:
    """Factory: ``cli(server)`` or ``cli(address, token=...)``."""
    home = tmp_path / "home"
    home.mkdir()

    def make(target: HushProcess | str, token: str | None = None) -> HushCLI:
        address = target if isinstance(target, str) else target.url
        return HushCLI(address, home, token)

    return make


@pytest.fixture
def root(dev_server: HushProcess, cli: CLIFactory) -> HushCLI:
    """The CLI with the dev server's root token."""
    return cli(dev_server, DEV_ROOT_TOKEN)


def _unseal(hush: HushCLI, keys: list[str]) -> dict[str, Any]:
    status: dict[str, Any] = {}
    for key in keys:
        status = hush.json("operator", "unseal", key)
    return status


# --- status, read/write/list/delete, kv -------------------------------------------------------


def test_status_of_unsealed_server_exits_0(root: HushCLI) -> None:
    result = root("status")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:2] == ["Key             Value", "---             -----"]
    assert "Sealed          false" in result.stdout
    assert root.json("status")["sealed"] is False
    # A raw sys/ body (no "data" envelope) is read field by field too.
    assert root("read", "-field=initialized", "sys/seal-status").stdout == "true"


def test_kv_put_get_list_delete_round_trip(root: HushCLI) -> None:
    put = root("kv", "put", "-mount=secret", "app/db", "user=alice", "password=s3cret")
    assert (put.returncode, put.stdout) == (0, "Success! Data written to: secret/app/db\n")

    secret = root.json("kv", "get", "secret/app/db")
    assert secret["data"] == {"user": "alice", "password": "s3cret"}
    field = root("kv", "get", "-mount=secret", "-field=password", "app/db")
    assert (field.returncode, field.stdout) == (0, "s3cret")  # raw: no newline off a TTY

    table = root("kv", "get", "secret/app/db").stdout.splitlines()
    assert "refresh_interval    768h" in table and "user                alice" in table

    assert root.json("kv", "list", "-mount=secret", "app") == ["db"]
    listing = root("list", "secret/app")
    assert listing.stdout.splitlines() == ["Keys", "----", "db"]

    deleted = root("kv", "delete", "secret/app/db")
    assert deleted.stdout == "Success! Data deleted (if it existed) at: secret/app/db\n"
    missing = root("kv", "get", "secret/app/db")
    assert (missing.returncode, missing.stderr) == (2, "No value found at secret/app/db\n")
    empty = root("list", "secret/app")
    assert (empty.returncode, empty.stderr) == (2, "No value found at secret/app/\n")


def test_write_reads_values_from_files_and_stdin(root: HushCLI, tmp_path: Path) -> None:
    pem = tmp_path / "cert.pem"
    pem.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n")
    result = root("write", "secret/files", f"cert=@{pem}", "note=-", "tag=a", "tag=b", stdin="hi\n")
    assert result.returncode == 0, result.stderr
    data = root.json("read", "secret/files")["data"]
    assert data == {"cert": pem.read_text(), "note": "hi\n", "tag": ["a", "b"]}

    from_json = root("write", "secret/json", "-", stdin='{"n": 3, "ok": true}')
    assert from_json.returncode == 0, from_json.stderr
    assert root.json("read", "secret/json")["data"] == {"n": 3, "ok": True}


def test_format_from_double_dash_env_and_yaml(root: HushCLI) -> None:
    assert root("write", "secret/fmt", "a=1").returncode == 0
    assert json.loads(root("read", "--format", "json", "secret/fmt").stdout)["data"] == {"a": "1"}
    via_env = root("read", "secret/fmt", env={"VAULT_FORMAT": "json"})
    assert json.loads(via_env.stdout)["data"] == {"a": "1"}
    yaml_out = root("read", "-format=yaml", "secret/fmt")
    assert yaml_out.returncode == 0 and "data:\n  a: '1'\n" in yaml_out.stdout


def test_yaml_without_pyyaml_is_a_clear_error(root: HushCLI, tmp_path: Path) -> None:
    blocker = tmp_path / "noyaml"
    blocker.mkdir()
    (blocker / "yaml.py").write_text("raise ImportError('PyYAML blocked for this test')\n")
    path = os.pathsep.join([str(blocker), os.environ.get("PYTHONPATH", "")])
    result = root("read", "-format=yaml", "sys/seal-status", env={"PYTHONPATH": path})
    assert result.returncode == 1
    assert "PyYAML" in result.stderr and result.stdout == ""


def test_token_helper_file_is_used_without_env(root: HushCLI) -> None:
    (root.home / ".hush-token").write_text(DEV_ROOT_TOKEN + "\n")
    anonymous = HushCLI(root.address, root.home)
    assert anonymous.json("read", "sys/mounts")["secret/"]["type"] == "kv"


def test_bad_token_exits_2_with_permission_denied(root: HushCLI) -> None:
    result = root("kv", "get", "secret/anything", token="not-a-token")
    assert result.returncode == 2
    # Like Vault's CLI, the KV-version preflight is what a bad token trips over first.
    assert result.stderr.splitlines() == [
        "Error checking the KV version of secret/anything: HTTP 403 from GET "
        f"{root.address}/v1/sys/internal/ui/mounts/secret/anything",
        "* permission denied",
    ]
    direct = root("read", "secret/anything", token="not-a-token")
    assert direct.returncode == 2
    assert direct.stderr.splitlines() == [
        f"Error reading secret/anything: HTTP 403 from GET {root.address}/v1/secret/anything",
        "* permission denied",
    ]
    assert "not-a-token" not in result.stderr + result.stdout


def test_unknown_path_and_missing_field(root: HushCLI) -> None:
    unknown = root("read", "nowhere/x")
    assert unknown.returncode == 2
    assert 'no handler for route "nowhere/x"' in unknown.stderr
    root("write", "secret/f", "a=1")
    missing = root("read", "-field=b", "secret/f")
    assert (missing.returncode, missing.stderr) == (1, 'Field "b" not present in secret\n')


def test_usage_errors_exit_1(root: HushCLI) -> None:
    assert root("write", "secret/x", "novalue").returncode == 1
    assert root("write", "secret/x").returncode == 1  # no data and no -force
    assert root("operator", "init", "-key-shares=many").returncode == 1
    assert root("read").returncode == 1
    assert root("operator", "unseal").returncode == 1  # no key and stdin is not a TTY


def test_missing_server_is_a_connection_error(cli: CLIFactory) -> None:
    hush = cli(f"http://127.0.0.1:{free_port()}", "some-token")
    result = hush("read", "secret/x")
    assert result.returncode == 2
    assert "cannot connect to http://127.0.0.1:" in result.stderr
    assert len(result.stderr.splitlines()) == 1 and "some-token" not in result.stderr
    assert hush("status").returncode == 1
    no_ca = hush("read", "-ca-cert=/nonexistent/ca.pem", "secret/x")
    assert no_ca.returncode == 2 and "Error loading CA certificate" in no_ca.stderr


# --- sealed server: init, unseal, rotate, seal, rekey, generate-root -------------------------


def test_init_unseal_rotate_seal(sealed_server: ServerFactory, cli: CLIFactory) -> None:
    hush = cli(sealed_server("sqlite"))
    assert hush("status").returncode == 2  # uninitialised counts as sealed
    assert hush("operator", "init", "-status").returncode == 2

    init = hush.json("operator", "init", "-key-shares=3", "-key-threshold=2")
    assert (init["unseal_shares"], init["unseal_threshold"]) == (3, 2)
    keys = init["unseal_keys_b64"]
    assert len(keys) == 3 and len(init["unseal_keys_hex"]) == 3
    hush.token = init["root_token"]
    again = hush("operator", "init")
    assert again.returncode == 2 and "already initialized" in again.stderr

    sealed = hush("status")
    assert sealed.returncode == 2 and "Unseal Progress    0/2" in sealed.stdout
    assert hush.json("operator", "unseal", keys[0])["progress"] == 1
    assert hush("operator", "unseal", "-", stdin=keys[2] + "\n").returncode == 0
    assert hush("status").returncode == 0

    assert hush("operator", "rotate").stdout.startswith("Success! Rotated key\n")
    assert hush.json("operator", "key-status")["term"] == 2
    assert hush("operator", "key-status", "-field=term").stdout == "2"

    assert hush("operator", "seal").stdout == "Success! Hush is sealed.\n"
    assert hush("status").returncode == 2
    blocked = hush("kv", "get", "secret/x")
    assert blocked.returncode == 2 and "Vault is sealed" in blocked.stderr


def test_init_table_output_lists_keys_and_token(
    sealed_server: ServerFactory, cli: CLIFactory
) -> None:
    hush = cli(sealed_server("inmem"))
    lines = hush("operator", "init", "-key-shares=3", "-key-threshold=2").stdout.splitlines()
    labels = [line.split(": ")[0] for line in lines[:3]]
    assert labels == ["Unseal Key 1", "Unseal Key 2", "Unseal Key 3"]
    assert lines[4].startswith("Initial Root Token: hss.")
    assert "key threshold of 2" in lines[6]
    hush.token = lines[4].split(": ")[1]
    assert hush("operator", "unseal", lines[0].split(": ")[1]).returncode == 0
    assert hush("operator", "unseal", lines[2].split(": ")[1]).returncode == 0
    assert hush("status").returncode == 0


@pytest.fixture
def unsealed(sealed_server: ServerFactory, cli: CLIFactory) -> tuple[HushCLI, list[str]]:
    """An initialised (3 shares, threshold 2), unsealed in-memory server and its keys."""
    hush = cli(sealed_server("inmem"))
    init = hush.json("operator", "init", "-key-shares=3", "-key-threshold=2")
    hush.token = init["root_token"]
    _unseal(hush, init["unseal_keys_b64"][:2])
    return hush, init["unseal_keys_b64"]


def test_rekey_new_keys_unseal_and_old_keys_do_not(unsealed: tuple[HushCLI, list[str]]) -> None:
    hush, old_keys = unsealed
    assert hush.json("operator", "rekey", "-status")["started"] is False
    started = hush.json("operator", "rekey", "-init", "-key-shares=2", "-key-threshold=2")
    assert (started["started"], started["n"], started["t"]) == (True, 2, 2)
    nonce = started["nonce"]

    progress = hush.json("operator", "rekey", f"-nonce={nonce}", old_keys[0])
    assert (progress["complete"], progress["progress"]) == (False, 1)
    done = hush("operator", "rekey", "-nonce", nonce, old_keys[1])
    assert done.returncode == 0, done.stderr
    new_keys = [line.split(": ")[1] for line in done.stdout.splitlines() if line.startswith("Key ")]
    assert len(new_keys) == 2 and not set(new_keys) & set(old_keys)

    hush("operator", "seal")
    assert hush("operator", "unseal", old_keys[0]).returncode == 0
    wrong = hush("operator", "unseal", old_keys[1])
    assert wrong.returncode == 2  # old shares no longer combine to the unseal key
    hush("operator", "unseal", "-reset")
    assert _unseal(hush, new_keys)["sealed"] is False

    no_rekey = hush("operator", "rekey", new_keys[0])
    assert no_rekey.returncode == 1 and "No rekey is in progress" in no_rekey.stderr


def test_rekey_with_verification(unsealed: tuple[HushCLI, list[str]]) -> None:
    hush, old_keys = unsealed
    hush.json("operator", "rekey", "-init", "-key-shares=1", "-key-threshold=1", "-verify")
    hush.json("operator", "rekey", old_keys[0])
    done = hush.json("operator", "rekey", old_keys[1])
    assert done["complete"] is True and done["verification_required"] is True
    verified = hush.json("operator", "rekey", "-verify", done["keys_base64"][0])
    assert verified["complete"] is True
    hush("operator", "seal")
    assert _unseal(hush, done["keys_base64"])["sealed"] is False


def test_generate_root_token_reads_sys_mounts(unsealed: tuple[HushCLI, list[str]]) -> None:
    hush, keys = unsealed
    status = hush("operator", "generate-root", "-status")
    assert "Started       false" in status.stdout
    attempt = hush.json("operator", "generate-root", "-init")
    otp = attempt["otp"]
    assert len(otp) == attempt["otp_length"]

    first = hush.json("operator", "generate-root", keys[2])
    assert (first["progress"], first["complete"]) == (1, False)
    done = hush.json("operator", "generate-root", f"-nonce={attempt['nonce']}", keys[0])
    assert done["complete"] is True

    decoded = hush("operator", "generate-root", f"-decode={done['encoded_token']}", f"-otp={otp}")
    token = decoded.stdout.strip()
    assert decoded.returncode == 0 and token == decode_token(done["encoded_token"], otp)
    assert token != hush.token
    response = httpx.get(f"{hush.address}/v1/sys/mounts", headers={"X-Vault-Token": token})
    assert response.status_code == 200 and "sys/" in response.json()["data"]

    fresh = hush("operator", "generate-root", "-generate-otp").stdout
    assert len(fresh) == attempt["otp_length"] and fresh.isalnum()
    bad = hush("operator", "generate-root", "-decode=AAAA", f"-otp={otp}")
    assert bad.returncode == 1 and "Error decoding root token" in bad.stderr
