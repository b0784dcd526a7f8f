"""``kill -9`` of the server during a stream of KV writes loses no acknowledged write.

A writer thread sends sequential writes over HTTP and records a write only once the server
answered 204; the server is SIGKILLed mid-stream, restarted and unsealed, and every recorded
write must read back with its value. The storage-level version is tests/contract.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import httpx
import pytest

from tests.conftest import ServerFactory
from tests.support.server import HushProcess

pytestmark = pytest.mark.slow

WRITE_PHASE = 1.0  # seconds of writing before each kill


@dataclass
class _Writer:
    """Writes ``k{i}`` → ``{"v": i}`` from ``first`` on until the server goes away."""

    url: str
    token: str
    first: int
    acked: list[int] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    next_index: int = 0

    def run(self) -> None:
        self.next_index = self.first
        with httpx.Client(
            base_url=self.url, headers={"X-Vault-Token": self.token}, timeout=10.0
        ) as http:
            while True:
                i = self.next_index
                self.next_index += 1
                try:
                    response = http.post(f"/v1/kv/k{i}", json={"v": i})
                except httpx.TransportError:
                    return  # the server was killed; write i may or may not have landed
                if response.status_code != 204:
                    self.unexpected.append(f"k{i}: {response.status_code} {response.text}")
                    return
                self.acked.append(i)


def _prepare(server: HushProcess) -> tuple[str, str]:
    """Initialise 1/1, unseal, mount KV v1 at ``kv/``; return (root token, unseal key)."""
    init = server.client().sys.initialize(secret_shares=1, secret_threshold=1)
    token, key = str(init["root_token"]), str(init["keys"][0])
    client = server.client(token)
    client.sys.submit_unseal_key(key)
    client.sys.enable_secrets_engine("kv", path="kv", options={"version": "1"})
    return token, key


def _write_then_kill(server: HushProcess, token: str, first: int) -> _Writer:
    writer = _Writer(server.url, token, first)
    thread = threading.Thread(target=writer.run, name="kv-writer")
    thread.start()
    try:
        threading.Event().wait(WRITE_PHASE)
    finally:
        server.kill()
        thread.join(15)
    assert not thread.is_alive(), "the writer did not notice the server going away"
    assert not writer.unexpected, writer.unexpected
    assert writer.acked, "no write was acknowledged before the kill"
    return writer


def _assert_survived(
    server: HushProcess, token: str, earlier: list[int], latest: list[int]
) -> None:
    """Every acknowledged write is listed; the latest cycle's also read back with their values."""
    with httpx.Client(base_url=server.url, headers={"X-Vault-Token": token}, timeout=10.0) as http:
        listed = http.request("LIST", "/v1/kv/")
        assert listed.status_code == 200, listed.text
        missing = {f"k{i}" for i in [*earlier, *latest]} - set(listed.json()["data"]["keys"])
        assert not missing, f"{len(missing)} acknowledged writes lost, e.g. {sorted(missing)[:5]}"
        for i in latest:
            response = http.get(f"/v1/kv/k{i}")
            assert response.status_code == 200, (i, response.status_code)
            assert response.json()["data"] == {"v": i}


def _kill_cycles(server: HushProcess, cycles: int) -> None:
    token, key = _prepare(server)
    acked: list[int] = []
    next_index = 0
    for _ in range(cycles):
        writer = _write_then_kill(server, token, next_index)
        next_index = writer.next_index
        server.start()
        server.client(token).sys.submit_unseal_key(key)
        _assert_survived(server, token, acked, writer.acked)
        acked += writer.acked


def test_kill_9_loses_no_acknowledged_write_on_sqlite(sealed_server: ServerFactory) -> None:
    _kill_cycles(sealed_server("sqlite"), cycles=5)


@pytest.mark.postgres
def test_kill_9_loses_no_acknowledged_write_on_postgresql(
    sealed_server: ServerFactory, pg_dsn: str, pg_table: str
) -> None:
    _kill_cycles(sealed_server("postgresql", connection_url=pg_dsn, table=pg_table), cycles=3)
