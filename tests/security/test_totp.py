"""TOTP: a code is accepted once (replay within its period refused, also after a restart), and
TOTP keys never reach storage, the server's output or the audit log in clear.
"""

from __future__ import annotations

import base64
import os
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import hvac
import pyotp

from tests.conftest import ServerFactory
from tests.security.test_canary import _assert_absent, _sqlite_dump

USED = "code already used; wait until the next time period"


def _stable_code(totp: pyotp.TOTP) -> str:
    """The current code, never in the last 2 s of its period (the server must see that step)."""
    left = totp.interval - time.time() % totp.interval
    if left < 2:
        time.sleep(left + 0.1)
    return totp.now()


def _validate(client: hvac.Client, name: str, code: str) -> tuple[int, Any]:
    response = httpx.post(
        f"{client.url}/v1/totp/code/{name}",
        json={"code": code},
        headers={"X-Vault-Token": str(client.token)},
        timeout=30,
    )
    return response.status_code, response.json()


def _unsealed(sealed_server: ServerFactory) -> tuple[Any, hvac.Client, list[str]]:
    server = sealed_server("sqlite")
    init = server.client().sys.initialize(secret_shares=1, secret_threshold=1)
    client = server.client(str(init["root_token"]))
    client.sys.submit_unseal_keys(init["keys"])
    return server, client, list(init["keys"])


def test_totp_code_replay_within_its_period_refused(sealed_server: ServerFactory) -> None:
    """Issue 13 class "TOTP code replay within its period refused", across a restart too: the
    used-code record is in (barrier-encrypted) storage, not in a process's memory."""
    server, client, keys = _unsealed(sealed_server)
    client.sys.enable_secrets_engine("totp")
    secret = base64.b32encode(os.urandom(20)).decode()
    client.adapter.post("/v1/totp/keys/login", json={"key": secret, "skew": 1})
    totp = pyotp.TOTP(secret)
    code = _stable_code(totp)
    step = int(time.time() // totp.interval)
    status, body = _validate(client, "login", code)
    assert (status, body["data"]) == (200, {"valid": True})
    assert _validate(client, "login", code) == (400, {"errors": [USED]})

    server.restart()
    client = server.client(client.token)
    client.sys.submit_unseal_keys(keys)
    assert _validate(client, "login", code) == (400, {"errors": [USED]})
    # Another valid code (the previous step's, accepted with skew 1, or the current one if the
    # restart crossed into the next step) is accepted, and once only as well.
    _stable_code(totp)
    now = time.time()
    other = totp.at(now - totp.interval) if int(now // totp.interval) == step else totp.at(now)
    assert other != code
    status, body = _validate(client, "login", other)
    assert (status, body["data"]) == (200, {"valid": True})
    assert _validate(client, "login", other) == (400, {"errors": [USED]})


def test_totp_keys_never_reach_storage_logs_or_audit(sealed_server: ServerFactory) -> None:
    server, client, _ = _unsealed(sealed_server)
    audit_log = server.workdir / "audit.log"
    client.sys.enable_audit_device("file", options={"file_path": str(audit_log)})
    client.sys.enable_secrets_engine("totp")
    imported = os.urandom(20)
    imported_b32 = base64.b32encode(imported).decode()
    client.adapter.post("/v1/totp/keys/imported", json={"key": imported_b32})
    url_key = os.urandom(20)
    url_b32 = base64.b32encode(url_key).decode().rstrip("=")
    client.adapter.post(
        "/v1/totp/keys/from-url",
        json={"url": f"otpauth://totp/Acme:bob?secret={url_b32}&issuer=Acme"},
    )
    generated = client.adapter.post(
        "/v1/totp/keys/generated",
        json={"generate": True, "issuer": "Acme", "account_name": "alice", "key_size": 32},
    )["data"]
    generated_b32 = parse_qs(urlsplit(generated["url"]).query)["secret"][0]
    generated_key = base64.b32decode(generated_b32 + "=" * (-len(generated_b32) % 8))
    # Codes generated and validated, a failed import that carries a secret: all audited.
    client.adapter.get("/v1/totp/code/imported")
    _validate(client, "generated", pyotp.TOTP(generated_b32).now())
    bad = "CANARY" + base64.b32encode(os.urandom(10)).decode() + "!"
    assert (
        httpx.post(
            f"{client.url}/v1/totp/keys/bad",
            json={"key": bad},
            headers={"X-Vault-Token": str(client.token)},
        ).status_code
        == 400
    )

    secrets = {
        "imported key": imported,
        "imported key (base32)": imported_b32.encode(),
        "url key": url_key,
        "url key (base32)": url_b32.encode(),
        "generated key": generated_key,
        "generated key (base32)": generated_b32.encode(),
        "bad key text": bad.encode(),
    }
    _assert_absent(_sqlite_dump(server.workdir)(), secrets, "the SQLite files")
    _assert_absent(server.log_text().encode(), secrets, "the server output")
    audit = audit_log.read_bytes()
    assert b"totp/keys/generated" in audit and b"totp/code/generated" in audit  # positive control
    _assert_absent(audit, secrets, "the audit log")
