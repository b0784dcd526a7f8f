"""Response wrapping and cubbyholes through hvac."""

from __future__ import annotations

import hvac
import hvac.exceptions
import pytest

from tests.support.server import HushProcess


@pytest.fixture(scope="module")
def root(dev_server: HushProcess) -> hvac.Client:
    client = dev_server.client()
    client.secrets.kv.v1.create_or_update_secret("wrapped", {"pw": "s3cret"}, mount_point="secret")
    return client


def _child(root: hvac.Client, dev_server: HushProcess, **kwargs: object) -> hvac.Client:
    token = root.auth.token.create(**kwargs)["auth"]["client_token"]
    return dev_server.client(token)


def test_cubbyhole_is_private_to_each_token(dev_server: HushProcess, root: hvac.Client) -> None:
    alice = _child(root, dev_server, policies=["default"])
    bob = _child(root, dev_server, policies=["default"])
    alice.write("cubbyhole/note", value="alice-only")
    assert alice.read("cubbyhole/note")["data"] == {"value": "alice-only"}
    assert alice.list("cubbyhole/")["data"]["keys"] == ["note"]
    assert bob.read("cubbyhole/note") is None
    assert root.read("cubbyhole/note") is None
    token = alice.token
    root.auth.token.revoke(token)
    # A new token with the same policies starts empty; the old cubbyhole is gone with its token.
    assert _child(root, dev_server, policies=["default"]).read("cubbyhole/note") is None


def test_wrapped_read_unwraps_exactly_once(dev_server: HushProcess, root: hvac.Client) -> None:
    wrapped = root.read("secret/wrapped", wrap_ttl="2m")
    assert wrapped["data"] is None
    info = wrapped["wrap_info"]
    assert info["ttl"] == 120 and info["creation_path"] == "secret/wrapped"
    looked = (
        root.sys.read_wrapping_properties(info["token"])
        if hasattr(root.sys, "read_wrapping_properties")
        else root.write("sys/wrapping/lookup", token=info["token"])
    )
    assert looked["data"]["creation_ttl"] == 120
    anonymous = dev_server.client("")
    unwrapped = anonymous.sys.unwrap(info["token"])
    assert unwrapped["data"] == {"pw": "s3cret"}
    with pytest.raises(hvac.exceptions.InvalidRequest) as info_error:
        anonymous.sys.unwrap(info["token"])
    assert "not valid" in str(info_error.value)
    with pytest.raises(hvac.exceptions.InvalidRequest):
        root.write("sys/wrapping/lookup", token=info["token"])


def test_wrapped_token_creation_and_rewrap(dev_server: HushProcess, root: hvac.Client) -> None:
    created = root.auth.token.create(policies=["default"], wrap_ttl="60s")
    first = created["wrap_info"]["token"]
    assert created["auth"] is None
    rewrapped = root.write("sys/wrapping/rewrap", token=first)["wrap_info"]["token"]
    assert rewrapped != first
    with pytest.raises(hvac.exceptions.InvalidRequest):
        root.sys.unwrap(first)
    inner = root.sys.unwrap(rewrapped)["auth"]["client_token"]
    assert dev_server.client(inner).is_authenticated()


def test_wrap_arbitrary_data_needs_the_header(dev_server: HushProcess, root: hvac.Client) -> None:
    with pytest.raises(hvac.exceptions.InvalidRequest):
        root.write_data("sys/wrapping/wrap", data={"secret": "x"})
    wrapped = root.write_data("sys/wrapping/wrap", data={"secret": "x"}, wrap_ttl="30s")
    assert root.sys.unwrap(wrapped["wrap_info"]["token"])["data"] == {"secret": "x"}
    with pytest.raises(hvac.exceptions.InvalidRequest):
        root.read("secret/wrapped", wrap_ttl="1x")


def test_policy_wrapping_ttl_bounds_are_enforced(
    dev_server: HushProcess, root: hvac.Client
) -> None:
    root.sys.create_or_update_policy(
        "must-wrap",
        'path "secret/wrapped" {\n  capabilities = ["read"]\n'
        '  min_wrapping_ttl = "10s"\n  max_wrapping_ttl = "5m"\n}\n',
    )
    client = _child(root, dev_server, policies=["must-wrap"])
    with pytest.raises(hvac.exceptions.Forbidden):
        client.read("secret/wrapped")
    with pytest.raises(hvac.exceptions.Forbidden):
        client.read("secret/wrapped", wrap_ttl="1h")
    wrapped = client.read("secret/wrapped", wrap_ttl="1m")
    assert root.sys.unwrap(wrapped["wrap_info"]["token"])["data"] == {"pw": "s3cret"}
