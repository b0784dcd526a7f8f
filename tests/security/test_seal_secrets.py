"""Seal secrets never leak: static keys, HSM PINs, transit tokens, recovery keys, snapshots.

Each test drives a node through the seal-related flows (init with recovery keys, restart,
recovery-key unseal, generate-root, rekey of the recovery keys, failures of the seal device),
then searches the server log, the audit file and the SQLite files for every secret in clear,
hex and base64 at every alignment.
"""

from __future__ import annotations

import base64
import secrets
from pathlib import Path

from tests.security.test_canary import _assert_absent
from tests.support.seals import SoftHSM, seal_block, start_sealed, wait_logged, wait_unsealed
from tests.support.server import HushProcess, free_port, start_hush


def _storage_bytes(directory: Path) -> bytes:
    return b"\n".join(f.read_bytes() for f in sorted(directory.glob("hush.db*")))


def _share_forms(shares: list[str]) -> dict[str, bytes]:
    return {f"share {i}": bytes.fromhex(share) for i, share in enumerate(shares)}


def _exercise(server: HushProcess, audit_file: Path) -> dict[str, bytes]:
    """Init, audit on, seal/unseal with recovery keys, generate-root, rekey; the secrets seen."""
    init = server.client().sys.initialize(recovery_shares=3, recovery_threshold=2)
    wait_unsealed(server)
    root = init["root_token"]
    client = server.client(root)
    client.sys.enable_audit_device("file", options={"file_path": str(audit_file)})
    client.sys.seal()
    client.sys.submit_unseal_keys(init["recovery_keys"][:2])
    started = client.sys.start_root_token_generation()
    client.sys.generate_root(init["recovery_keys"][1], nonce=started["nonce"])
    client.sys.generate_root(init["recovery_keys"][2], nonce=started["nonce"])
    rekey = client.sys.start_rekey(secret_shares=2, secret_threshold=2, recovery_key=True)
    client.sys.rekey(init["recovery_keys"][0], nonce=rekey["nonce"], recovery_key=True)
    new = client.sys.rekey(init["recovery_keys"][1], nonce=rekey["nonce"], recovery_key=True)
    client.sys.list_mounted_secrets_engines()  # an audited request after all of it
    server.restart()
    wait_unsealed(server)
    return {
        "root token": root.encode(),
        "otp": started["otp"].encode(),
        **_share_forms(init["recovery_keys"]),
        **{f"new {k}": v for k, v in _share_forms(new["keys"]).items()},
    }


def test_static_key_and_recovery_keys_never_leak(tmp_path: Path) -> None:
    key = secrets.token_bytes(32)
    (tmp_path / "seal.key").write_text(base64.b64encode(key).decode())
    server = start_sealed(
        tmp_path,
        seal_block("static", current_key_id="k", current_key=f"file://{tmp_path / 'seal.key'}"),
    )
    try:
        audit_file = tmp_path / "audit.log"
        seen = {"static key": key, **_exercise(server, audit_file)}
        server.stop()
        _assert_absent(server.log_text().encode(), seen, "the server log")
        _assert_absent(audit_file.read_bytes(), seen, "the audit file")
        _assert_absent(_storage_bytes(tmp_path), seen, "the SQLite files")
    finally:
        server.stop()


def test_hsm_pin_never_leaks_even_when_wrong(tmp_path: Path) -> None:
    hsm = SoftHSM.create(tmp_path / "hsm")
    server = start_sealed(tmp_path, hsm.block(), env=hsm.env)
    try:
        audit_file = tmp_path / "audit.log"
        seen = {"pin": b"pin-" + secrets.token_hex(8).encode(), **_exercise(server, audit_file)}
        seen["real pin"] = hsm.pin.encode()  # a canary of its own (SoftHSM.pin)
        server.stop()
        server.env["HUSH_HSM_PIN"] = seen["pin"].decode()  # a wrong PIN: errors are logged
        server.start()
        wait_logged(server, "PinIncorrect", "auto-unseal failed (attempt 2)")
        server.stop()
        _assert_absent(server.log_text().encode(), seen, "the server log")
        _assert_absent(audit_file.read_bytes(), seen, "the audit file")
        _assert_absent(_storage_bytes(tmp_path), seen, "the SQLite files")
    finally:
        server.stop()


def test_transit_token_never_leaks(tmp_path: Path) -> None:
    token = "canary-" + secrets.token_hex(12)
    port = free_port()
    provider = start_hush(
        tmp_path,
        ["-dev", f"-dev-root-token-id={token}", f"-dev-listen-address=127.0.0.1:{port}"],
        port=port,
        root_token=token,
    )
    node_dir = tmp_path / "node"
    node_dir.mkdir()
    try:
        provider.client().sys.enable_secrets_engine("transit")
        block = seal_block(
            "transit", address=provider.url, token=token, key_name="unseal", mount_path="transit"
        )
        server = start_sealed(node_dir, block)
        try:
            audit_file = node_dir / "audit.log"
            seen = {"transit token": token.encode(), **_exercise(server, audit_file)}
            provider.stop()  # the seal device goes away: errors are logged
            server.restart()
            wait_logged(server, "transit seal", "unreachable", "auto-unseal failed (attempt 2)")
            server.stop()
            _assert_absent(server.log_text().encode(), seen, "the server log")
            _assert_absent(audit_file.read_bytes(), seen, "the audit file")
            _assert_absent(_storage_bytes(node_dir), seen, "the SQLite files")
        finally:
            server.stop()
    finally:
        provider.stop()
