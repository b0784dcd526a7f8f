"""userpass and AppRole through hvac against a real dev server: what a user of either sees."""

from __future__ import annotations

import functools
import time
from typing import Any

import hvac
import hvac.exceptions
import pytest

from tests.support.server import HushProcess


def anonymous(server: HushProcess) -> hvac.Client:
    """A client with no token, as a login starts."""
    return hvac.Client(url=server.url, verify=server.verify)


def logged_in(server: HushProcess, auth: dict[str, Any]) -> hvac.Client:
    """A client using the token a login returned."""
    return server.client(token=auth["client_token"])


def refused(call: Any, message: str) -> None:
    with pytest.raises(hvac.exceptions.InvalidRequest) as caught:
        call()
    assert caught.value.errors == [message]


# -- userpass -------------------------------------------------------------------------------


def test_userpass_user_lifecycle_and_login(dev_server: HushProcess) -> None:
    root = dev_server.client()
    root.sys.enable_auth_method("userpass")
    assert "userpass/" in root.sys.list_auth_methods()["data"]
    root.auth.userpass.create_or_update_user("Bob", password="s3cret", policies=["dev"])
    user = root.auth.userpass.read_user("bob")["data"]
    assert user["token_policies"] == ["dev"] and user["policies"] == ["dev"]
    assert user["token_type"] == "default" and user["token_bound_cidrs"] == []
    assert root.auth.userpass.list_user()["data"]["keys"] == ["bob"]

    login = anonymous(dev_server).auth.userpass.login(" BOB", "s3cret", use_token=False)
    assert login["auth"]["policies"] == ["default", "dev"]
    assert login["auth"]["metadata"] == {"username": "bob"}
    me = logged_in(dev_server, login["auth"]).auth.token.lookup_self()["data"]
    assert me["display_name"] == "userpass-bob" and me["path"] == "auth/userpass/login/ BOB"

    root.auth.userpass.update_password_on_user("bob", "n3w")
    client = anonymous(dev_server)
    refused(lambda: client.auth.userpass.login("bob", "s3cret"), "invalid username or password")
    client.auth.userpass.login("bob", "n3w")
    assert client.is_authenticated()

    root.auth.userpass.delete_user("bob")
    with pytest.raises(hvac.exceptions.InvalidPath):
        root.auth.userpass.read_user("bob")


def test_userpass_failures_look_alike_and_lock_out(dev_server: HushProcess) -> None:
    root = dev_server.client()
    root.sys.enable_auth_method("userpass", path="up-lock")
    root.auth.userpass.create_or_update_user("carol", password="right", mount_point="up-lock")
    client = anonymous(dev_server)

    def attempt(name: str, password: str) -> None:
        client.auth.userpass.login(name, password, mount_point="up-lock", use_token=False)

    refused(lambda: attempt("nobody", "right"), "invalid username or password")
    for variant in ["Carol", "carol ", "CAROL", " carol", "cArOl"]:
        refused(functools.partial(attempt, variant, "wrong"), "invalid username or password")
    refused(lambda: attempt("carol", "right"), "invalid username or password")

    accessor = root.sys.list_auth_methods()["data"]["up-lock/"]["accessor"]
    locked = root.adapter.get("/v1/sys/locked-users")["data"]
    aliases = locked["by_namespace"][0]["mount_accessors"][0]
    assert aliases["mount_accessor"] == accessor and aliases["counts"] == 1
    root.adapter.post(f"/v1/sys/locked-users/{accessor}/unlock/carol")
    attempt("carol", "right")


def test_userpass_lockout_follows_the_mounts_tuning(dev_server: HushProcess) -> None:
    root = dev_server.client()
    root.sys.enable_auth_method("userpass", path="up-tune")
    root.sys.tune_auth_method(
        "up-tune", user_lockout_config={"lockout_threshold": "2", "lockout_duration": "5s"}
    )
    root.auth.userpass.create_or_update_user("dave", password="right", mount_point="up-tune")
    client = anonymous(dev_server)

    def attempt(password: str) -> None:
        client.auth.userpass.login("dave", password, mount_point="up-tune", use_token=False)

    for _ in range(2):
        refused(lambda: attempt("wrong"), "invalid username or password")
    locked_at = time.monotonic()
    # 5 s, not 1 s: the lockout must still hold when this attempt lands on a loaded machine.
    refused(lambda: attempt("right"), "invalid username or password")
    while True:  # attempts during a lockout are not counted, so polling does not extend it
        try:
            attempt("right")
            break
        except hvac.exceptions.InvalidRequest:
            assert time.monotonic() - locked_at < 15, "the lockout outlived lockout_duration"
            time.sleep(0.2)


# -- AppRole --------------------------------------------------------------------------------


def test_approle_role_secret_id_and_login(dev_server: HushProcess) -> None:
    root = dev_server.client()
    root.sys.enable_auth_method("approle")
    root.auth.approle.create_or_update_approle(
        "web", token_policies=["app"], token_ttl="10m", secret_id_ttl="1h"
    )
    role = root.auth.approle.read_role("web")["data"]
    assert role["token_policies"] == ["app"] and role["token_ttl"] == 600
    assert role["bind_secret_id"] is True and role["secret_id_ttl"] == 3600
    assert root.auth.approle.list_roles()["data"]["keys"] == ["web"]
    role_id = root.auth.approle.read_role_id("web")["data"]["role_id"]

    issued = root.auth.approle.generate_secret_id("web", metadata={"env": "ci"})["data"]
    assert issued["secret_id_ttl"] == 3600 and issued["secret_id_num_uses"] == 0
    looked_up = root.auth.approle.read_secret_id("web", issued["secret_id"])["data"]
    assert looked_up["metadata"] == {"env": "ci"}
    accessors = root.auth.approle.list_secret_id_accessors("web")["data"]["keys"]
    assert accessors == [issued["secret_id_accessor"]]
    by_accessor = root.auth.approle.read_secret_id_accessor("web", accessors[0])["data"]
    assert by_accessor["secret_id_accessor"] == accessors[0]

    login = anonymous(dev_server).auth.approle.login(role_id, issued["secret_id"], use_token=False)
    assert login["auth"]["policies"] == ["app", "default"]
    assert login["auth"]["metadata"] == {"env": "ci", "role_name": "web"}
    assert login["auth"]["lease_duration"] == 600
    me = logged_in(dev_server, login["auth"]).auth.token.lookup_self()["data"]
    assert me["policies"] == ["app", "default"]

    root.auth.approle.destroy_secret_id_accessor("web", accessors[0])
    client = anonymous(dev_server)
    refused(
        lambda: client.auth.approle.login(role_id, issued["secret_id"]),
        "invalid role or secret ID",
    )
    root.auth.approle.delete_role("web")
    with pytest.raises(hvac.exceptions.InvalidPath):
        root.auth.approle.read_role("web")


def test_approle_single_use_and_wrong_credentials(dev_server: HushProcess) -> None:
    root = dev_server.client()
    root.sys.enable_auth_method("approle", path="ar-once")
    root.auth.approle.create_or_update_approle("job", secret_id_num_uses=1, mount_point="ar-once")
    role_id = root.auth.approle.read_role_id("job", mount_point="ar-once")["data"]["role_id"]
    secret_id = root.auth.approle.generate_secret_id("job", mount_point="ar-once")["data"][
        "secret_id"
    ]
    client = anonymous(dev_server)

    def attempt(rid: str, sid: str) -> dict[str, Any]:
        response: dict[str, Any] = client.auth.approle.login(
            rid, sid, mount_point="ar-once", use_token=False
        )
        return response

    refused(lambda: attempt("not-a-role-id", secret_id), "invalid role or secret ID")
    refused(lambda: attempt(role_id, "not-a-secret-id"), "invalid role or secret ID")
    assert attempt(role_id, secret_id)["auth"]["client_token"]
    refused(lambda: attempt(role_id, secret_id), "invalid role or secret ID")


def test_approle_cidr_bound_secret_ids(dev_server: HushProcess) -> None:
    root = dev_server.client()
    root.sys.enable_auth_method("approle", path="ar-cidr")
    root.auth.approle.create_or_update_approle("svc", mount_point="ar-cidr")
    role_id = root.auth.approle.read_role_id("svc", mount_point="ar-cidr")["data"]["role_id"]
    elsewhere = root.auth.approle.generate_secret_id(
        "svc", cidr_list=["10.0.0.0/8"], mount_point="ar-cidr"
    )["data"]["secret_id"]
    here = root.auth.approle.generate_secret_id(
        "svc", cidr_list=["127.0.0.0/8"], token_bound_cidrs=["127.0.0.1"], mount_point="ar-cidr"
    )["data"]["secret_id"]
    client = anonymous(dev_server)
    refused(
        lambda: client.auth.approle.login(role_id, elsewhere, mount_point="ar-cidr"),
        "invalid role or secret ID",
    )
    login = client.auth.approle.login(role_id, here, mount_point="ar-cidr", use_token=False)
    me = logged_in(dev_server, login["auth"]).auth.token.lookup_self()["data"]
    assert me["bound_cidrs"] == ["127.0.0.1"]
