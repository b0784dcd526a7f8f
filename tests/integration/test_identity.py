"""Identity through hvac against a real dev server: entities, aliases, groups, login integration."""

from __future__ import annotations

import concurrent.futures
import uuid
from typing import Any

import hvac
import hvac.exceptions
import pytest

from tests.conftest import ServerFactory
from tests.support.server import HushProcess


def _mount(root: hvac.Client, method: str = "userpass") -> tuple[str, str]:
    path = f"{method}-{uuid.uuid4().hex[:8]}"
    root.sys.enable_auth_method(method, path=path)
    return path, root.sys.list_auth_methods()["data"][f"{path}/"]["accessor"]


def _user(root: hvac.Client, mount: str, name: str, policies: list[str] | None = None) -> None:
    root.auth.userpass.create_or_update_user(
        name, password="pw-" + name, policies=policies or [], mount_point=mount
    )


def _login(server: HushProcess, mount: str, name: str) -> dict[str, Any]:
    client = hvac.Client(url=server.url, verify=server.verify)
    auth: dict[str, Any] = client.auth.userpass.login(
        name, "pw-" + name, mount_point=mount, use_token=False
    )["auth"]
    return auth


def _policy(root: hvac.Client, name: str, path: str) -> None:
    root.sys.create_or_update_policy(name, f'path "{path}" {{ capabilities = ["read", "list"] }}')


def test_entity_crud_by_id_and_name(dev_server: HushProcess) -> None:
    identity = dev_server.client().secrets.identity
    created = identity.create_or_update_entity(
        name="alice-e", policies=["a", "B"], metadata={"team": "x"}
    )["data"]
    assert created["name"] == "alice-e" and created["id"]
    entity = identity.read_entity(created["id"])["data"]
    assert entity["policies"] == ["a", "b"] and entity["metadata"] == {"team": "x"}
    assert entity["disabled"] is False and entity["aliases"] == []
    assert identity.read_entity_by_name("ALICE-E")["data"]["id"] == created["id"]

    identity.update_entity(created["id"], name="alice-2", policies=["c"], disabled=True)
    entity = identity.read_entity_by_name("alice-2")["data"]
    assert entity["policies"] == ["c"] and entity["disabled"] is True
    assert created["id"] in identity.list_entities()["data"]["keys"]
    assert "alice-2" in identity.list_entities_by_name()["data"]["keys"]

    with pytest.raises(hvac.exceptions.InvalidRequest, match="entity name is already in use"):
        other = identity.create_or_update_entity(name="bob-e")["data"]
        identity.update_entity(other["id"], name="alice-2")
    identity.delete_entity(created["id"])
    with pytest.raises(hvac.exceptions.InvalidPath):
        identity.read_entity(created["id"])


def test_entity_alias_pair_is_unique(dev_server: HushProcess) -> None:
    root = dev_server.client()
    identity = root.secrets.identity
    _, accessor = _mount(root)
    first = identity.create_or_update_entity(name=f"e1-{uuid.uuid4().hex[:6]}")["data"]["id"]
    second = identity.create_or_update_entity(name=f"e2-{uuid.uuid4().hex[:6]}")["data"]["id"]
    alias = identity.create_or_update_entity_alias("dana", first, accessor)["data"]
    assert alias["canonical_id"] == first
    read = identity.read_entity_alias(alias["id"])["data"]
    assert read["name"] == "dana" and read["mount_accessor"] == accessor
    assert read["mount_type"] == "userpass"

    with pytest.raises(hvac.exceptions.InvalidRequest) as caught:
        identity.create_or_update_entity_alias("dana", second, accessor)
    assert caught.value.errors == [
        "alias with combination of mount accessor and name already exists"
    ]
    # The same pair for the same entity is an update, not a second alias.
    again = identity.create_or_update_entity_alias("dana", first, accessor)["data"]
    assert again["id"] == alias["id"]
    assert [a["id"] for a in identity.read_entity(first)["data"]["aliases"]] == [alias["id"]]
    with pytest.raises(hvac.exceptions.InvalidRequest, match="invalid mount accessor"):
        identity.create_or_update_entity_alias("dana", first, "auth_userpass_nope")
    assert alias["id"] in identity.list_entity_aliases()["data"]["keys"]
    # Without canonical_id, Vault gives the alias a new entity of its own.
    orphan = root.adapter.post(
        "/v1/identity/entity-alias", json={"name": "solo", "mount_accessor": accessor}
    )["data"]
    assert orphan["canonical_id"] not in (first, second)
    solo = identity.read_entity(orphan["canonical_id"])["data"]
    assert [a["name"] for a in solo["aliases"]] == ["solo"]
    identity.delete_entity_alias(alias["id"])
    assert identity.read_entity(first)["data"]["aliases"] == []


def test_login_creates_one_entity_and_reuses_it(dev_server: HushProcess) -> None:
    root = dev_server.client()
    mount, accessor = _mount(root)
    _user(root, mount, "erin")
    first = _login(dev_server, mount, "erin")
    assert first["entity_id"]
    second = _login(dev_server, mount, "erin")
    assert second["entity_id"] == first["entity_id"]
    entity = root.secrets.identity.read_entity(first["entity_id"])["data"]
    assert [(a["name"], a["mount_accessor"]) for a in entity["aliases"]] == [("erin", accessor)]
    assert entity["aliases"][0]["metadata"] == {"username": "erin"}
    me = dev_server.client(token=first["client_token"]).auth.token.lookup_self()["data"]
    assert me["entity_id"] == first["entity_id"]
    found = root.secrets.identity.lookup_entity(alias_name="erin", alias_mount_accessor=accessor)
    assert found["data"]["id"] == first["entity_id"]


def test_concurrent_first_logins_make_one_entity(dev_server: HushProcess) -> None:
    root = dev_server.client()
    mount, accessor = _mount(root)
    _user(root, mount, "frank")
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        auths = list(pool.map(lambda _: _login(dev_server, mount, "frank"), range(8)))
    assert len({a["entity_id"] for a in auths}) == 1
    aliases = root.secrets.identity.list_entity_aliases()["data"]["key_info"]
    assert [k for k, v in aliases.items() if v["mount_accessor"] == accessor] != []
    assert len([k for k, v in aliases.items() if v["mount_accessor"] == accessor]) == 1


def test_group_policies_apply_to_existing_tokens(dev_server: HushProcess) -> None:
    root = dev_server.client()
    mount, _ = _mount(root)
    _user(root, mount, "gina")
    root.secrets.kv.v1.create_or_update_secret("idt/gina", {"v": "1"}, mount_point="secret")
    _policy(root, "idt-read", "secret/idt/*")
    auth = _login(dev_server, mount, "gina")
    gina = dev_server.client(token=auth["client_token"])
    with pytest.raises(hvac.exceptions.Forbidden):
        gina.secrets.kv.v1.read_secret("idt/gina", mount_point="secret")

    parent_name, child_name = f"parent-{uuid.uuid4().hex[:6]}", f"child-{uuid.uuid4().hex[:6]}"
    parent = root.secrets.identity.create_or_update_group(name=parent_name, policies=["idt-read"])[
        "data"
    ]["id"]
    child = root.secrets.identity.create_or_update_group(
        name=child_name, member_entity_ids=[auth["entity_id"]]
    )["data"]["id"]
    with pytest.raises(hvac.exceptions.Forbidden):
        gina.secrets.kv.v1.read_secret("idt/gina", mount_point="secret")
    # Nesting: the child becomes a member of the parent, so its members gain the parent's policy.
    root.secrets.identity.update_group(parent, parent_name, member_group_ids=[child])
    assert gina.secrets.kv.v1.read_secret("idt/gina", mount_point="secret")["data"] == {"v": "1"}
    me = gina.auth.token.lookup_self()["data"]
    assert me["identity_policies"] == ["idt-read"] and me["policies"] == ["default"]
    group = root.secrets.identity.read_group(child)["data"]
    assert group["parent_group_ids"] == [parent]
    entity = root.secrets.identity.read_entity(auth["entity_id"])["data"]
    assert entity["direct_group_ids"] == [child] and entity["inherited_group_ids"] == [parent]

    # A new login shows the identity policies in its auth block.
    again = _login(dev_server, mount, "gina")
    assert again["identity_policies"] == ["idt-read"]
    assert again["policies"] == ["default", "idt-read"] and again["token_policies"] == ["default"]

    with pytest.raises(hvac.exceptions.InvalidRequest, match="cycle"):
        root.secrets.identity.update_group(child, child_name, member_group_ids=[parent])

    root.secrets.identity.update_group(parent, parent_name, policies=[], member_group_ids=[child])
    with pytest.raises(hvac.exceptions.Forbidden):
        gina.secrets.kv.v1.read_secret("idt/gina", mount_point="secret")


def test_disabled_entity_refuses_its_tokens_and_logins(dev_server: HushProcess) -> None:
    root = dev_server.client()
    mount, _ = _mount(root)
    _user(root, mount, "hal")
    auth = _login(dev_server, mount, "hal")
    hal = dev_server.client(token=auth["client_token"])
    assert hal.auth.token.lookup_self()["data"]["entity_id"] == auth["entity_id"]
    root.secrets.identity.update_entity(auth["entity_id"], disabled=True)
    with pytest.raises(hvac.exceptions.Forbidden):
        hal.auth.token.lookup_self()
    with pytest.raises(hvac.exceptions.Forbidden):
        _login(dev_server, mount, "hal")
    root.secrets.identity.update_entity(auth["entity_id"], disabled=False)
    assert hal.auth.token.lookup_self()["data"]["entity_id"] == auth["entity_id"]


def test_external_group_membership_follows_group_aliases(dev_server: HushProcess) -> None:
    root = dev_server.client()
    identity = root.secrets.identity
    _, accessor = _mount(root)
    group = identity.create_or_update_group(
        name=f"ext-{uuid.uuid4().hex[:6]}", group_type="external", policies=["ext-pol"]
    )["data"]["id"]
    alias = identity.create_or_update_group_alias(
        "admins", mount_accessor=accessor, canonical_id=group
    )["data"]
    assert identity.read_group(group)["data"]["alias"]["id"] == alias["id"]
    assert identity.read_group_alias(alias["id"])["data"]["canonical_id"] == group
    found = identity.lookup_group(alias_name="admins", alias_mount_accessor=accessor)
    assert found["data"]["id"] == group
    entity = identity.create_or_update_entity(name=f"x-{uuid.uuid4().hex[:6]}")["data"]
    with pytest.raises(hvac.exceptions.InvalidRequest, match="external groups"):
        root.adapter.post(
            f"/v1/identity/group/id/{group}", json={"member_entity_ids": [entity["id"]]}
        )
    with pytest.raises(hvac.exceptions.InvalidRequest, match="type cannot be changed"):
        root.adapter.post(f"/v1/identity/group/id/{group}", json={"type": "internal"})
    internal = identity.create_or_update_group(name=f"int-{uuid.uuid4().hex[:6]}")["data"]["id"]
    with pytest.raises(hvac.exceptions.InvalidRequest, match="internal group"):
        identity.create_or_update_group_alias(
            "devs", mount_accessor=accessor, canonical_id=internal
        )
    with pytest.raises(hvac.exceptions.InvalidRequest, match="already in use"):
        identity.create_or_update_group_alias("admins", mount_accessor=accessor, canonical_id=group)


def test_entity_merge_moves_aliases_and_policies(dev_server: HushProcess) -> None:
    root = dev_server.client()
    identity = root.secrets.identity
    mount_a, _ = _mount(root)
    mount_b, _ = _mount(root)
    _user(root, mount_a, "ivy")
    _user(root, mount_b, "ivy2")
    first = _login(dev_server, mount_a, "ivy")["entity_id"]
    second_login = _login(dev_server, mount_b, "ivy2")
    second = second_login["entity_id"]
    assert first != second
    identity.update_entity(second, policies=["from-second"])
    identity.merge_entities(from_entity_ids=[second], to_entity_id=first)
    merged = identity.read_entity(first)["data"]
    assert len(merged["aliases"]) == 2 and "from-second" in merged["policies"]
    assert merged["merged_entity_ids"] == [second]
    with pytest.raises(hvac.exceptions.InvalidPath):
        identity.read_entity(second)
    assert _login(dev_server, mount_b, "ivy2")["entity_id"] == first
    # Tokens of the merged-away entity act for the entity it was merged into (Vault).
    old = dev_server.client(token=second_login["client_token"]).auth.token.lookup_self()["data"]
    assert old["entity_id"] == second and old["identity_policies"] == ["from-second"]


def test_batch_delete_and_bad_input(dev_server: HushProcess) -> None:
    identity = dev_server.client().secrets.identity
    ids = [
        identity.create_or_update_entity(name=f"bd-{uuid.uuid4().hex[:6]}")["data"]["id"]
        for _ in range(3)
    ]
    dev_server.client().adapter.post(
        "/v1/identity/entity/batch-delete", json={"entity_ids": ids[:2]}
    )
    assert identity.read_entity(ids[2])["data"]["id"] == ids[2]
    for gone in ids[:2]:
        with pytest.raises(hvac.exceptions.InvalidPath):
            identity.read_entity(gone)
    with pytest.raises(hvac.exceptions.InvalidRequest, match="entity not found"):
        identity.update_entity("does-not-exist", policies=["x"])
    with pytest.raises(hvac.exceptions.InvalidRequest, match="one of id, name"):
        identity.lookup_entity()
    with pytest.raises(hvac.exceptions.InvalidRequest, match="must be one of"):
        dev_server.client().adapter.post(
            "/v1/identity/group", json={"name": "bad-type", "type": "weird"}
        )


def test_token_create_with_entity_alias_through_a_role(dev_server: HushProcess) -> None:
    root = dev_server.client()
    role = f"svc-{uuid.uuid4().hex[:6]}"
    root.adapter.post(
        f"/v1/auth/token/roles/{role}", json={"allowed_entity_aliases": ["build-*", "Deploy"]}
    )

    def create(alias: str, role_name: str | None = role) -> dict[str, Any]:
        body: dict[str, Any] = {"entity_alias": alias, "policies": ["default"]}
        path = f"/v1/auth/token/create/{role_name}" if role_name else "/v1/auth/token/create"
        auth: dict[str, Any] = root.adapter.post(path, json=body)["auth"]
        return auth

    first = create("build-1")
    assert first["entity_id"] and create("build-1")["entity_id"] == first["entity_id"]
    assert create("deploy")["entity_id"] not in ("", first["entity_id"])
    entity = root.secrets.identity.read_entity(first["entity_id"])["data"]
    alias = entity["aliases"][0]
    assert (alias["name"], alias["mount_type"], alias["mount_accessor"]) == (
        "build-1",
        "token",
        "auth_token_builtin",
    )
    me = dev_server.client(token=first["client_token"]).auth.token.lookup_self()["data"]
    assert me["entity_id"] == first["entity_id"]
    with pytest.raises(hvac.exceptions.InvalidRequest, match="invalid 'entity_alias' value"):
        create("other")
    with pytest.raises(hvac.exceptions.InvalidRequest, match="only allowed in combination"):
        create("build-1", None)


def test_identity_survives_a_restart(sealed_server: ServerFactory) -> None:
    server = sealed_server("sqlite")
    init = server.client().sys.initialize(secret_shares=1, secret_threshold=1)
    root = server.client(init["root_token"])
    root.sys.submit_unseal_keys(init["keys"])
    root.sys.enable_auth_method("userpass")
    root.auth.userpass.create_or_update_user("kim", password="pw-kim")
    first = _login(server, "userpass", "kim")
    group = root.secrets.identity.create_or_update_group(
        name="kept", policies=["kept-pol"], member_entity_ids=[first["entity_id"]]
    )["data"]["id"]

    server.restart()
    root.sys.submit_unseal_keys(init["keys"])
    again = _login(server, "userpass", "kim")
    assert again["entity_id"] == first["entity_id"]
    assert again["identity_policies"] == ["kept-pol"]
    assert root.secrets.identity.read_group(group)["data"]["member_entity_ids"] == [
        first["entity_id"]
    ]
    old = server.client(token=first["client_token"]).auth.token.lookup_self()["data"]
    assert old["identity_policies"] == ["kept-pol"]
