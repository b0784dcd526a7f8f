"""``hush server -workers=2``: one node, two worker processes sharing the listening socket.

Unseal shares sent over separate connections (perhaps to different workers) add up to one
unseal; every connection afterwards is served unsealed; ``sys/seal`` through one seals all; a
worker killed with SIGKILL is replaced and serves unsealed without anyone typing a share.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.cluster import fresh_database
from tests.support.server import HushProcess, free_port, start_hush, write_config

CONNECTIONS = 24


def _children(pid: int) -> set[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as listing:
        return {int(child) for child in listing.read().split()}


def _fresh_connection_statuses(server: HushProcess) -> list[bool]:
    """``sealed`` as seen over ``CONNECTIONS`` new connections (no keep-alive reuse)."""
    seen = []
    for _ in range(CONNECTIONS):
        with httpx.Client(base_url=server.url, timeout=10) as http:
            seen.append(bool(http.get("/v1/sys/seal-status").json()["sealed"]))
    return seen


def _kv_reads_all_succeed(server: HushProcess, token: str) -> bool:
    for _ in range(CONNECTIONS):
        with httpx.Client(base_url=server.url, timeout=10) as http:
            response = http.get("/v1/kv/app", headers={"X-Vault-Token": token})
            if response.status_code != 200 or response.json()["data"] != {"v": "1"}:
                return False
    return True


def _wait_for(check: Callable[[], bool], limit: float = 30.0) -> float:
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < limit, "condition not reached in time"
        time.sleep(0.2)
    return time.monotonic() - started


@pytest.fixture
def start_workers(tmp_path: Path) -> Iterator[Callable[..., HushProcess]]:
    started: list[HushProcess] = []

    def start(storage: str, **options: str) -> HushProcess:
        port = free_port()
        config = write_config(tmp_path, port, storage, **options)
        server = start_hush(tmp_path, [f"-config={config}", "-workers=2"], port=port)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def _exercise(server: HushProcess) -> None:
    assert server.process is not None
    assert len(_children(server.process.pid)) == 2
    init = server.client().sys.initialize(secret_shares=3, secret_threshold=2)
    keys, token = list(init["keys"]), str(init["root_token"])
    # Each share on a brand-new connection: the supervisor adds them up whichever worker gets it.
    for share in keys[:2]:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            assert http.put("/v1/sys/unseal", json={"key": share}).status_code == 200
    assert _fresh_connection_statuses(server) == [False] * CONNECTIONS
    admin = server.client(token)
    admin.sys.enable_secrets_engine("kv", path="kv", options={"version": "1"})
    admin.secrets.kv.v1.create_or_update_secret("app", {"v": "1"}, mount_point="kv")
    assert _kv_reads_all_succeed(server, token)

    admin.sys.seal()  # returns once every worker is sealed
    assert _fresh_connection_statuses(server) == [True] * CONNECTIONS

    with httpx.Client(base_url=server.url, timeout=10) as http:
        for share in keys[1:3]:
            http.put("/v1/sys/unseal", json={"key": share})
    assert _fresh_connection_statuses(server) == [False] * CONNECTIONS

    before = _children(server.process.pid)
    victim = min(before)
    os.kill(victim, signal.SIGKILL)
    took = _wait_for(
        lambda: (
            len(_children(server.process.pid) - {victim}) == 2  # type: ignore[union-attr]
            and _fresh_connection_statuses(server) == [False] * CONNECTIONS
            and _kv_reads_all_succeed(server, token)
        )
    )
    print(f"killed worker replaced and serving unsealed after {took:.1f}s")
    # The shares and the unseal key crossed the control pipes; none of them reached a log line.
    os.kill(server.process.pid, signal.SIGHUP)  # forwarded to the workers, not fatal
    time.sleep(0.5)
    assert _fresh_connection_statuses(server) == [False] * CONNECTIONS
    logs = server.log_text()
    for secret in [*keys, token]:
        assert secret not in logs


def test_two_workers_on_sqlite(start_workers: Callable[..., HushProcess], tmp_path: Path) -> None:
    _exercise(start_workers("sqlite", path=str(tmp_path / "hush.db")))


@pytest.mark.postgres
def test_two_workers_on_postgresql(start_workers: Callable[..., HushProcess], pg_dsn: str) -> None:
    with fresh_database(pg_dsn) as dsn:
        server = start_workers("postgresql", connection_url=dsn)
        try:
            _exercise(server)
        finally:
            server.stop()


def test_workers_with_an_auto_unseal_seal_unseal_themselves(tmp_path: Path) -> None:
    """``workers = 2`` plus a seal stanza: after a restart every worker serves unsealed with no
    share typed, and so does a killed worker's replacement."""
    from tests.support.seals import seal_block

    key_file = tmp_path / "seal.key"
    key_file.write_bytes(os.urandom(32))
    port = free_port()
    config = write_config(tmp_path, port, "sqlite", path=str(tmp_path / "hush.db"))
    config.write_text(
        "workers = 2\n"
        + config.read_text()
        + seal_block("static", current_key_id="k1", current_key=f"file://{key_file}")
    )
    server = start_hush(tmp_path, [f"-config={config}"], port=port)
    try:
        assert server.process is not None
        assert len(_children(server.process.pid)) == 2
        init = server.client().sys.initialize(recovery_shares=1, recovery_threshold=1)
        token = str(init["root_token"])
        _wait_for(lambda: not any(_fresh_connection_statuses(server)))
        root = server.client(token)
        root.sys.enable_secrets_engine("kv", path="kv", options={"version": "1"})
        root.secrets.kv.v1.create_or_update_secret("app", {"v": "1"}, mount_point="kv")
        server.restart()
        assert server.process is not None
        _wait_for(lambda: not any(_fresh_connection_statuses(server)))
        assert _kv_reads_all_succeed(server, token)
        victim = sorted(_children(server.process.pid))[0]
        os.kill(victim, signal.SIGKILL)
        _wait_for(lambda: victim not in _children(server.process.pid) and len(
            _children(server.process.pid)) == 2)  # fmt: skip
        _wait_for(lambda: not any(_fresh_connection_statuses(server)))
        assert _kv_reads_all_succeed(server, token)
    finally:
        server.stop()
