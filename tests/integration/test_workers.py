"""``hush server -workers=2``: one node, two worker processes sharing the listening socket.

Unseal shares sent over separate connections (perhaps to different workers) add up to one
unseal; every connection afterwards is served unsealed; ``sys/seal`` through one seals all; a
worker killed with SIGKILL is replaced and serves unsealed without anyone typing a share. The
default is one worker per core; unseal progress, seal, health and ha-status are the node's
whichever worker answers; both workers append to one file audit device's hash chain, which
verifies end to end.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import orjson
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
    config = write_config(tmp_path, port, "sqlite", workers=2, path=str(tmp_path / "hush.db"))
    config.write_text(
        config.read_text()
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


def _self_node_ids(server: HushProcess, token: str) -> set[str]:
    """The node id of whichever worker answered ``sys/ha-status``, over fresh connections."""
    seen = set()
    for _ in range(CONNECTIONS):
        with httpx.Client(base_url=server.url, timeout=10) as http:
            response = http.get("/v1/sys/ha-status", headers={"X-Vault-Token": token})
            assert response.status_code == 200, response.text
            nodes = response.json()["data"]["nodes"]
            seen |= {node["node_id"] for node in nodes if node["last_echo"] is None}
    return seen


def test_default_is_one_worker_per_core(tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path, port, "sqlite", workers=None, path=str(tmp_path / "hush.db"))
    server = start_hush(tmp_path, [f"-config={config}"], port=port)
    try:
        assert server.process is not None
        cores = len(os.sched_getaffinity(0))
        # A worker that failed to start is replaced after a second; count once all are up.
        _wait_for(lambda: len(_children(server.process.pid)) == cores, limit=15.0)  # type: ignore[union-attr]
        assert f"Workers: {cores}" in server.log_text()
    finally:
        server.stop()


def test_node_wide_state_whichever_worker_answers(
    start_workers: Callable[..., HushProcess], tmp_path: Path
) -> None:
    """Unseal progress, seal, health and ha-status are the node's, not one worker's."""
    server = start_workers("sqlite", path=str(tmp_path / "hush.db"))
    init = server.client().sys.initialize(secret_shares=3, secret_threshold=3)
    keys, token = list(init["keys"]), str(init["root_token"])
    for given, share in enumerate(keys[:2], start=1):
        with httpx.Client(base_url=server.url, timeout=10) as http:
            assert http.put("/v1/sys/unseal", json={"key": share}).json()["progress"] == given
        for _ in range(CONNECTIONS):
            with httpx.Client(base_url=server.url, timeout=10) as http:
                status = http.get("/v1/sys/seal-status").json()
            assert (status["sealed"], status["progress"], status["t"]) == (True, given, 3)
    # A worker started mid-unseal (replacing a killed one) shows the progress too.
    assert server.process is not None
    victim, survivor = sorted(_children(server.process.pid))
    os.kill(victim, signal.SIGKILL)
    _wait_for(lambda: len(_children(server.process.pid) - {victim}) == 2)
    (replacement,) = _children(server.process.pid) - {survivor}
    _wait_for(lambda: f"Started server process [{replacement}]" in server.log_text())
    time.sleep(0.5)  # past uvicorn's startup: the replacement accepts connections now
    for _ in range(CONNECTIONS):
        with httpx.Client(base_url=server.url, timeout=10) as http:
            assert http.get("/v1/sys/seal-status").json()["progress"] == 2
    with httpx.Client(base_url=server.url, timeout=10) as http:
        assert http.put("/v1/sys/unseal", json={"key": keys[2]}).json()["sealed"] is False
    _wait_for(lambda: not any(_fresh_connection_statuses(server)))
    for _ in range(CONNECTIONS):
        with httpx.Client(base_url=server.url, timeout=10) as http:
            assert http.get("/v1/sys/seal-status").json()["progress"] == 0
            # Every worker is healthy and active: a load balancer never sees a 429 standby.
            assert http.get("/v1/sys/health").status_code == 200
    # sys/ha-status lists one entry per worker (as documented), and both workers answer.
    assert len(_self_node_ids(server, token)) == 2
    server.client(token).sys.seal()
    assert _fresh_connection_statuses(server) == [True] * CONNECTIONS
    for _ in range(CONNECTIONS):
        with httpx.Client(base_url=server.url, timeout=10) as http:
            assert http.get("/v1/sys/health").status_code == 503


def _load(server: HushProcess, token: str, threads: int, per_thread: int) -> None:
    """KV writes and reads, each on a new connection, from ``threads`` threads at once."""

    def run(worker: int) -> None:
        for index in range(per_thread):
            with httpx.Client(base_url=server.url, timeout=30) as http:
                headers = {"X-Vault-Token": token}
                path = f"/v1/kv/t{worker}-{index}"
                assert http.put(path, json={"v": str(index)}, headers=headers).status_code == 204
                assert http.get(path, headers=headers).json()["data"] == {"v": str(index)}
                if index % 10 == 0:
                    assert http.get("/v1/sys/ha-status", headers=headers).status_code == 200

    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(run, range(threads)))


def _cli_verify(log: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hush.cli.main", "audit", "verify", str(log), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_two_workers_write_one_verifiable_audit_chain(
    start_workers: Callable[..., HushProcess], tmp_path: Path
) -> None:
    server = start_workers("sqlite", path=str(tmp_path / "hush.db"))
    init = server.client().sys.initialize(secret_shares=1, secret_threshold=1)
    token = str(init["root_token"])
    with httpx.Client(base_url=server.url, timeout=10) as http:
        http.put("/v1/sys/unseal", json={"key": init["keys"][0]})
    _wait_for(lambda: not any(_fresh_connection_statuses(server)))
    log = tmp_path / "audit.log"
    admin = server.client(token)
    admin.sys.enable_audit_device("file", options={"file_path": str(log)})
    admin.sys.enable_secrets_engine("kv", path="kv", options={"version": "1"})
    started = time.monotonic()
    _load(server, token, threads=12, per_thread=40)
    took = time.monotonic() - started
    # Both workers wrote: each audits its own sys/ha-status answer, where it is the node whose
    # last_echo is null (the node id is HMACed with the device's salt, the same in both).
    served_by = set()
    for line in log.read_bytes().splitlines():
        record = orjson.loads(line)
        if record["type"] == "response" and record["request"]["path"] == "sys/ha-status":
            nodes = record["response"]["data"]["nodes"]
            served_by |= {node["node_id"] for node in nodes if node["last_echo"] is None}
    assert len(served_by) == 2, served_by
    live = _cli_verify(log, "-live")  # still being written: no closing checkpoint yet
    assert live.returncode == 0, live.stdout + live.stderr
    server.stop()  # each worker checkpoints and closes its device

    first = orjson.loads(log.read_bytes().split(b"\n", 1)[0])
    assert first["type"] == "device_start"
    result = _cli_verify(log, "-public-key", first["public_key"])
    assert result.returncode == 0, result.stdout + result.stderr
    entries = int(result.stdout.split()[1])
    assert entries >= 12 * 40 * 2 * 2  # a request and a response line per call
    print(f"{entries} audit entries from 2 workers in {took:.1f}s: {result.stdout.strip()}")

    lines = log.read_bytes().splitlines(keepends=True)
    middle = len(lines) // 2
    while b'"type":"response"' not in lines[middle]:
        middle += 1
    lines[middle] = lines[middle].replace(b'"type":"response"', b'"type":"request"', 1)
    log.write_bytes(b"".join(lines))
    tampered = _cli_verify(log, "-public-key", first["public_key"])
    assert tampered.returncode == 2
    assert f"FAIL at line {middle + 1}:" in tampered.stdout, tampered.stdout


def test_sighup_rotation_with_two_workers_keeps_both_files_verifiable(
    start_workers: Callable[..., HushProcess], tmp_path: Path
) -> None:
    """logrotate's move-then-SIGHUP: every worker checkpoints the old file and continues the
    chain in the new one; each file verifies on its own, and the two joined verify too."""
    server = start_workers("sqlite", path=str(tmp_path / "hush.db"))
    assert server.process is not None
    init = server.client().sys.initialize(secret_shares=1, secret_threshold=1)
    token = str(init["root_token"])
    with httpx.Client(base_url=server.url, timeout=10) as http:
        http.put("/v1/sys/unseal", json={"key": init["keys"][0]})
    _wait_for(lambda: not any(_fresh_connection_statuses(server)))
    log, rotated = tmp_path / "audit.log", tmp_path / "audit.log.1"
    admin = server.client(token)
    admin.sys.enable_audit_device("file", options={"file_path": str(log)})
    admin.sys.enable_secrets_engine("kv", path="kv", options={"version": "1"})
    _load(server, token, threads=6, per_thread=10)
    log.rename(rotated)
    os.kill(server.process.pid, signal.SIGHUP)
    # Every worker must have let go of the rotated file before the next load: the new file
    # existing proves only that one of them reopened, and the other would go on appending to
    # the old file (the chains of the two files would then fork).
    workers = _children(server.process.pid)
    assert len(workers) == 2
    _wait_for(lambda: log.exists() and not any(_holds_open(pid, rotated) for pid in workers))
    _load(server, token, threads=6, per_thread=10)
    server.stop()

    old, new = _cli_verify(rotated), _cli_verify(log)
    assert old.returncode == 0, old.stdout + old.stderr
    assert new.returncode == 0, new.stdout + new.stderr
    assert "continues a chain from an earlier file" in new.stderr
    joined = tmp_path / "joined.log"
    joined.write_bytes(rotated.read_bytes() + log.read_bytes())
    both = _cli_verify(joined)
    assert both.returncode == 0, both.stdout + both.stderr
    new_starts = [
        line for line in log.read_bytes().splitlines() if b'"type":"device_start"' in line
    ]
    assert len(new_starts) == 1  # the second worker continued the first one's segment


def _holds_open(pid: int, path: Path) -> bool:
    """Whether process ``pid`` has ``path`` open (a renamed file shows its new name)."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except FileNotFoundError:
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == str(path):
                return True
        except OSError:
            continue  # closed meanwhile
    return False


def _alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie awaiting its reaper counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_workers_exit_when_their_supervisor_is_killed(
    start_workers: Callable[..., HushProcess], tmp_path: Path
) -> None:
    server = start_workers("sqlite", path=str(tmp_path / "hush.db"))
    assert server.process is not None
    _wait_for(lambda: len(_children(server.process.pid)) == 2)  # type: ignore[union-attr]
    workers = _children(server.process.pid)
    os.kill(server.process.pid, signal.SIGKILL)
    server.process.wait(10)
    # Orphaned workers would go on answering on the port with nobody to seal or replace them.
    _wait_for(lambda: not any(_alive(pid) for pid in workers), limit=15.0)
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{server.url}/v1/sys/health", timeout=2)
