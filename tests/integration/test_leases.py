"""Leases over HTTP with hvac's ``sys`` lease methods and the ``hush lease`` CLI.

No dynamic-secret engine is in main yet, so these drive the expiration manager through token
leases (every service token has one); secret-lease mechanics are covered by
``tests/unit/core/test_expiration.py``. Error texts and statuses are OpenBao 2.x's.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import hvac
import hvac.exceptions
import pytest

from tests.conftest import DEV_ROOT_TOKEN
from tests.integration.test_cli import HushCLI
from tests.support.server import HushProcess

LEASE_ADMIN = """
path "sys/leases/lookup/*" { capabilities = ["list", "sudo"] }
path "sys/leases/revoke-prefix/*" { capabilities = ["update", "sudo"] }
"""
LEASE_NO_SUDO = """
path "sys/leases/lookup/*" { capabilities = ["list"] }
path "sys/leases/revoke-prefix/*" { capabilities = ["update"] }
path "sys/revoke-prefix/*" { capabilities = ["update"] }
"""


@pytest.fixture(scope="module")
def root(dev_server: HushProcess) -> Iterator[hvac.Client]:
    client = dev_server.client()
    client.sys.create_or_update_policy("lease-admin", LEASE_ADMIN)
    client.sys.create_or_update_policy("lease-no-sudo", LEASE_NO_SUDO)
    yield client


def _create(root: hvac.Client, path: str = "auth/token/create", **body: object) -> dict[str, str]:
    """Create a token at ``path``; returns its token and accessor."""
    auth = root.adapter.post(f"/v1/{path}", json={"policies": ["default"], **body})["auth"]
    return {"token": auth["client_token"], "accessor": auth["accessor"]}


def _lease_names(root: hvac.Client, prefix: str) -> list[str]:
    try:
        listed = root.sys.list_leases(prefix)
    except hvac.exceptions.InvalidPath:
        return []
    return list(listed["data"]["keys"])


def _token_alive(root: hvac.Client, token: str) -> bool:
    try:
        root.auth.token.lookup(token)
    except (hvac.exceptions.InvalidRequest, hvac.exceptions.Forbidden):
        return False
    return True


def _accessors(root: hvac.Client) -> set[str]:
    return set(root.adapter.list("/v1/auth/token/accessors")["data"]["keys"])


def test_token_leases_are_listed_and_looked_up(root: hvac.Client) -> None:
    path = "auth/token/create-orphan"
    before = set(_lease_names(root, path))
    _create(root, path, ttl="1h")
    new = set(_lease_names(root, path)) - before
    assert len(new) == 1
    lease_id = f"{path}/{new.pop()}"
    assert lease_id.rsplit("/", maxsplit=1)[-1].startswith("h")
    data = root.sys.read_lease(lease_id)["data"]
    assert data["id"] == lease_id
    assert 3590 <= data["ttl"] <= 3600
    assert data["renewable"] is True
    assert data["last_renewal"] is None
    assert data["issue_time"].endswith("Z") and data["expire_time"].endswith("Z")


def test_lookup_and_renew_errors_match_openbao(root: hvac.Client) -> None:
    with pytest.raises(hvac.exceptions.InvalidRequest, match="invalid lease"):
        root.sys.read_lease("auth/token/create/hnope")
    with pytest.raises(hvac.exceptions.InvalidRequest, match="lease_id must be specified"):
        root.sys.read_lease("")
    with pytest.raises(hvac.exceptions.InvalidRequest, match="lease not found"):
        root.sys.renew_lease("nope/abc")
    path = "auth/token/create-orphan"
    before = set(_lease_names(root, path))
    _create(root, path, ttl="1h")
    lease_id = f"{path}/{(set(_lease_names(root, path)) - before).pop()}"
    with pytest.raises(hvac.exceptions.InvalidRequest, match="tokens cannot be renewed"):
        root.sys.renew_lease(lease_id, increment=60)
    with pytest.raises(hvac.exceptions.InvalidRequest, match='field "increment"'):
        root.adapter.put("/v1/sys/leases/renew", json={"lease_id": lease_id, "increment": "x"})
    # Revoking an unknown lease is a quiet 204, as in Vault.
    assert root.sys.revoke_lease("nope/abc").status_code == 204
    # A prefix of only slashes is refused rather than read as "every lease".
    with pytest.raises(hvac.exceptions.InvalidRequest, match="prefix is required"):
        root.adapter.put("/v1/sys/leases/revoke-prefix/%2F", json={})


def test_revoking_a_token_lease_revokes_the_token_and_its_children(root: hvac.Client) -> None:
    path = "auth/token/create-orphan"
    before = set(_lease_names(root, path))
    parent = _create(root, path, ttl="1h", policies=["root"])
    lease_id = f"{path}/{(set(_lease_names(root, path)) - before).pop()}"
    child_client = hvac.Client(url=root.url, token=parent["token"])
    child = child_client.auth.token.create(policies=["default"], ttl="1h")["auth"]
    assert root.sys.revoke_lease(lease_id).status_code == 204
    assert not _token_alive(root, parent["token"])
    assert not _token_alive(root, child["client_token"])
    assert lease_id.rsplit("/", 1)[1] not in _lease_names(root, path)


def test_revoking_a_token_drops_its_lease(root: hvac.Client) -> None:
    path = "auth/token/create-orphan"
    before = set(_lease_names(root, path))
    made = _create(root, path, ttl="1h")
    name = (set(_lease_names(root, path)) - before).pop()
    root.auth.token.revoke(made["token"])
    assert name not in _lease_names(root, path)


def test_expired_tokens_are_revoked_by_the_expiry_loop(root: hvac.Client) -> None:
    path = "auth/token/create-orphan"
    before = set(_lease_names(root, path))
    # 5 s, not 2 s: the parent must still be alive for the child's creation and the listing
    # below, even on a loaded machine.
    parent = _create(root, path, ttl="5s", policies=["root"])
    lease_name = (set(_lease_names(root, path)) - before).pop()
    child = hvac.Client(url=root.url, token=parent["token"]).auth.token.create(
        policies=["default"], ttl="1h"
    )["auth"]
    assert {parent["accessor"], child["accessor"]} <= _accessors(root)
    # Nothing looks the tokens up: only the due-time index can remove them from storage.
    deadline = time.monotonic() + 25
    while time.monotonic() < deadline:
        if not {parent["accessor"], child["accessor"]} & _accessors(root):
            break
        time.sleep(0.25)
    assert not {parent["accessor"], child["accessor"]} & _accessors(root)
    assert lease_name not in _lease_names(root, path)


def test_revoke_prefix_revokes_every_token_created_under_a_path(root: hvac.Client) -> None:
    root.adapter.post("/v1/auth/token/roles/leasetest", json={"orphan": True})
    made = [_create(root, "auth/token/create/leasetest", ttl="1h") for _ in range(3)]
    other = _create(root, "auth/token/create-orphan", ttl="1h")
    assert len(_lease_names(root, "auth/token/create/leasetest")) == 3
    assert root.sys.revoke_prefix("auth/token/create/leasetest").status_code == 204
    assert not any(_token_alive(root, m["token"]) for m in made)
    assert _token_alive(root, other["token"])
    assert _lease_names(root, "auth/token/create/leasetest") == []


def test_async_revoke_answers_202_and_the_loop_revokes(root: hvac.Client) -> None:
    path = "auth/token/create-orphan"
    before = set(_lease_names(root, path))
    made = _create(root, path, ttl="1h")
    lease_id = f"{path}/{(set(_lease_names(root, path)) - before).pop()}"
    response = root.adapter.put("/v1/sys/leases/revoke", json={"lease_id": lease_id, "sync": False})
    assert response.status_code == 202
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _token_alive(root, made["token"]):
        time.sleep(0.2)
    assert not _token_alive(root, made["token"])


def test_legacy_aliases(root: hvac.Client) -> None:
    path = "auth/token/create-orphan"
    before = set(_lease_names(root, path))
    made = _create(root, path, ttl="1h")
    lease_id = f"{path}/{(set(_lease_names(root, path)) - before).pop()}"
    with pytest.raises(hvac.exceptions.InvalidRequest, match="tokens cannot be renewed"):
        root.adapter.put(f"/v1/sys/renew/{lease_id}", json={})
    assert root.adapter.put(f"/v1/sys/revoke/{lease_id}", json={}).status_code == 204
    assert not _token_alive(root, made["token"])


def test_listing_and_prefix_revocation_need_sudo(root: hvac.Client) -> None:
    no_sudo = hvac.Client(url=root.url, token=_create(root, policies=["lease-no-sudo"])["token"])
    admin = hvac.Client(url=root.url, token=_create(root, policies=["lease-admin"])["token"])
    with pytest.raises(hvac.exceptions.Forbidden):
        no_sudo.sys.list_leases("auth/token/create")
    with pytest.raises(hvac.exceptions.Forbidden):
        no_sudo.sys.revoke_prefix("auth/token/create/none")
    with pytest.raises(hvac.exceptions.Forbidden):
        no_sudo.adapter.put("/v1/sys/revoke-prefix/auth/token/create/none", json={})
    assert admin.sys.list_leases("auth/token/create")["data"]["keys"]
    assert admin.sys.revoke_prefix("auth/token/create/none").status_code == 204
    # The default policy lets any token look a lease up (Vault's default policy does too).
    with pytest.raises(hvac.exceptions.InvalidRequest, match="invalid lease"):
        no_sudo.sys.read_lease("auth/token/create/hnope")


def test_irrevocable_report_endpoints(root: hvac.Client) -> None:
    counts = root.adapter.get("/v1/sys/leases/count", params={"type": "irrevocable"})
    assert counts["data"] == {"lease_count": 0, "counts": {}}
    listing = root.adapter.get("/v1/sys/leases", params={"type": "irrevocable"})
    assert listing["data"] == {"lease_count": 0, "leases": []}
    with pytest.raises(hvac.exceptions.InvalidPath):
        root.adapter.get("/v1/sys/leases/count")
    with pytest.raises(hvac.exceptions.InvalidRequest, match="invalid 'limit'"):
        root.adapter.get("/v1/sys/leases", params={"type": "irrevocable", "limit": "abc"})
    tidy = root.adapter.put("/v1/sys/leases/tidy", json={})
    assert tidy.status_code == 202
    assert "Tidy operation successfully started" in tidy.json()["warnings"][0]


def test_disabling_an_auth_method_revokes_its_login_tokens(root: hvac.Client) -> None:
    root.sys.enable_auth_method("userpass", path="up-leases")
    root.auth.userpass.create_or_update_user("ada", "correct horse", mount_point="up-leases")
    login = hvac.Client(url=root.url)
    token = login.auth.userpass.login("ada", "correct horse", mount_point="up-leases")["auth"]
    assert _lease_names(root, "auth/up-leases/login/ada")
    root.sys.disable_auth_method("up-leases")
    assert not _token_alive(root, token["client_token"])


@pytest.fixture
def cli(dev_server: HushProcess, tmp_path: Path) -> HushCLI:
    home = tmp_path / "home"
    home.mkdir()
    return HushCLI(dev_server.url, home, DEV_ROOT_TOKEN)


def test_cli_lease_lookup_renew_revoke(root: hvac.Client, cli: HushCLI) -> None:
    path = "auth/token/create-orphan"
    before = set(_lease_names(root, path))
    made = _create(root, path, ttl="1h")
    lease_id = f"{path}/{(set(_lease_names(root, path)) - before).pop()}"
    looked_up = cli.json("lease", "lookup", lease_id)
    assert looked_up["data"]["id"] == lease_id
    table = cli("lease", "lookup", lease_id)
    assert table.returncode == 0 and "expire_time" in table.stdout
    renewed = cli("lease", "renew", "-increment=1h", lease_id)
    assert renewed.returncode == 2
    assert "tokens cannot be renewed through this endpoint" in renewed.stderr
    forced = cli("lease", "revoke", "-force", lease_id)
    assert forced.returncode != 0
    assert "Specifying -force requires also specifying -prefix" in forced.stderr
    revoked = cli("lease", "revoke", "-sync", lease_id)
    assert revoked.returncode == 0, revoked.stderr
    assert f"Success! Revoked lease: {lease_id}" in revoked.stdout
    assert not _token_alive(root, made["token"])
    missing = cli("lease", "lookup", lease_id)
    assert missing.returncode == 2 and "invalid lease" in missing.stderr


def test_cli_lease_revoke_prefix_queued_and_forced(root: hvac.Client, cli: HushCLI) -> None:
    root.adapter.post("/v1/auth/token/roles/cliprefix", json={"orphan": True})
    made = [_create(root, "auth/token/create/cliprefix", ttl="1h") for _ in range(2)]
    queued = cli("lease", "revoke", "-prefix", "auth/token/create/cliprefix")
    assert queued.returncode == 0, queued.stderr
    assert "All revocation operations queued successfully!" in queued.stdout
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_token_alive(root, m["token"]) for m in made):
        time.sleep(0.2)
    assert not any(_token_alive(root, m["token"]) for m in made)
    more = _create(root, "auth/token/create/cliprefix", ttl="1h")
    forced = cli("lease", "revoke", "-force", "-prefix", "auth/token/create/cliprefix")
    assert forced.returncode == 0, forced.stderr
    assert "Success! Force revoked any leases with prefix" in forced.stdout
    assert "Warning! Force-removing leases" in forced.stderr
    assert not _token_alive(root, more["token"])


def test_cli_token_revoke_mode_path_uses_the_lease_prefix(root: hvac.Client, cli: HushCLI) -> None:
    root.adapter.post("/v1/auth/token/roles/bypath", json={"orphan": True})
    made = _create(root, "auth/token/create/bypath", ttl="1h")
    result = cli("token", "revoke", "-mode=path", "auth/token/create/bypath")
    assert result.returncode == 0, result.stderr
    assert not _token_alive(root, made["token"])
