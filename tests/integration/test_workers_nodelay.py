"""``-workers=2`` answers keep-alive clients without Nagle stalls (TCP_NODELAY on each one).

asyncio turns Nagle's algorithm off only on sockets whose ``proto`` says TCP; accepted
connections inherit the listener's. A listener made with ``proto=0`` left Nagle on, so every
response written in two parts (headers, then body) waited for the client's delayed ACK: about
40 ms per request on loopback, a 20x slowdown for any client that reuses its connection.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.server import HushProcess, free_port, start_hush, write_config

CLIENTS = 4  # several keep-alive connections, so both workers answer some of them
REQUESTS = 25


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[HushProcess]:
    port = free_port()
    config = write_config(tmp_path, port, "sqlite", path=str(tmp_path / "hush.db"))
    server = start_hush(tmp_path, [f"-config={config}", "-workers=2"], port=port)
    yield server
    server.stop()


def test_keep_alive_requests_are_not_held_by_delayed_acks(workers: HushProcess) -> None:
    quartiles = []
    for _ in range(CLIENTS):
        per_request = []
        with httpx.Client(base_url=workers.url, timeout=10) as http:
            http.get("/v1/sys/seal-status")  # connect, and warm this worker up
            for _ in range(REQUESTS):
                started = time.perf_counter()
                reply = http.get("/v1/sys/seal-status")
                per_request.append(time.perf_counter() - started)
                assert reply.status_code == 200 and "sealed" in reply.json()
        per_request.sort()
        quartiles.append(per_request[len(per_request) // 4])
    # With Nagle on, every request takes >= 40 ms (the delayed-ACK timer); without, about 1 ms.
    # Per connection (one connection is one worker's), so a single worker with Nagle on fails;
    # the lower quartile, not the median: a loaded machine delays many requests, but cannot make
    # a quarter of a connection's requests beat the 40 ms timer while Nagle holds them all.
    assert max(quartiles) < 0.025, f"lower quartile per connection: {quartiles}"
