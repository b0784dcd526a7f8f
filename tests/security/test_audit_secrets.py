"""Secrets in audit on every path: a canary sent the wrong way is still never logged in clear.

Two file devices record the same traffic: ``raw`` with ``log_raw`` (the positive control: the
canary must be in it) and ``hashed`` with the defaults. The canary travels in every place that
carries secrets (values, ``X-Vault-Token``, ``Authorization: Bearer``, query values, tokens in
bodies) inside malformed JSON, unknown paths, wrong verbs, oversized bodies, 400s and 403s. It
must never appear in the hashed device's file or in the server's output, in clear, hex or base64.
Paths and map keys are not secret in Vault's audit format and are logged as they are, so the
canary never goes there.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import DEV_ROOT_TOKEN
from tests.support.server import HushProcess

ROOT = {"X-Vault-Token": DEV_ROOT_TOKEN}
OVERSIZED = 32 * 1024 * 1024 + 1024  # past the default max_request_size


def _forms(secret: str) -> dict[str, bytes]:
    raw = secret.encode()
    forms = {"clear": raw, "hex": raw.hex().encode()}
    for offset in range(3):
        shifted = base64.b64encode(b"\0" * offset + raw)
        forms[f"base64@{offset}"] = shifted[(offset * 8 + 5) // 6 : len(shifted) - 4]
    return forms


def _assert_absent(haystack: bytes, secret: str, where: str) -> None:
    for form, needle in _forms(secret).items():
        assert needle not in haystack, f"canary found in {where} as {form}"


@pytest.fixture(scope="module")
def devices(
    dev_server: HushProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, Path]]:
    """The ``raw`` (log_raw) and ``hashed`` file devices, enabled for this module."""
    logs = tmp_path_factory.mktemp("audit")
    raw, hashed = logs / "raw.log", logs / "hashed.log"
    with dev_server.http() as http:
        for name, options in (
            ("raw", {"file_path": str(raw), "log_raw": "true"}),
            ("hashed", {"file_path": str(hashed)}),
        ):
            enabled = http.put(
                f"/v1/sys/audit/{name}", json={"type": "file", "options": options}, headers=ROOT
            )
            assert enabled.status_code == 204, enabled.text
        yield raw, hashed
        for name in ("raw", "hashed"):
            http.delete(f"/v1/sys/audit/{name}", headers=ROOT)


def _malformed_requests(canary: str) -> list[tuple[str, str, bytes, dict[str, str]]]:
    value = canary.encode()
    as_token = {"X-Vault-Token": canary}
    return [
        ("POST", "secret/x", b'{"password": "' + value + b'"', ROOT),  # truncated JSON
        ("POST", "secret/x", b'["' + value + b'"]', ROOT),  # JSON but not an object
        ("POST", "secret/x", b'{"password": "' + value + b'"}', as_token),  # 403
        ("GET", "secret/x", b"", {"Authorization": "Bearer " + canary}),  # 403, bearer form
        ("GET", "no-such-mount/x", b"", as_token),  # unknown path, bad token
        ("GET", "no-such-mount/x?password=" + canary, b"", ROOT),  # unknown path, query value
        ("BREW", "secret/x", value, ROOT),  # unknown verb
        ("PATCH", "sys/mounts", b'{"x": "' + value + b'"}', ROOT),  # unsupported operation
        ("POST", "sys/policy/p", b'{"policy": "' + value + b'"}', ROOT),  # unparsable policy
        ("POST", "auth/token/lookup", b'{"token": "' + value + b'"}', ROOT),  # unknown token
        ("POST", "auth/token/create", b'{"id": "x", "ttl": "' + value + b'"}', ROOT),  # bad TTL
        ("POST", "sys/wrapping/unwrap", b'{"token": "' + value + b'"}', ROOT),
        ("POST", "sys/wrapping/lookup", b'{"token": "' + value + b'"}', {}),
        ("POST", "sys/wrapping/unwrap", b"", as_token),
        ("POST", "sys/tools/hash", b'{"input": "' + value + b'"}', ROOT),
        ("POST", "cubbyhole/c", b'{"v": "' + value + b'"}', as_token),
        ("POST", "sys/unseal", b'{"key": "' + value + b'"}', {}),
        ("POST", "sys/rekey/update", b'{"key": "' + value + b'", "nonce": "n"}', {}),
        ("POST", "secret/ok", b'{"password": "' + value + b'"}', ROOT),  # accepted write
        ("GET", "secret/ok", b"", ROOT),  # and read back
        ("POST", "secret/big", b'{"password": "' + value + b'"' + b" " * OVERSIZED + b"}", ROOT),
    ]


def test_canary_never_in_clear_in_a_hashed_device_or_the_server_log(
    dev_server: HushProcess, devices: tuple[Path, Path]
) -> None:
    raw_log, hashed_log = devices
    canary = f"canary-{uuid.uuid4().hex}"
    statuses = []
    with httpx.Client(base_url=dev_server.url, timeout=30) as http:
        for method, path, body, headers in _malformed_requests(canary):
            answer = http.request(method, f"/v1/{path}", content=body, headers=headers)
            statuses.append(answer.status_code)
            assert answer.status_code < 500, (method, path, answer.text)
        # The canary as a live token, then revoked: its uses are audited under its HMAC only.
        created = http.post(
            "/v1/auth/token/create", json={"id": canary, "policies": ["default"]}, headers=ROOT
        )
        assert created.status_code == 200
        live = {"X-Vault-Token": canary}
        assert http.post("/v1/secret/x", content=b"{", headers=live).status_code == 400
        assert http.get("/v1/sys/mounts", headers=live).status_code == 403
        assert http.post("/v1/auth/token/revoke-self", headers=live).status_code == 204
        digest = http.post("/v1/sys/audit-hash/hashed", json={"input": canary}, headers=ROOT)
        other = http.post("/v1/sys/audit-hash/raw", json={"input": canary}, headers=ROOT)
    assert {400, 403, 404, 405, 413} <= set(statuses), statuses
    hashed, raw = hashed_log.read_bytes(), raw_log.read_bytes()
    assert canary.encode() in raw  # positive control: the traffic was audited
    _assert_absent(hashed, canary, "the hashed audit device")
    _assert_absent(dev_server.log_text().encode(), canary, "the server output")
    # log_raw on one device does not leak into the other: the hashed device carries the
    # canary's HMAC under its own key (the token and values were audited, just not in clear).
    assert digest.json()["data"]["hash"].encode() in hashed
    assert digest.json()["data"]["hash"] != other.json()["data"]["hash"]


def test_denied_and_unknown_requests_are_audited_with_the_token_hashed(
    dev_server: HushProcess, devices: tuple[Path, Path]
) -> None:
    _, hashed_log = devices
    canary = f"canary-{uuid.uuid4().hex}"
    with dev_server.http() as http:
        before = hashed_log.read_bytes().count(b"\n")
        assert http.get("/v1/secret/denied", headers={"X-Vault-Token": canary}).status_code == 403
        assert http.get("/v1/nowhere/at/all", headers={"X-Vault-Token": canary}).status_code == 403
        digest = http.post("/v1/sys/audit-hash/hashed", json={"input": canary}, headers=ROOT)
    text = hashed_log.read_bytes()
    assert text.count(b"\n") > before
    assert text.count(digest.json()["data"]["hash"].encode()) >= 2
    _assert_absent(text, canary, "the hashed audit device")
