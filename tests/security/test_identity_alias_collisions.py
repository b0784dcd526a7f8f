"""Identity alias collisions: two people must never share an entity, or each other's policies.

Classes covered: the same name on two mounts; case, whitespace and Unicode variants of a name on
a case-sensitive method (AppRole role ids); attaching or moving an alias without ``identity/``
permission; merging without the merge endpoint's ACL; ``root`` through an entity or a group.
"""

from __future__ import annotations

import uuid
from typing import Any

import hvac
import hvac.exceptions
import pytest

from tests.support.server import HushProcess

_VICTIM_POLICY = 'path "secret/data/victim/*" { capabilities = ["read"] }'


def _anonymous(server: HushProcess) -> hvac.Client:
    return hvac.Client(url=server.url, verify=server.verify)


def _userpass_mount(root: hvac.Client) -> tuple[str, str]:
    path = f"up-{uuid.uuid4().hex[:8]}"
    root.sys.enable_auth_method("userpass", path=path)
    return path, root.sys.list_auth_methods()["data"][f"{path}/"]["accessor"]


def _userpass_login(server: HushProcess, mount: str, name: str) -> dict[str, Any]:
    auth: dict[str, Any] = _anonymous(server).auth.userpass.login(
        name, "pw", mount_point=mount, use_token=False
    )["auth"]
    return auth


def _victim_secret(root: hvac.Client) -> None:
    root.sys.create_or_update_policy("victim-only", _VICTIM_POLICY)
    root.secrets.kv.v2.create_or_update_secret("victim/s", {"v": "mine"}, mount_point="secret")


def _reads_victim_secret(server: HushProcess, token: str) -> bool:
    try:
        server.client(token=token).secrets.kv.v2.read_secret_version(
            "victim/s", mount_point="secret", raise_on_deleted_version=True
        )
    except hvac.exceptions.Forbidden:
        return False
    return True


def test_same_name_on_two_mounts_never_shares_an_entity(kv2_server: HushProcess) -> None:
    root = kv2_server.client()
    _victim_secret(root)
    first, _ = _userpass_mount(root)
    second, _ = _userpass_mount(root)
    for mount in (first, second):
        root.auth.userpass.create_or_update_user("alice", password="pw", mount_point=mount)
    victim = _userpass_login(kv2_server, first, "alice")
    other = _userpass_login(kv2_server, second, "alice")
    assert victim["entity_id"] != other["entity_id"]
    root.secrets.identity.update_entity(victim["entity_id"], policies=["victim-only"])
    assert _reads_victim_secret(kv2_server, victim["client_token"])
    assert not _reads_victim_secret(kv2_server, other["client_token"])
    assert not _reads_victim_secret(
        kv2_server, _userpass_login(kv2_server, second, "alice")["client_token"]
    )


def test_case_space_and_unicode_variants_do_not_merge_on_case_sensitive_methods(
    kv2_server: HushProcess,
) -> None:
    root = kv2_server.client()
    _victim_secret(root)
    mount = f"ar-{uuid.uuid4().hex[:8]}"
    root.sys.enable_auth_method("approle", path=mount)
    # AppRole trims role ids at login (as Vault does), so inner variants stand in for spacing;
    # surrounding whitespace is covered by the identity unit tests.
    role_ids = ["alice", "Alice", "ALICE", "al ice", "\uff41lice", "alice\u200b", "ali\u0107e"]
    tokens: dict[str, dict[str, Any]] = {}
    for index, role_id in enumerate(role_ids):
        role = f"r{index}"
        root.write(f"auth/{mount}/role/{role}", token_policies="default")
        root.write(f"auth/{mount}/role/{role}/role-id", role_id=role_id)
        secret_id = root.write(f"auth/{mount}/role/{role}/secret-id")["data"]["secret_id"]
        login = _anonymous(kv2_server).auth.approle.login(
            role_id, secret_id, mount_point=mount, use_token=False
        )
        tokens[role_id] = login["auth"]
    entities = {auth["entity_id"] for auth in tokens.values()}
    assert len(entities) == len(role_ids)
    root.secrets.identity.update_entity(tokens["alice"]["entity_id"], policies=["victim-only"])
    assert _reads_victim_secret(kv2_server, tokens["alice"]["client_token"])
    for role_id in role_ids[1:]:
        assert not _reads_victim_secret(kv2_server, tokens[role_id]["client_token"]), role_id


def test_attaching_or_moving_aliases_needs_identity_permission(kv2_server: HushProcess) -> None:
    root = kv2_server.client()
    _victim_secret(root)
    mount, accessor = _userpass_mount(root)
    for name in ("victim", "mallory"):
        root.auth.userpass.create_or_update_user(name, password="pw", mount_point=mount)
    victim = _userpass_login(kv2_server, mount, "victim")
    mallory = _userpass_login(kv2_server, mount, "mallory")
    root.secrets.identity.update_entity(victim["entity_id"], policies=["victim-only"])
    attacker = kv2_server.client(token=mallory["client_token"])

    # Without identity/ permission: attaching an alias or merging is refused outright.
    with pytest.raises(hvac.exceptions.Forbidden):
        attacker.secrets.identity.create_or_update_entity_alias(
            "mallory2", victim["entity_id"], accessor
        )
    with pytest.raises(hvac.exceptions.Forbidden):
        attacker.secrets.identity.merge_entities(
            from_entity_ids=[victim["entity_id"]], to_entity_id=mallory["entity_id"]
        )
    with pytest.raises(hvac.exceptions.Forbidden):
        attacker.secrets.identity.update_entity(mallory["entity_id"], policies=["victim-only"])

    # Even with alias-write permission, a create cannot take over the victim's login identity.
    root.sys.create_or_update_policy(
        "alias-writer", 'path "identity/entity-alias" { capabilities = ["create", "update"] }'
    )
    alias_writer = kv2_server.client(
        token=root.auth.token.create(policies=["alias-writer"])["auth"]["client_token"]
    )
    with pytest.raises(hvac.exceptions.InvalidRequest) as caught:
        alias_writer.secrets.identity.create_or_update_entity_alias(
            "victim", mallory["entity_id"], accessor
        )
    assert caught.value.errors == [
        "alias with combination of mount accessor and name already exists"
    ]
    with pytest.raises(hvac.exceptions.Forbidden):
        alias_writer.secrets.identity.merge_entities(
            from_entity_ids=[victim["entity_id"]], to_entity_id=mallory["entity_id"]
        )
    again = _userpass_login(kv2_server, mount, "mallory")
    assert again["entity_id"] == mallory["entity_id"]
    assert not _reads_victim_secret(kv2_server, again["client_token"])
    assert _userpass_login(kv2_server, mount, "victim")["entity_id"] == victim["entity_id"]


@pytest.mark.parametrize("spelling", ["root", "Root", " root", "root ", "\uff52oot", "ROOT\t"])
def test_identity_policies_never_grant_root(kv2_server: HushProcess, spelling: str) -> None:
    root = kv2_server.client()
    identity = root.secrets.identity
    with pytest.raises(hvac.exceptions.InvalidRequest, match="policies cannot contain root"):
        identity.create_or_update_group(
            name=f"g-{uuid.uuid4().hex[:6]}", policies=["default", spelling]
        )
    with pytest.raises(hvac.exceptions.InvalidRequest, match="policies cannot contain root"):
        identity.create_or_update_entity(name=f"e-{uuid.uuid4().hex[:6]}", policies=[spelling])
    entity = identity.create_or_update_entity(name=f"e-{uuid.uuid4().hex[:6]}")["data"]["id"]
    with pytest.raises(hvac.exceptions.InvalidRequest, match="policies cannot contain root"):
        identity.update_entity(entity, policies=["ops", spelling])
    assert identity.read_entity(entity)["data"]["policies"] == []


def test_group_policies_do_not_leak_to_non_members(kv2_server: HushProcess) -> None:
    root = kv2_server.client()
    _victim_secret(root)
    mount, _ = _userpass_mount(root)
    for name in ("member", "outsider"):
        root.auth.userpass.create_or_update_user(name, password="pw", mount_point=mount)
    member = _userpass_login(kv2_server, mount, "member")
    outsider = _userpass_login(kv2_server, mount, "outsider")
    root.secrets.identity.create_or_update_group(
        name=f"vg-{uuid.uuid4().hex[:6]}",
        policies=["victim-only"],
        member_entity_ids=[member["entity_id"]],
    )
    assert _reads_victim_secret(kv2_server, member["client_token"])
    assert not _reads_victim_secret(kv2_server, outsider["client_token"])
    # A child token created by the outsider does not pick up anyone else's identity either.
    root.sys.create_or_update_policy(
        "child-maker", 'path "auth/token/create" { capabilities = ["update"] }'
    )
    root.auth.userpass.create_or_update_user(
        "outsider", password="pw", policies=["child-maker"], mount_point=mount
    )
    outsider = _userpass_login(kv2_server, mount, "outsider")
    child = kv2_server.client(token=outsider["client_token"]).auth.token.create(
        policies=["default"]
    )
    assert (
        kv2_server.client(token=child["auth"]["client_token"]).auth.token.lookup_self()["data"][
            "entity_id"
        ]
        == outsider["entity_id"]
    )
    assert not _reads_victim_secret(kv2_server, child["auth"]["client_token"])
