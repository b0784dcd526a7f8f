"""``sys/storage/snapshot`` and ``hush operator snapshot``: save, restore, re-unseal, refusals."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import hvac
import pytest

from tests.conftest import ServerFactory
from tests.support.seals import seal_block, start_sealed, wait_unsealed
from tests.support.server import HushProcess


def _cli(server: HushProcess, token: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUSH_", "VAULT_"))}
    env.update(HUSH_ADDR=server.url, HUSH_TOKEN=token)
    return subprocess.run(
        [sys.executable, "-m", "hush.cli.main", *args],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def _ready(server: HushProcess) -> tuple[list[str], str]:
    init = server.client().sys.initialize(secret_shares=3, secret_threshold=2)
    server.client().sys.submit_unseal_keys(init["keys"][:2])
    client = server.client(init["root_token"])
    client.sys.enable_secrets_engine("kv", path="kv", options={"version": "1"})
    return init["keys"], init["root_token"]


def _value(client: hvac.Client) -> object:
    return client.secrets.kv.v1.read_secret("app", mount_point="kv")["data"]["v"]


@pytest.mark.parametrize("storage", ["sqlite", "inmem", "postgresql"])
def test_save_and_restore_on_every_backend(
    storage: str, sealed_server: ServerFactory, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    options: dict[str, str] = {}
    if storage == "postgresql":
        options = {
            "connection_url": request.getfixturevalue("pg_dsn"),
            "table": request.getfixturevalue("pg_table"),
        }
    server = sealed_server(storage, **options)
    keys, root = _ready(server)
    client = server.client(root)
    client.secrets.kv.v1.create_or_update_secret("app", {"v": "snapshotted"}, mount_point="kv")

    snapshot = tmp_path / "hush.snap"
    saved = _cli(server, root, "operator", "snapshot", "save", str(snapshot))
    assert saved.returncode == 0, saved.stderr
    assert snapshot.read_bytes().startswith(b"HUSH-SNAPSHOT\n")
    assert snapshot.stat().st_mode & 0o777 == 0o600
    assert b"snapshotted" not in snapshot.read_bytes()  # ciphertext only

    client.secrets.kv.v1.create_or_update_secret("app", {"v": "later"}, mount_point="kv")
    client.secrets.kv.v1.create_or_update_secret("extra", {"v": "gone"}, mount_point="kv")

    restored = _cli(server, root, "operator", "snapshot", "restore", str(snapshot))
    assert restored.returncode == 0, restored.stderr
    assert server.client().sys.is_sealed() is True
    server.client().sys.submit_unseal_keys([keys[1], keys[2]])
    assert _value(client) == "snapshotted"
    with pytest.raises(hvac.exceptions.InvalidPath):
        client.secrets.kv.v1.read_secret("extra", mount_point="kv")


def test_restore_into_another_store_needs_the_snapshots_keys(
    sealed_server: ServerFactory, tmp_path: Path
) -> None:
    first = sealed_server("inmem")
    keys, root = _ready(first)
    first.client(root).secrets.kv.v1.create_or_update_secret("app", {"v": "a"}, mount_point="kv")
    blob = httpx.get(
        f"{first.url}/v1/sys/storage/snapshot", headers={"X-Vault-Token": root}
    ).content

    second = sealed_server("inmem")
    other_keys, other_root = _ready(second)
    response = httpx.post(
        f"{second.url}/v1/sys/storage/snapshot",
        content=blob,
        headers={"X-Vault-Token": other_root, "Content-Type": "application/octet-stream"},
    )
    assert response.status_code == 204, response.text
    with pytest.raises(hvac.exceptions.InvalidRequest, match="do not combine"):
        second.client().sys.submit_unseal_keys(other_keys[:2])
    second.client().sys.submit_unseal_keys(keys[:2])
    assert _value(second.client(root)) == "a"


def test_damaged_or_foreign_snapshot_is_refused_and_changes_nothing(
    sealed_server: ServerFactory,
) -> None:
    server = sealed_server("sqlite")
    _, root = _ready(server)
    client = server.client(root)
    client.secrets.kv.v1.create_or_update_secret("app", {"v": "kept"}, mount_point="kv")
    headers = {"X-Vault-Token": root}
    blob = httpx.get(f"{server.url}/v1/sys/storage/snapshot", headers=headers).content
    flipped = bytearray(blob)
    flipped[len(flipped) // 2] ^= 1
    for body, message in (
        (bytes(flipped), "checksum does not match"),
        (blob[:-10], "checksum does not match"),
        (b'{"not": "a snapshot"}', "not a Hush snapshot"),
    ):
        response = httpx.post(
            f"{server.url}/v1/sys/storage/snapshot", content=body, headers=headers
        )
        assert response.status_code == 400
        assert message in response.json()["errors"][0]
    assert server.client().sys.is_sealed() is False
    assert _value(client) == "kept"


def test_snapshot_needs_a_sudo_token(sealed_server: ServerFactory) -> None:
    server = sealed_server("inmem")
    _, root = _ready(server)
    client = server.client(root)
    client.sys.create_or_update_policy(
        "reader", 'path "sys/storage/snapshot" { capabilities = ["read", "update"] }'
    )
    token = client.auth.token.create(policies=["reader"])["auth"]["client_token"]
    for method in ("GET", "POST"):
        response = httpx.request(
            method, f"{server.url}/v1/sys/storage/snapshot", headers={"X-Vault-Token": token}
        )
        assert response.status_code == 403
    assert httpx.get(f"{server.url}/v1/sys/storage/snapshot").status_code == 403


def test_auto_unseal_node_unseals_itself_after_restore(tmp_path: Path) -> None:
    key_file = tmp_path / "seal.key"
    key_file.write_bytes(os.urandom(32))
    server = start_sealed(
        tmp_path, seal_block("static", current_key_id="k", current_key=f"file://{key_file}")
    )
    try:
        init = server.client().sys.initialize(recovery_shares=1, recovery_threshold=1)
        wait_unsealed(server)
        root = init["root_token"]
        client = server.client(root)
        client.sys.enable_secrets_engine("kv", path="kv", options={"version": "1"})
        client.secrets.kv.v1.create_or_update_secret("app", {"v": "one"}, mount_point="kv")
        client.sys.enable_audit_device("file", options={"file_path": str(tmp_path / "audit.log")})
        snapshot = tmp_path / "auto.snap"
        assert _cli(server, root, "operator", "snapshot", "save", str(snapshot)).returncode == 0
        client.secrets.kv.v1.create_or_update_secret("app", {"v": "two"}, mount_point="kv")
        assert _cli(server, root, "operator", "snapshot", "restore", str(snapshot)).returncode == 0
        wait_unsealed(server)
        assert _value(client) == "one"
        audit = (tmp_path / "audit.log").read_text()
        assert "sys/storage/snapshot" in audit  # the save and the restore request are audited
    finally:
        server.stop()


@pytest.mark.postgres
def test_restore_on_one_node_reaches_the_other_nodes(tmp_path: Path, pg_dsn: str) -> None:
    """Two nodes on one database: a restore through node 1 is what node 2 serves next, mounts and
    policies included (the authorisation epoch makes node 2 reload)."""
    from tests.support.cluster import fresh_database, start_cluster

    with fresh_database(pg_dsn) as dsn:
        cluster = start_cluster(tmp_path, 2, "postgresql", connection_url=dsn)
        try:
            one, two = cluster.nodes
            root = cluster.root_token
            first = one.client(root)
            first.sys.enable_secrets_engine("kv", path="kv", options={"version": "1"})
            first.secrets.kv.v1.create_or_update_secret(
                "app", {"v": "snapshotted"}, mount_point="kv"
            )
            snapshot = tmp_path / "cluster.snap"
            saved = _cli(one, root, "operator", "snapshot", "save", str(snapshot))
            assert saved.returncode == 0, saved.stderr

            second = two.client(root)
            second.sys.enable_secrets_engine("kv", path="later", options={"version": "1"})
            second.sys.create_or_update_policy(
                "later", 'path "later/*" { capabilities = ["read"] }'
            )
            second.secrets.kv.v1.create_or_update_secret("app", {"v": "later"}, mount_point="kv")
            assert "later/" in second.sys.list_mounted_secrets_engines()["data"]

            restored = _cli(one, root, "operator", "snapshot", "restore", str(snapshot))
            assert restored.returncode == 0, restored.stderr
            cluster.unseal(one)
            assert one.client().sys.is_sealed() is False

            assert _value(second) == "snapshotted"
            assert "later/" not in second.sys.list_mounted_secrets_engines()["data"]
            assert "later" not in second.sys.list_policies()["data"]["policies"]
        finally:
            cluster.stop()
