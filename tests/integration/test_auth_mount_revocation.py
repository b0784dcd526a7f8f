"""Disabling an auth method revokes what its logins minted; ``sys/revoke-prefix`` does on demand."""

from __future__ import annotations

import uuid
from typing import Any

import hvac
import hvac.exceptions
import pytest

from tests.support.server import HushProcess


def _login(server: HushProcess, mount: str, name: str) -> dict[str, Any]:
    client = hvac.Client(url=server.url, verify=server.verify)
    auth: dict[str, Any] = client.auth.userpass.login(
        name, "pw", mount_point=mount, use_token=False
    )["auth"]
    return auth


def _refused(server: HushProcess, token: str) -> None:
    with pytest.raises(hvac.exceptions.Forbidden):
        server.client(token=token).auth.token.lookup_self()


def _userpass(root: hvac.Client, *users: tuple[str, str]) -> str:
    mount = f"up-{uuid.uuid4().hex[:8]}"
    root.sys.enable_auth_method("userpass", path=mount)
    for name, token_type in users:
        root.auth.userpass.create_or_update_user(
            name, password="pw", mount_point=mount, token_type=token_type, policies=["maker"]
        )
    return mount


def test_disabling_userpass_revokes_its_tokens(dev_server: HushProcess) -> None:
    root = dev_server.client()
    root.sys.create_or_update_policy(
        "maker", 'path "auth/token/create" { capabilities = ["update"] }'
    )
    mount = _userpass(root, ("ann", "service"), ("bat", "batch"))
    service = _login(dev_server, mount, "ann")
    batch = _login(dev_server, mount, "bat")
    assert batch["token_type"] == "batch"
    child = dev_server.client(token=service["client_token"]).auth.token.create(policies=["default"])
    other = root.auth.token.create(policies=["default"])["auth"]["client_token"]
    for token in (service["client_token"], batch["client_token"], child["auth"]["client_token"]):
        assert dev_server.client(token=token).auth.token.lookup_self()["data"]

    root.sys.disable_auth_method(mount)
    _refused(dev_server, service["client_token"])
    _refused(dev_server, child["auth"]["client_token"])
    _refused(dev_server, batch["client_token"])
    with pytest.raises(hvac.exceptions.InvalidRequest):
        root.auth.token.lookup_accessor(service["accessor"])
    assert dev_server.client(token=other).auth.token.lookup_self()["data"]

    # Re-enabling the method at the same path does not bring old tokens back.
    root.sys.enable_auth_method("userpass", path=mount)
    _refused(dev_server, service["client_token"])
    _refused(dev_server, batch["client_token"])


def test_revoke_prefix_revokes_login_tokens_and_keeps_the_mount(dev_server: HushProcess) -> None:
    root = dev_server.client()
    mount = _userpass(root, ("cat", "service"), ("dan", "service"))
    cat, dan = _login(dev_server, mount, "cat"), _login(dev_server, mount, "dan")
    unrelated = _userpass(root, ("eve", "service"))
    eve = _login(dev_server, unrelated, "eve")

    root.adapter.post(f"/v1/sys/revoke-prefix/auth/{mount}/login/cat")
    _refused(dev_server, cat["client_token"])
    assert dev_server.client(token=dan["client_token"]).auth.token.lookup_self()["data"]

    with pytest.raises(hvac.exceptions.Forbidden):
        dev_server.client(token=dan["client_token"]).adapter.post(
            f"/v1/sys/revoke-prefix/auth/{mount}"
        )
    root.adapter.post(f"/v1/sys/revoke-prefix/auth/{mount}/")
    _refused(dev_server, dan["client_token"])
    assert dev_server.client(token=eve["client_token"]).auth.token.lookup_self()["data"]
    assert _login(dev_server, mount, "cat")["client_token"]  # the method still works
