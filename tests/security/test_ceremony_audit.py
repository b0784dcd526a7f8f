"""Key ceremonies are audited, and their secrets reach the audit log only as HMACs.

``sys/rekey/*`` (with verification), ``sys/generate-root/*`` and their failures are written to
the audit devices like any other request (Vault audits them too), although they need no token.
The old and new unseal key shares, the generate-root OTP, the encoded root token, the root token
it decodes to and a garbage share sent by an attacker never appear in the audit file, in clear,
hex or base64; their HMACs (``sys/audit-hash``) do. The seal-lifecycle endpoints (``init``,
``unseal``, ``seal-status``, ``health``) stay unaudited, as in Vault.
"""

from __future__ import annotations

import json
import os
from typing import Any

import httpx

from hush.core.generate_root import decode_token
from tests.conftest import ServerFactory
from tests.security.test_canary import _assert_absent


def _entries(audit: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in audit.splitlines() if line.strip()]


def _paths(entries: list[dict[str, Any]], kind: str) -> list[str]:
    return [e["request"]["path"] for e in entries if e["type"] == kind]


def test_rekey_and_generate_root_are_audited_with_secrets_hashed(
    sealed_server: ServerFactory,
) -> None:
    server = sealed_server("sqlite")
    init = server.client().sys.initialize(secret_shares=3, secret_threshold=2)
    old_keys = list(init["keys"])
    root = server.client(str(init["root_token"]))
    root.sys.submit_unseal_keys(old_keys[:2])
    audit_log = server.workdir / "audit.log"
    root.sys.enable_audit_device("file", options={"file_path": str(audit_log)})
    anonymous = server.client()
    anonymous.token = None

    # Rekey with verification: old shares in, new shares out, new shares back in to verify.
    started = anonymous.sys.start_rekey(
        secret_shares=3, secret_threshold=2, require_verification=True
    )
    garbage = "not-a-share-" + os.urandom(16).hex()
    refused = httpx.put(
        f"{server.url}/v1/sys/rekey/update", json={"key": garbage, "nonce": started["nonce"]}
    )
    assert refused.status_code == 400
    anonymous.sys.rekey(old_keys[0], nonce=started["nonce"])
    done = anonymous.sys.rekey(old_keys[1], nonce=started["nonce"])
    new_keys = list(done["keys"])
    verify_nonce = done["verification_nonce"]
    anonymous.sys.rekey_verify(new_keys[0], nonce=verify_nonce)
    verified = anonymous.sys.rekey_verify(new_keys[1], nonce=verify_nonce)
    assert verified["complete"] is True

    # Root generation with a server-made OTP, fed the new shares.
    attempt = anonymous.sys.start_root_token_generation()
    otp = attempt["otp"]
    anonymous.sys.generate_root(new_keys[0], nonce=attempt["nonce"])
    finished = anonymous.sys.generate_root(new_keys[1], nonce=attempt["nonce"])
    encoded = finished["encoded_token"]
    new_root = decode_token(encoded, otp)
    assert "sys/" in server.client(new_root).sys.list_mounted_secrets_engines()["data"]
    # Lifecycle reads without a token stay unaudited (positive control below needs a baseline).
    anonymous.sys.read_seal_status()

    audit = audit_log.read_bytes()
    entries = _entries(audit)
    requests, responses = _paths(entries, "request"), _paths(entries, "response")
    for path in (
        "sys/rekey/init",
        "sys/rekey/update",
        "sys/rekey/verify",
        "sys/generate-root/attempt",
        "sys/generate-root/update",
    ):
        assert path in requests and path in responses, (path, sorted(set(requests)))
    assert "sys/seal-status" not in requests
    errors = [e for e in entries if e["type"] == "response" and e.get("error")]
    assert any(e["request"]["path"] == "sys/rekey/update" for e in errors)

    secrets: dict[str, bytes] = {
        **{f"old share {i}": bytes.fromhex(k) for i, k in enumerate(old_keys)},
        **{f"old share {i} (hex)": k.encode() for i, k in enumerate(old_keys)},
        **{f"new share {i}": bytes.fromhex(k) for i, k in enumerate(new_keys)},
        **{f"new share {i} (hex)": k.encode() for i, k in enumerate(new_keys)},
        **{f"new share {i} (base64)": k.encode() for i, k in enumerate(done["keys_base64"])},
        "garbage share": garbage.encode(),
        "otp": otp.encode(),
        "encoded root token": encoded.encode(),
        "new root token": new_root.encode(),
    }
    _assert_absent(audit, secrets, "the audit log")
    _assert_absent(server.log_text().encode(), secrets, "the server output")

    # The entries do carry the shares and the OTP, as HMACs the operator can check.
    def audit_hash(value: str) -> str:
        answer = root.adapter.post("/v1/sys/audit-hash/file", json={"input": value})
        return str(answer["data"]["hash"] if "data" in answer else answer["hash"])

    text = audit.decode()
    for value in (old_keys[0], new_keys[0], otp, encoded, garbage):
        assert audit_hash(value) in text
