"""Tokens, policies and the ACL through hvac, against a real dev server."""

from __future__ import annotations

import time
from collections.abc import Iterator

import hvac
import hvac.exceptions
import pytest

from tests.support.server import HushProcess

READ_APP = """
path "kv1/app/*" {
  capabilities = ["read", "list"]
}
path "sys/capabilities-self" {
  capabilities = ["update"]
}
path "auth/token/create" {
  capabilities = ["update"]
}
"""


@pytest.fixture(scope="module")
def root(dev_server: HushProcess) -> Iterator[hvac.Client]:
    client = dev_server.client()
    client.sys.enable_secrets_engine("kv", path="kv1", options={"version": "1"})
    client.secrets.kv.v1.create_or_update_secret("app/db", {"pw": "1"}, mount_point="kv1")
    client.secrets.kv.v1.create_or_update_secret("other/db", {"pw": "2"}, mount_point="kv1")
    client.sys.create_or_update_policy("read-app", READ_APP)
    yield client


def _token(root: hvac.Client, **kwargs: object) -> str:
    return str(root.auth.token.create(**kwargs)["auth"]["client_token"])


def test_is_authenticated_and_lookup_self(dev_server: HushProcess, root: hvac.Client) -> None:
    assert root.is_authenticated()
    data = root.auth.token.lookup_self()["data"]
    assert data["policies"] == ["root"] and data["id"] == "root" and data["expire_time"] is None
    assert not dev_server.client("not-a-token").is_authenticated()


def test_read_only_policy_reads_inside_and_is_denied_elsewhere(
    dev_server: HushProcess, root: hvac.Client
) -> None:
    client = dev_server.client(_token(root, policies=["read-app"]))
    assert client.secrets.kv.v1.read_secret("app/db", mount_point="kv1")["data"] == {"pw": "1"}
    assert client.secrets.kv.v1.list_secrets("app", mount_point="kv1")["data"]["keys"] == ["db"]
    for call in (
        lambda: client.secrets.kv.v1.read_secret("other/db", mount_point="kv1"),
        lambda: client.secrets.kv.v1.create_or_update_secret(
            "app/db", {"pw": "x"}, mount_point="kv1"
        ),
        lambda: client.secrets.kv.v1.delete_secret("app/db", mount_point="kv1"),
        client.sys.list_mounted_secrets_engines,
        lambda: client.sys.create_or_update_policy("x", READ_APP),
    ):
        with pytest.raises(hvac.exceptions.Forbidden) as info:
            call()
        assert "permission denied" in str(info.value)
    caps = client.sys.get_capabilities(paths=["kv1/app/db", "kv1/other/db", "sys/mounts"])
    assert caps["kv1/app/db"] == ["list", "read"]
    assert caps["kv1/other/db"] == ["deny"]
    assert caps["sys/mounts"] == ["deny"]
    assert root.secrets.kv.v1.read_secret("app/db", mount_point="kv1")["data"] == {"pw": "1"}


def test_policy_change_and_delete_take_effect_on_the_next_request(
    dev_server: HushProcess, root: hvac.Client
) -> None:
    root.sys.create_or_update_policy("changing", 'path "kv1/app/*" { capabilities = ["read"] }')
    client = dev_server.client(_token(root, policies=["changing"]))
    assert client.secrets.kv.v1.read_secret("app/db", mount_point="kv1")
    root.sys.create_or_update_policy("changing", 'path "kv1/other/*" { capabilities = ["read"] }')
    with pytest.raises(hvac.exceptions.Forbidden):
        client.secrets.kv.v1.read_secret("app/db", mount_point="kv1")
    assert client.secrets.kv.v1.read_secret("other/db", mount_point="kv1")
    root.sys.delete_policy("changing")
    with pytest.raises(hvac.exceptions.Forbidden):
        client.secrets.kv.v1.read_secret("other/db", mount_point="kv1")


def test_revoked_token_is_refused_on_the_next_request(
    dev_server: HushProcess, root: hvac.Client
) -> None:
    token = _token(root, policies=["read-app"])
    client = dev_server.client(token)
    assert client.secrets.kv.v1.read_secret("app/db", mount_point="kv1")
    root.auth.token.revoke(token)
    with pytest.raises(hvac.exceptions.Forbidden):
        client.secrets.kv.v1.read_secret("app/db", mount_point="kv1")


def test_revoking_a_parent_revokes_children_unless_orphaned(
    dev_server: HushProcess, root: hvac.Client
) -> None:
    parent = _token(root, policies=["read-app"])
    parent_client = dev_server.client(parent)
    child = str(parent_client.auth.token.create(policies=["read-app"])["auth"]["client_token"])
    orphan = str(root.auth.token.create_orphan(policies=["read-app"])["auth"]["client_token"])
    root.auth.token.revoke(parent)
    assert not dev_server.client(child).is_authenticated()
    assert dev_server.client(orphan).is_authenticated()

    parent = _token(root, policies=["read-app"])
    child = str(dev_server.client(parent).auth.token.create()["auth"]["client_token"])
    root.auth.token.revoke_and_orphan_children(parent)
    assert not dev_server.client(parent).is_authenticated()
    looked = root.auth.token.lookup(child)["data"]
    assert looked["orphan"] is True


def test_child_policies_must_be_a_subset_of_the_parent(
    dev_server: HushProcess, root: hvac.Client
) -> None:
    client = dev_server.client(_token(root, policies=["read-app"]))
    with pytest.raises(hvac.exceptions.InvalidRequest) as info:
        client.auth.token.create(policies=["root"])
    assert "subset" in str(info.value)
    inherited = client.auth.token.create()["auth"]
    assert sorted(inherited["policies"]) == ["default", "read-app"]


def test_lookup_accessor_renew_and_ttl_strings(dev_server: HushProcess, root: hvac.Client) -> None:
    created = root.auth.token.create(policies=["read-app"], ttl="1h30m", explicit_max_ttl="2h")
    auth = created["auth"]
    assert auth["lease_duration"] == 5400 and auth["renewable"] is True
    by_accessor = root.auth.token.lookup_accessor(auth["accessor"])["data"]
    assert by_accessor["id"] == "" and by_accessor["creation_ttl"] == 5400
    renewed = root.auth.token.renew(auth["client_token"], increment="3h")["auth"]
    assert 7100 <= renewed["lease_duration"] <= 7200  # capped by explicit_max_ttl
    assert root.auth.token.create(ttl=90)["auth"]["lease_duration"] == 90
    for bad in ("1x", "-5s", "abc"):
        with pytest.raises(hvac.exceptions.InvalidRequest):
            root.auth.token.create(ttl=bad)


def test_num_uses_limits_the_token(dev_server: HushProcess, root: hvac.Client) -> None:
    client = dev_server.client(_token(root, policies=["read-app"], num_uses=2))
    client.secrets.kv.v1.read_secret("app/db", mount_point="kv1")
    client.secrets.kv.v1.read_secret("app/db", mount_point="kv1")
    with pytest.raises(hvac.exceptions.Forbidden):
        client.secrets.kv.v1.read_secret("app/db", mount_point="kv1")


def test_expired_token_is_refused(dev_server: HushProcess, root: hvac.Client) -> None:
    # 5 s, not 1 s: the first read must land within the TTL on a loaded machine too.
    client = dev_server.client(_token(root, policies=["read-app"], ttl="5s"))
    created = time.monotonic()
    assert client.secrets.kv.v1.read_secret("app/db", mount_point="kv1")
    while True:
        try:
            client.secrets.kv.v1.read_secret("app/db", mount_point="kv1")
        except hvac.exceptions.Forbidden:
            break
        assert time.monotonic() - created < 15, "the token outlived its 5 s TTL"
        time.sleep(0.2)


def test_batch_tokens_work_and_die_with_their_parent(
    dev_server: HushProcess, root: hvac.Client
) -> None:
    parent = _token(root, policies=["read-app"])
    batch = str(dev_server.client(parent).auth.token.create(type="batch")["auth"]["client_token"])
    assert batch.startswith("hsb.")
    client = dev_server.client(batch)
    assert client.secrets.kv.v1.read_secret("app/db", mount_point="kv1")
    assert client.auth.token.lookup_self()["data"]["type"] == "batch"
    with pytest.raises(hvac.exceptions.InvalidRequest):
        root.auth.token.renew(batch)
    root.auth.token.revoke(parent)
    with pytest.raises(hvac.exceptions.Forbidden):
        client.secrets.kv.v1.read_secret("app/db", mount_point="kv1")


def test_token_roles(dev_server: HushProcess, root: hvac.Client) -> None:
    root.auth.token.create_or_update_role(
        "app", allowed_policies=["read-app"], orphan=True, token_period="1h"
    )
    role = root.auth.token.read_role("app")["data"]
    assert role["allowed_policies"] == ["read-app"] and role["token_period"] == 3600
    assert "app" in root.auth.token.list_roles()["data"]["keys"]
    auth = root.auth.token.create(role_name="app")["auth"]
    assert auth["orphan"] is True and "read-app" in auth["policies"]
    assert auth["lease_duration"] == 3600
    with pytest.raises(hvac.exceptions.InvalidRequest):
        root.auth.token.create(role_name="app", policies=["root"])
    root.auth.token.delete_role("app")
    with pytest.raises(hvac.exceptions.InvalidPath):
        root.auth.token.read_role("app")


def test_policies_crud_and_malformed_policy_errors(root: hvac.Client) -> None:
    root.sys.create_or_update_policy("crud", 'path "a/*" { capabilities = ["read"] }')
    assert "crud" in root.sys.list_policies()["data"]["policies"]
    assert 'path "a/*"' in root.sys.read_policy("crud")["data"]["rules"]
    with pytest.raises(hvac.exceptions.InvalidRequest) as info:
        root.sys.create_or_update_policy("bad", 'path "a/*" {\n  capabilities = ["read"\n')
    assert "line" in str(info.value)
    with pytest.raises(hvac.exceptions.InvalidRequest) as info:
        root.sys.create_or_update_policy("bad", 'path "a/*" { capabilities = ["raed"] }')
    assert "raed" in str(info.value)
    with pytest.raises(hvac.exceptions.InvalidRequest):
        root.sys.create_or_update_policy("root", 'path "*" { capabilities = ["read"] }')
    with pytest.raises(hvac.exceptions.InvalidRequest):
        root.sys.delete_policy("default")
    root.sys.delete_policy("crud")
    assert "crud" not in root.sys.list_policies()["data"]["policies"]


def test_token_and_accessor_capabilities(dev_server: HushProcess, root: hvac.Client) -> None:
    auth = root.auth.token.create(policies=["read-app"])["auth"]
    by_token = root.sys.get_capabilities(paths=["kv1/app/x"], token=auth["client_token"])
    by_accessor = root.sys.get_capabilities(paths=["kv1/app/x"], accessor=auth["accessor"])
    assert by_token["capabilities"] == by_accessor["capabilities"] == ["list", "read"]
    assert root.sys.get_capabilities(paths=["anything"])["capabilities"] == ["root"]


def test_tidy_and_accessor_listing_need_sudo(dev_server: HushProcess, root: hvac.Client) -> None:
    assert root.auth.token.tidy().status_code == 202
    assert len(root.auth.token.list_accessors()["data"]["keys"]) >= 1
    client = dev_server.client(_token(root, policies=["read-app"]))
    with pytest.raises(hvac.exceptions.Forbidden):
        client.auth.token.list_accessors()
