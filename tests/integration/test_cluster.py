"""All-active cluster: three nodes on one PostgreSQL database see each other's changes at once.

Every check below runs on the very next request after the change returned on another node, with
no sleep in between: the authorisation epoch (read once per request) makes that true.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import hvac
import hvac.exceptions
import pytest

from tests.support.cluster import Cluster, fresh_database, start_cluster

pytestmark = pytest.mark.postgres


@pytest.fixture
def three_nodes(tmp_path: Path, pg_dsn: str) -> Iterator[Cluster]:
    """Three nodes on a database of their own (created and dropped by the test)."""
    with fresh_database(pg_dsn) as dsn:
        cluster = start_cluster(tmp_path, 3, "postgresql", connection_url=dsn)
        try:
            yield cluster
        finally:
            cluster.stop()


def test_secret_written_on_node_1_is_read_on_node_3_at_once(three_nodes: Cluster) -> None:
    one, _, three = (node.client() for node in three_nodes.nodes)
    one.sys.enable_secrets_engine("kv", path="secret", options={"version": "2"})
    one.secrets.kv.v2.create_or_update_secret("app/db", {"password": "s3cret"})
    read = three.secrets.kv.v2.read_secret_version("app/db", raise_on_deleted_version=True)
    assert read["data"]["data"] == {"password": "s3cret"}


def test_token_revoked_on_node_2_is_refused_by_nodes_1_and_3_at_once(
    three_nodes: Cluster,
) -> None:
    root = three_nodes.nodes[0].client()
    token = root.auth.token.create(policies=["default"], ttl="1h")["auth"]["client_token"]
    one, two, three = (node.client(token) for node in three_nodes.nodes)
    assert one.auth.token.lookup_self()["data"]["policies"] == ["default"]
    assert three.auth.token.lookup_self()["data"]["policies"] == ["default"]
    three_nodes.nodes[1].client().auth.token.revoke(token)
    for client in (one, three):
        with pytest.raises(hvac.exceptions.Forbidden):
            client.auth.token.lookup_self()
    with pytest.raises(hvac.exceptions.Forbidden):
        two.auth.token.lookup_self()


def test_policy_narrowed_on_node_1_applies_on_node_2_at_once(three_nodes: Cluster) -> None:
    root_one = three_nodes.nodes[0].client()
    root_one.sys.enable_secrets_engine("kv", path="kv", options={"version": "1"})
    root_one.secrets.kv.v1.create_or_update_secret("team/a", {"v": "1"}, mount_point="kv")
    root_one.sys.create_or_update_policy("reader", 'path "kv/*" { capabilities = ["read"] }')
    token = root_one.auth.token.create(policies=["reader"])["auth"]["client_token"]
    two = three_nodes.nodes[1].client(token)
    assert two.secrets.kv.v1.read_secret("team/a", mount_point="kv")["data"] == {"v": "1"}
    root_one.sys.create_or_update_policy("reader", 'path "kv/other/*" { capabilities = ["read"] }')
    with pytest.raises(hvac.exceptions.Forbidden):
        two.secrets.kv.v1.read_secret("team/a", mount_point="kv")


def test_mount_enabled_on_node_3_is_usable_on_node_1_at_once(three_nodes: Cluster) -> None:
    one, two, three = (node.client() for node in three_nodes.nodes)
    three.sys.enable_secrets_engine("kv", path="fresh", options={"version": "1"})
    one.secrets.kv.v1.create_or_update_secret("x", {"y": "z"}, mount_point="fresh")
    assert two.secrets.kv.v1.read_secret("x", mount_point="fresh")["data"] == {"y": "z"}
    # Disabling is just as immediate: the mount is gone everywhere on the next request.
    two.sys.disable_secrets_engine("fresh")
    with pytest.raises(hvac.exceptions.InvalidPath):
        one.secrets.kv.v1.read_secret("x", mount_point="fresh")


def test_auth_method_and_audit_device_changes_reach_every_node(
    three_nodes: Cluster, tmp_path: Path
) -> None:
    one, two, three = (node.client() for node in three_nodes.nodes)
    one.sys.enable_auth_method("userpass")
    two.write("auth/userpass/users/alice", password="correct horse", policies="default")
    login = hvac.Client(url=three_nodes.nodes[2].url)
    login.auth.userpass.login("alice", "correct horse")
    assert login.is_authenticated()
    audit_file = tmp_path / "audit.log"
    three.sys.enable_audit_device("file", options={"file_path": str(audit_file)})
    one.sys.list_mounted_secrets_engines()  # node 1 must now record its requests
    assert "sys/mounts" in audit_file.read_text()
    assert "file/" in two.sys.list_enabled_audit_devices()["data"]


def test_keyring_rotated_on_one_node_is_used_by_the_others(three_nodes: Cluster) -> None:
    one, two, three = (node.client() for node in three_nodes.nodes)
    one.sys.enable_secrets_engine("kv", path="kv", options={"version": "1"})
    one.secrets.kv.v1.create_or_update_secret("before", {"v": "1"}, mount_point="kv")
    term = two.sys.rotate_encryption_key() or two.sys.get_encryption_key_status()
    status = three.sys.get_encryption_key_status()
    assert status["term"] == 2
    three.secrets.kv.v1.create_or_update_secret("after", {"v": "2"}, mount_point="kv")
    for client in (one, two, three):
        assert client.secrets.kv.v1.read_secret("before", mount_point="kv")["data"] == {"v": "1"}
        assert client.secrets.kv.v1.read_secret("after", mount_point="kv")["data"] == {"v": "2"}
    assert term is not None


def test_kv_v2_cas_allows_exactly_one_of_two_nodes(three_nodes: Cluster) -> None:
    one, two, _ = (node.client() for node in three_nodes.nodes)
    one.sys.enable_secrets_engine("kv", path="secret", options={"version": "2"})
    one.secrets.kv.v2.create_or_update_secret("race", {"n": "0"})
    outcomes = []
    for client, value in ((one, "a"), (two, "b")):
        try:
            client.secrets.kv.v2.create_or_update_secret("race", {"n": value}, cas=1)
            outcomes.append("ok")
        except hvac.exceptions.InvalidRequest:
            outcomes.append("refused")
    assert outcomes == ["ok", "refused"]


def test_ha_status_and_leader_list_every_node(three_nodes: Cluster) -> None:
    urls = {node.url for node in three_nodes.nodes}
    client = three_nodes.nodes[0].client()
    deadline = time.monotonic() + 10
    nodes: list[dict[str, object]] = []
    while time.monotonic() < deadline:
        nodes = client.read("sys/ha-status")["data"]["nodes"]
        if {n["api_address"] for n in nodes} == urls:
            break
        time.sleep(0.2)
    assert {n["api_address"] for n in nodes} == urls
    assert sum(1 for n in nodes if n["active_node"]) == 1
    leaders = [node.client().sys.read_leader_status() for node in three_nodes.nodes]
    assert all(leader["ha_enabled"] for leader in leaders)
    assert sum(1 for leader in leaders if leader["is_self"]) == 1
    assert {leader["leader_address"] for leader in leaders} <= urls


def test_transit_key_rotated_on_one_node_is_current_on_another(three_nodes: Cluster) -> None:
    one, two, _ = (node.client() for node in three_nodes.nodes)
    one.sys.enable_secrets_engine("transit")
    one.secrets.transit.create_key("app")
    two.secrets.transit.encrypt_data("app", "aGVsbG8=")  # node 2 has version 1 cached now
    one.secrets.transit.rotate_key("app")
    sealed = two.secrets.transit.encrypt_data("app", "aGVsbG8=")["data"]["ciphertext"]
    assert sealed.startswith("vault:v2:")
    assert one.secrets.transit.decrypt_data("app", sealed)["data"]["plaintext"] == "aGVsbG8="
    one.secrets.transit.update_key_configuration("app", deletion_allowed=True)
    one.secrets.transit.delete_key("app")
    with pytest.raises(hvac.exceptions.InvalidPath):
        two.secrets.transit.read_key("app")
