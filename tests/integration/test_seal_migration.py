"""Seal migration as Vault does it: Shamir -> auto-unseal -> Shamir, and auto -> another auto.

The operator edits the config (adds the new seal, marks the old one ``disabled = "true"``),
restarts, and unseals with ``-migrate`` using the old shares; the data and root token survive.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import hvac
import hvac.exceptions
import pytest

from tests.support.seals import SoftHSM, seal_block, start_sealed, wait_unsealed
from tests.support.server import HushProcess


def _cli(server: HushProcess, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUSH_", "VAULT_"))}
    env["HUSH_ADDR"] = server.url
    return subprocess.run(
        [sys.executable, "-m", "hush.cli.main", *args],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def _set_seals(workdir: Path, blocks: str) -> None:
    config = workdir / "hush.hcl"
    base = config.read_text().split("seal ")[0]
    config.write_text(base + blocks)


def _static(key_file: Path, **extra: str) -> str:
    return seal_block("static", current_key_id="k1", current_key=f"file://{key_file}", **extra)


def _read(server: HushProcess, token: str) -> dict[str, object]:
    secret = server.client(token).secrets.kv.v1.read_secret("app", mount_point="kv")
    data: dict[str, object] = secret["data"]
    return data


def test_shamir_to_static_and_back_to_shamir(tmp_path: Path) -> None:
    key_file = tmp_path / "seal.key"
    key_file.write_bytes(os.urandom(32))
    server = start_sealed(tmp_path, "")
    try:
        client = server.client()
        init = client.sys.initialize(secret_shares=3, secret_threshold=2)
        keys, root = init["keys"], init["root_token"]
        client.sys.submit_unseal_keys(keys[:2])
        client = server.client(root)
        client.sys.enable_secrets_engine("kv", path="kv", options={"version": "1"})
        client.secrets.kv.v1.create_or_update_secret("app", {"v": "before"}, mount_point="kv")

        # Shamir -> static: add the seal stanza, restart, unseal with -migrate.
        _set_seals(tmp_path, _static(key_file))
        server.restart()
        status = server.client().sys.read_seal_status()
        assert (status["sealed"], status["migration"], status["type"]) == (True, True, "shamir")
        refused = _cli(server, "operator", "unseal", keys[0])
        assert refused.returncode == 2 and "migrate=true" in refused.stderr
        assert _cli(server, "operator", "unseal", "-migrate", keys[0]).returncode == 0
        done = _cli(server, "operator", "unseal", "-migrate", keys[2])
        assert done.returncode == 0, done.stderr
        status = server.client().sys.read_seal_status()
        assert (status["sealed"], status["migration"], status["type"]) == (False, False, "static")
        assert (status["t"], status["n"], status["recovery_seal"]) == (2, 3, True)
        assert _read(server, root) == {"v": "before"}

        # A restart now needs nobody: the static seal unseals the node.
        server.restart()
        wait_unsealed(server)
        server.client(root).secrets.kv.v1.create_or_update_secret(
            "app", {"v": "auto"}, mount_point="kv"
        )

        # static -> Shamir: mark the seal disabled; the old shares are now recovery shares and
        # become the unseal shares again.
        _set_seals(tmp_path, _static(key_file, disabled="true"))
        server.restart()
        status = server.client().sys.read_seal_status()
        assert (status["sealed"], status["migration"]) == (True, True)
        server.client().sys.submit_unseal_key(keys[1], migrate=True)
        server.client().sys.submit_unseal_key(keys[2], migrate=True)
        status = server.client().sys.read_seal_status()
        assert (status["sealed"], status["type"], status["recovery_seal"]) == (
            False,
            "shamir",
            False,
        )
        assert _read(server, root) == {"v": "auto"}

        # Back on Shamir: a restart is sealed and the original shares unseal it.
        _set_seals(tmp_path, "")
        server.restart()
        assert server.client().sys.is_sealed() is True
        server.client().sys.submit_unseal_keys([keys[0], keys[2]])
        assert _read(server, root) == {"v": "auto"}
    finally:
        server.stop()


def test_migrate_flag_without_a_pending_migration_is_refused(tmp_path: Path) -> None:
    server = start_sealed(tmp_path, "")
    try:
        init = server.client().sys.initialize(secret_shares=1, secret_threshold=1)
        with pytest.raises(hvac.exceptions.InvalidRequest, match="no migration seal found"):
            server.client().sys.submit_unseal_key(init["keys"][0], migrate=True)
        assert server.client().sys.is_sealed() is True
    finally:
        server.stop()


def test_static_to_pkcs11_keeps_recovery_keys(tmp_path: Path) -> None:
    key_file = tmp_path / "seal.key"
    key_file.write_bytes(os.urandom(32))
    hsm = SoftHSM.create(tmp_path / "hsm")
    server = start_sealed(tmp_path, _static(key_file), env=hsm.env)
    try:
        init = server.client().sys.initialize(recovery_shares=2, recovery_threshold=2)
        recovery, root = init["recovery_keys"], init["root_token"]
        wait_unsealed(server)
        client: hvac.Client = server.client(root)
        client.sys.enable_secrets_engine("kv", path="kv", options={"version": "1"})
        client.secrets.kv.v1.create_or_update_secret("app", {"v": "x"}, mount_point="kv")

        _set_seals(tmp_path, _static(key_file, disabled="true") + hsm.block())
        server.restart()
        assert server.client().sys.read_seal_status()["migration"] is True
        for share in recovery:
            server.client().sys.submit_unseal_key(share, migrate=True)
        status = wait_unsealed(server)
        assert (status["type"], status["migration"]) == ("pkcs11", False)

        _set_seals(tmp_path, hsm.block())
        key_file.unlink()  # the old seal is gone for good
        server.restart()
        wait_unsealed(server)
        assert _read(server, root) == {"v": "x"}
        # The recovery keys are unchanged and still work.
        server.client(root).sys.seal()
        server.client().sys.submit_unseal_keys(recovery)
        assert server.client().sys.is_sealed() is False
    finally:
        server.stop()


def test_cli_init_on_an_auto_sealed_node_prints_recovery_keys(tmp_path: Path) -> None:
    key_file = tmp_path / "seal.key"
    key_file.write_bytes(os.urandom(32))
    server = start_sealed(tmp_path, _static(key_file))
    try:
        result = _cli(
            server, "operator", "init", "-recovery-shares=3", "-recovery-threshold=2",
            "-format=json",
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        body = json.loads(result.stdout)
        assert body["unseal_keys_b64"] == []
        assert len(body["recovery_keys_b64"]) == 3 and len(body["recovery_keys_hex"]) == 3
        assert (body["recovery_keys_shares"], body["recovery_keys_threshold"]) == (3, 2)
        assert body["root_token"]
        wait_unsealed(server)
        status = _cli(server, "status")
        assert status.returncode == 0
        assert "Recovery Seal Type" in status.stdout and "static" in status.stdout
    finally:
        server.stop()
