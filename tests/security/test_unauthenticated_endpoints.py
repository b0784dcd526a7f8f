"""Unauthenticated endpoints: what a caller with no token can do to the key ceremonies.

``sys/rekey/*``, ``sys/generate-root/*`` and ``sys/unseal`` take no token, as in Vault, because
share holders may have none. Vault (and older Hush) let anyone ``DELETE`` an attempt in progress
and throw away the shares an operator had gathered; Hush now needs the attempt's ``nonce`` or a
token with ``sudo`` on the path (hvac's ``cancel_*`` with an operator token keep working). The
nonce is not a secret (the unauthenticated status read shows it, as in Vault): it stops blind or
stale cancels, and the listener's network exposure remains the real control for these paths. The
unseal endpoint must stay bounded whatever is thrown at it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.conftest import ServerFactory
from tests.support.server import HushProcess

GARBAGE_SUBMISSIONS = 10_000


@pytest.fixture
def ceremony(sealed_server: ServerFactory) -> Iterator[tuple[HushProcess, list[str], str]]:
    """An initialised (3 shares, threshold 2) and unsealed server, its shares and root token."""
    server = sealed_server("inmem")
    with server.http() as http:
        init = http.put("/v1/sys/init", json={"secret_shares": 3, "secret_threshold": 2}).json()
        for key in init["keys"][:2]:
            assert http.put("/v1/sys/unseal", json={"key": key}).status_code == 200
    yield server, init["keys"], init["root_token"]


def _token_without_sudo(http: httpx.Client, root: str) -> str:
    rules = {
        "policy": 'path "sys/*" { capabilities = ["create", "read", "update", "delete", "list"] }'
    }
    assert http.put("/v1/sys/policy/no-sudo", json=rules, headers={"X-Vault-Token": root})
    created = http.post(
        "/v1/auth/token/create", json={"policies": ["no-sudo"]}, headers={"X-Vault-Token": root}
    )
    token: str = created.json()["auth"]["client_token"]
    return token


def _assert_cancel_refused(http: httpx.Client, path: str, no_sudo: str) -> None:
    for params, headers in (
        ({}, {}),
        ({"nonce": ""}, {}),
        ({"nonce": "00000000-0000-0000-0000-000000000000"}, {}),
        ({}, {"X-Vault-Token": "not-a-token"}),
        ({}, {"X-Vault-Token": no_sudo}),  # may delete under sys/*, but has no sudo
    ):
        answer = http.delete(f"/v1/{path}", params=params, headers=headers)
        assert answer.status_code == 400, (path, params, answer.text)
        assert "nonce" in answer.json()["errors"][0]


# (where an attempt starts, where shares go, the start body, hvac's cancel method)
CEREMONIES = [
    ("sys/rekey/init", "sys/rekey/update", {"secret_shares": 1, "secret_threshold": 1}, "rekey"),
    ("sys/generate-root/attempt", "sys/generate-root/update", {}, "root_generation"),
]


@pytest.mark.parametrize(("start", "update", "body", "hvac_name"), CEREMONIES)
def test_attempt_in_progress_cannot_be_cancelled_without_its_nonce(
    ceremony: tuple[HushProcess, list[str], str],
    start: str,
    update: str,
    body: dict[str, int],
    hvac_name: str,
) -> None:
    server, keys, root = ceremony
    with server.http() as http:
        no_sudo = _token_without_sudo(http, root)
        nonce = http.put(f"/v1/{start}", json=body).json()["nonce"]
        share = {"key": keys[0], "nonce": nonce}
        assert http.put(f"/v1/{update}", json=share).json()["progress"] == 1
        _assert_cancel_refused(http, start, no_sudo)
        status = http.get(f"/v1/{start}").json()
        assert (status["started"], status["nonce"], status["progress"]) == (True, nonce, 1)
        # Nobody can start another attempt over the operator's either.
        assert http.put(f"/v1/{start}", json=body).status_code == 400
        # The operator who holds the nonce can cancel without a token ...
        assert http.delete(f"/v1/{start}", params={"nonce": nonce}).status_code == 204
        assert http.get(f"/v1/{start}").json()["started"] is False
        # ... and so can a sudo token without the nonce (what hvac's cancel_* methods send).
        assert http.put(f"/v1/{start}", json=body).status_code == 200
        getattr(server.client(root).sys, f"cancel_{hvac_name}")()
        assert http.get(f"/v1/{start}").json()["started"] is False
        # With nothing in progress, cancelling is the no-op it always was.
        assert http.delete(f"/v1/{start}").status_code == 204


def test_rekey_verification_cannot_be_reset_without_its_nonce(
    ceremony: tuple[HushProcess, list[str], str],
) -> None:
    server, keys, root = ceremony
    with server.http() as http:
        no_sudo = _token_without_sudo(http, root)
        started = http.put(
            "/v1/sys/rekey/init",
            json={"secret_shares": 3, "secret_threshold": 2, "require_verification": True},
        ).json()
        for key in keys[:2]:
            done = http.put("/v1/sys/rekey/update", json={"key": key, "nonce": started["nonce"]})
        new_keys, verify_nonce = done.json()["keys"], done.json()["verification_nonce"]
        body = {"key": new_keys[0], "nonce": verify_nonce}
        assert http.put("/v1/sys/rekey/verify", json=body).json()["progress"] == 1
        _assert_cancel_refused(http, "sys/rekey/verify", no_sudo)
        for share in ({"key": new_keys[1]}, {"key": new_keys[1], "nonce": started["nonce"]}):
            assert http.put("/v1/sys/rekey/verify", json=share).status_code == 400
        assert http.get("/v1/sys/rekey/verify").json()["progress"] == 1
        reset = http.delete("/v1/sys/rekey/verify", params={"nonce": verify_nonce})
        assert reset.status_code == 200 and reset.json()["progress"] == 0
        assert reset.json()["nonce"] != verify_nonce


def test_shares_must_name_the_attempts_nonce(
    ceremony: tuple[HushProcess, list[str], str],
) -> None:
    # Regression: an empty nonce was accepted, so anyone could feed a garbage share into an
    # operator's attempt and make it fail at the threshold, wasting the shares already given.
    server, keys, _ = ceremony
    garbage = os.urandom(33).hex()
    with server.http() as http:
        for start, update in (
            ("sys/rekey/init", "sys/rekey/update"),
            ("sys/generate-root/attempt", "sys/generate-root/update"),
        ):
            body = {"secret_shares": 1, "secret_threshold": 1} if "rekey" in start else {}
            nonce = http.put(f"/v1/{start}", json=body).json()["nonce"]
            for share in ({"key": garbage}, {"key": garbage, "nonce": ""}, {"key": keys[0]}):
                answer = http.put(f"/v1/{update}", json=share)
                assert answer.status_code == 400, (update, answer.text)
            wrong = {"key": garbage, "nonce": nonce[::-1]}
            assert http.put(f"/v1/{update}", json=wrong).status_code == 400
            assert http.get(f"/v1/{start}").json()["progress"] == 0
            assert http.delete(f"/v1/{start}", params={"nonce": nonce}).status_code == 204


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS line")


def _garbage_share(i: int) -> dict[str, Any]:
    """Refused shapes (wrong length, bad encoding, wrong type) and accepted-length random bytes."""
    choice = i % 5
    if choice == 0:
        return {"key": os.urandom(33).hex()}  # the right length: accepted, then fails to combine
    if choice == 1:
        return {"key": os.urandom(7).hex()}
    if choice == 2:
        return {"key": "not hex and not base64!"}
    if choice == 3:
        return {"key": os.urandom(4096).hex()}
    return {"key": i}


def test_garbage_unseal_shares_keep_memory_and_progress_bounded(
    sealed_server: ServerFactory,
) -> None:
    server = sealed_server("inmem")
    assert server.process is not None
    with server.http() as http:
        keys = http.put("/v1/sys/init", json={"secret_shares": 5, "secret_threshold": 3}).json()
        warmup = [http.put("/v1/sys/unseal", json=_garbage_share(i)) for i in range(200)]
        assert all(r.status_code in (200, 400) for r in warmup)
    before = _rss_kib(server.process.pid)

    def submit(worker: int) -> tuple[set[int], int]:
        statuses: set[int] = set()
        progress = 0
        with server.http() as client:
            for i in range(worker, GARBAGE_SUBMISSIONS, 4):
                answer = client.put("/v1/sys/unseal", json=_garbage_share(i))
                statuses.add(answer.status_code)
                if answer.status_code == 200:
                    progress = max(progress, answer.json()["progress"])
        return statuses, progress

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(submit, range(4)))
    statuses = set().union(*(s for s, _ in results))
    assert statuses <= {200, 400}, statuses
    assert max(p for _, p in results) < 3  # progress never reaches the threshold
    growth_kib = _rss_kib(server.process.pid) - before
    assert growth_kib < 32 * 1024, f"RSS grew by {growth_kib} KiB over {GARBAGE_SUBMISSIONS}"
    with server.http() as http:  # the real shares still work: garbage left nothing behind
        assert http.put("/v1/sys/unseal", json={"reset": True}).status_code == 200
        for key in keys["keys"][:3]:
            answer = http.put("/v1/sys/unseal", json={"key": key})
        assert answer.json()["sealed"] is False
