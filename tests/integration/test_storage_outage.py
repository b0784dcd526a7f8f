"""PostgreSQL stopped and started again under load: 503s (never 500s), nothing acknowledged is
lost, and the node recovers by itself.

The test runs its own PostgreSQL cluster (initdb/pg_ctl on a free port) so it can stop it.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.cluster import Cluster, start_cluster
from tests.support.pgcluster import ThrowawayPostgres, find_pg_bin

pytestmark = pytest.mark.postgres

RECOVERY_LIMIT = 15.0


@pytest.fixture
def private_postgres() -> Iterator[ThrowawayPostgres]:
    """A PostgreSQL server this test owns; missing binaries fail under CI, skip elsewhere."""
    bin_dir = find_pg_bin()
    if bin_dir is None:
        message = "initdb/pg_ctl not found under /usr/lib/postgresql/*/bin"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    server = ThrowawayPostgres(bin_dir)
    try:
        server.start()
        yield server
    finally:
        server.destroy()


class WriteLoad:
    """Threads writing distinct KV keys, recording every status and every acknowledged key."""

    def __init__(self, url: str, token: str, threads: int = 4) -> None:
        self._url = url
        self._token = token
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.statuses: Counter[int] = Counter()
        self.acknowledged: list[str] = []
        self.bodies_503: list[object] = []
        self._threads = [
            threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(threads)
        ]

    def __enter__(self) -> WriteLoad:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)

    def _run(self, worker: int) -> None:
        headers = {"X-Vault-Token": self._token}
        with httpx.Client(base_url=self._url, headers=headers, timeout=30.0) as client:
            n = 0
            while not self._stop.is_set():
                key = f"w{worker}-{n}"
                n += 1
                try:
                    response = client.put(f"/v1/kv/{key}", json={"value": key})
                except httpx.TransportError:
                    with self._lock:
                        self.statuses[-1] += 1
                    continue
                with self._lock:
                    self.statuses[response.status_code] += 1
                    if response.status_code == 204:
                        self.acknowledged.append(key)
                    elif response.status_code == 503 and len(self.bodies_503) < 3:
                        self.bodies_503.append(response.json())


def _write_ok(url: str, token: str) -> bool:
    try:
        response = httpx.put(
            f"{url}/v1/kv/probe", json={"v": "1"}, headers={"X-Vault-Token": token}, timeout=10
        )
    except httpx.TransportError:
        return False
    return response.status_code == 204


def test_postgresql_restart_under_load_gives_503_then_recovers(
    private_postgres: ThrowawayPostgres, tmp_path: Path
) -> None:
    cluster: Cluster = start_cluster(tmp_path, 1, "postgresql", connection_url=private_postgres.dsn)
    try:
        node = cluster.nodes[0]
        node.client().sys.enable_secrets_engine("kv", path="kv", options={"version": "1"})
        with WriteLoad(node.url, cluster.root_token) as load:
            time.sleep(1.5)
            private_postgres.stop("immediate")  # a crash: connections cut, no checkpoint
            time.sleep(3.0)
            outage = Counter(load.statuses)
            # Health answers from memory, as Vault's does: the process is alive and unsealed.
            assert httpx.get(f"{node.url}/v1/sys/health", timeout=5).status_code == 200
            private_postgres.start()
            restarted = time.monotonic()
            while not _write_ok(node.url, cluster.root_token):
                assert time.monotonic() - restarted < RECOVERY_LIMIT, "node did not recover"
                time.sleep(0.1)
            recovered_after = time.monotonic() - restarted
            time.sleep(1.5)
        print(f"statuses={dict(load.statuses)} recovered {recovered_after:.1f}s after restart")
        assert load.statuses[500] == 0, f"500s under a storage outage: {load.statuses}"
        assert load.statuses[-1] == 0, "connections were dropped instead of answered"
        assert outage[503] > 0, "the outage was not reported as 503"
        assert all(
            body == {"errors": ["storage is unavailable; try again shortly"]}
            for body in load.bodies_503
        )
        assert set(load.statuses) <= {204, 503}
        client = node.client()
        missing = [
            key
            for key in load.acknowledged
            if client.secrets.kv.v1.read_secret(key, mount_point="kv")["data"] != {"value": key}
        ]
        assert not missing, f"{len(missing)} acknowledged writes lost"
        assert len(load.acknowledged) > 20
    finally:
        cluster.stop()
