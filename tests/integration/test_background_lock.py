"""Background work runs on exactly one node; if that node dies another takes over within 10 s.

The observable periodic hook is AppRole's tidy of expired secret IDs: each node's AppRole
backend tidies on its first scheduler tick and then only every 60 s. So an expired secret ID that
stays listed proves the nodes without the background lock run no periodic work, and its
disappearance after ``kill -9`` of the holder proves another node took the work over.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cluster import Cluster, fresh_database, start_cluster
from tests.support.server import HushProcess

pytestmark = pytest.mark.postgres

TAKEOVER_LIMIT = 10.0


@pytest.fixture
def two_nodes(tmp_path: Path, pg_dsn: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cluster]:
    """Two nodes on a fresh database, ticking background work every 0.5 s."""
    monkeypatch.setenv("HUSH_SCHEDULER_INTERVAL", "0.5")
    with fresh_database(pg_dsn) as dsn:
        cluster = start_cluster(tmp_path, 2, "postgresql", connection_url=dsn)
        try:
            yield cluster
        finally:
            cluster.stop()


def _holder(cluster: Cluster, timeout: float = TAKEOVER_LIMIT) -> HushProcess:
    """The node whose sys/leader says it holds the background lock (waits for one)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for node in cluster.nodes:
            running = node.process is not None and node.process.poll() is None
            if running and node.client().sys.read_leader_status()["is_self"]:
                return node
        time.sleep(0.1)
    raise AssertionError("no node took the background lock")


def _accessors(node: HushProcess) -> list[str]:
    listed = node.client().list("auth/approle/role/job/secret-id")
    return list(listed["data"]["keys"]) if listed else []


def test_killing_the_lock_holder_hands_periodic_work_to_another_node(two_nodes: Cluster) -> None:
    holder = _holder(two_nodes)
    other = next(node for node in two_nodes.nodes if node is not holder)
    assert not other.client().sys.read_leader_status()["is_self"]

    admin = holder.client()
    admin.sys.enable_auth_method("approle")
    admin.write("auth/approle/role/job", secret_id_ttl="2s", token_policies="default")
    time.sleep(1.5)  # the holder's AppRole has had its first tidy; the next is 60 s away
    admin.write("auth/approle/role/job/secret-id")
    assert len(_accessors(other)) == 1
    time.sleep(3.0)  # expired; a node running periodic work for the first time would tidy it
    assert len(_accessors(other)) == 1, "a node without the background lock ran periodic work"

    holder.kill()  # SIGKILL: no chance to release the lock cleanly
    killed_at = time.monotonic()
    while _accessors(other) and time.monotonic() - killed_at < TAKEOVER_LIMIT:
        time.sleep(0.2)
    took = time.monotonic() - killed_at
    assert _accessors(other) == [], f"expired secret ID still listed {took:.1f}s after the kill"
    print(f"takeover after kill -9: {took:.1f}s")
    assert other.client().sys.read_leader_status()["is_self"]


def test_step_down_hands_the_lock_to_another_node(two_nodes: Cluster) -> None:
    holder = _holder(two_nodes)
    holder.client().write("sys/step-down")
    assert not holder.client().sys.read_leader_status()["is_self"]
    new_holder = _holder(two_nodes)
    assert new_holder is not holder
    leader = holder.client().sys.read_leader_status()
    assert leader["leader_address"] == new_holder.url


def test_single_sqlite_node_always_holds_the_lock(tmp_path: Path) -> None:
    cluster = start_cluster(tmp_path / "solo", 1, "sqlite", path=str(tmp_path / "solo.db"))
    try:
        status = cluster.nodes[0].client().sys.read_leader_status()
        deadline = time.monotonic() + 5
        while not status["is_self"] and time.monotonic() < deadline:
            time.sleep(0.1)
            status = cluster.nodes[0].client().sys.read_leader_status()
        assert status["is_self"] and status["ha_enabled"] is False
    finally:
        cluster.stop()


def _token_expiries(node: HushProcess) -> float:
    """The node's ``hush_lease_revocations_total{kind="token",outcome="revoked"}``."""
    with node.http() as http:
        text = http.get(
            "/v1/sys/metrics",
            params={"format": "prometheus"},
            headers={"X-Vault-Token": str(node.root_token)},
        ).text
    for line in text.splitlines():
        wanted = 'kind="token"' in line and 'outcome="revoked"' in line
        if line.startswith("hush_lease_revocations_total{") and wanted:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_lease_expiry_runs_only_on_the_lock_holder(two_nodes: Cluster) -> None:
    holder = _holder(two_nodes)
    other = next(node for node in two_nodes.nodes if node is not holder)
    # Tokens created on the node without the lock expire all the same: the holder revokes them.
    for _ in range(3):
        other.client().auth.token.create(policies=["default"], ttl="1s")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and _token_expiries(holder) < 3:
        time.sleep(0.3)
    assert _token_expiries(holder) >= 3
    assert _token_expiries(other) == 0, "a node without the background lock expired leases"
