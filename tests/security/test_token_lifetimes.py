"""Token lifetimes: expired and orphaned-by-revocation tokens are refused, TTLs respect their caps.

Hush caps a child's expiry at its parent's when it is created (see docs/api-compatibility.md), so a
child never needs a background sweep to die with its parent; revocation of a parent revokes the
whole tree; ``explicit_max_ttl`` is a hard ceiling through renewals.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import DEV_ROOT_TOKEN
from tests.support.server import HushProcess

ROOT = {"X-Vault-Token": DEV_ROOT_TOKEN}
CREATOR_POLICY = 'path "auth/token/create" { capabilities = ["update"] }'


@pytest.fixture(scope="module")
def http(dev_server: HushProcess) -> Iterator[httpx.Client]:
    with dev_server.http() as client:
        put = client.put("/v1/sys/policy/creator", json={"policy": CREATOR_POLICY}, headers=ROOT)
        assert put.status_code == 204
        yield client


def _create(http: httpx.Client, token: str = DEV_ROOT_TOKEN, **body: Any) -> dict[str, Any]:
    body.setdefault("policies", ["default"])
    answer = http.post("/v1/auth/token/create", json=body, headers={"X-Vault-Token": token})
    assert answer.status_code == 200, answer.text
    auth: dict[str, Any] = answer.json()["auth"]
    return auth


def _lookup_self(http: httpx.Client, token: str) -> httpx.Response:
    return http.get("/v1/auth/token/lookup-self", headers={"X-Vault-Token": token})


def _usable(http: httpx.Client, token: str) -> bool:
    status = _lookup_self(http, token).status_code
    assert status in (200, 403), status
    return status == 200


def _wait_until_refused(http: httpx.Client, tokens: list[str], limit: float) -> float:
    """Seconds until every token is refused; fails if one is still usable after ``limit``."""
    started = time.monotonic()
    while any(_usable(http, t) for t in tokens):
        assert time.monotonic() - started < limit, "a token outlived its TTL"
        time.sleep(0.1)
    return time.monotonic() - started


def test_service_and_batch_tokens_are_refused_after_their_ttl(http: httpx.Client) -> None:
    # 5 s, not 1 s: both tokens must still be usable when the first look-ups land, even on a
    # loaded machine.
    service = _create(http, ttl="5s")
    batch = _create(http, ttl="5s", type="batch")
    tokens = [service["client_token"], batch["client_token"]]
    assert service["lease_duration"] <= 5 and batch["lease_duration"] <= 5
    assert all(_usable(http, t) for t in tokens)
    _wait_until_refused(http, tokens, limit=15.0)
    for token in tokens:  # refused everywhere, not only on lookup-self
        headers = {"X-Vault-Token": token}
        assert http.get("/v1/cubbyhole/x", headers=headers).status_code == 403
        assert http.post("/v1/auth/token/renew-self", headers=headers).status_code == 403


def test_children_of_a_revoked_parent_are_refused(http: httpx.Client) -> None:
    for revoke in ("auth/token/revoke", "auth/token/revoke-accessor", "auth/token/revoke-self"):
        parent = _create(http, policies=["creator"])
        token = parent["client_token"]
        child = _create(http, token)["client_token"]
        batch_child = _create(http, token, type="batch")["client_token"]
        grandchild_parent = _create(http, token, policies=["creator", "default"])["client_token"]
        grandchild = _create(http, grandchild_parent)["client_token"]
        orphan = _create(http, DEV_ROOT_TOKEN, no_parent=True)["client_token"]
        descendants = [child, batch_child, grandchild_parent, grandchild]
        assert all(_usable(http, t) for t in descendants)
        if revoke == "auth/token/revoke":
            answer = http.post(f"/v1/{revoke}", json={"token": token}, headers=ROOT)
        elif revoke == "auth/token/revoke-accessor":
            body = {"accessor": parent["accessor"]}
            answer = http.post(f"/v1/{revoke}", json=body, headers=ROOT)
        else:
            answer = http.post(f"/v1/{revoke}", headers={"X-Vault-Token": token})
        assert answer.status_code == 204, answer.text
        assert not _usable(http, token)
        assert not any(_usable(http, t) for t in descendants), revoke
        assert _usable(http, orphan)  # control: revocation is by tree, not by time


def test_child_ttl_never_exceeds_the_parents_remaining_ttl(http: httpx.Client) -> None:
    parent = _create(http, policies=["creator"], ttl="30s")["client_token"]
    for wish in (
        {},
        {"ttl": "1h"},
        {"ttl": "1h", "explicit_max_ttl": "2h"},
        {"period": "1h"},
        {"ttl": "1h", "type": "batch"},
        {"ttl": "1h", "renewable": True},
    ):
        child = _create(http, parent, **wish)
        remaining = _lookup_self(http, parent).json()["data"]["ttl"]
        assert 0 < child["lease_duration"] <= remaining, (wish, child["lease_duration"], remaining)
        looked_up = _lookup_self(http, child["client_token"]).json()["data"]["ttl"]
        assert looked_up <= remaining, (wish, looked_up, remaining)


def test_ttl_above_explicit_max_ttl_is_capped(http: httpx.Client) -> None:
    # 5 s, not 2 s: the renewal and the look-up must land before the cap, even on a loaded machine.
    token = _create(http, ttl="1h", explicit_max_ttl="5s")
    assert token["lease_duration"] <= 5
    headers = {"X-Vault-Token": token["client_token"]}
    renewed = http.post("/v1/auth/token/renew-self", json={"increment": "1h"}, headers=headers)
    assert renewed.status_code == 200, renewed.text
    assert renewed.json()["auth"]["lease_duration"] <= 5
    assert _lookup_self(http, token["client_token"]).json()["data"]["ttl"] <= 5
    _wait_until_refused(http, [token["client_token"]], limit=15.0)
    # A role's explicit maximum caps what its tokens ask for, too.
    role = {"token_explicit_max_ttl": "30s", "allowed_policies": ["default"]}
    assert http.post("/v1/auth/token/roles/capped", json=role, headers=ROOT).status_code == 204
    answer = http.post("/v1/auth/token/create/capped", json={"ttl": "1h"}, headers=ROOT)
    assert 0 < answer.json()["auth"]["lease_duration"] <= 30


def test_renewing_a_child_cannot_outlive_its_parent(http: httpx.Client) -> None:
    # 5 s, not 2 s: the child must be created and renewed within it, even on a loaded machine.
    parent = _create(http, policies=["creator"], ttl="5s")["client_token"]
    parent_expired = time.monotonic() + 5.5  # the parent was created before this moment
    child = _create(http, parent, ttl="1h")["client_token"]
    headers = {"X-Vault-Token": child}
    renewed = http.post("/v1/auth/token/renew-self", json={"increment": "1h"}, headers=headers)
    assert renewed.status_code == 200
    time.sleep(max(0.0, parent_expired - time.monotonic()))
    # Look up the child only: nothing may depend on someone touching the expired parent first.
    assert not _usable(http, child)
