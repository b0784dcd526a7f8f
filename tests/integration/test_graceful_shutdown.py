"""SIGTERM drains: a request in flight when the signal arrives still completes and is kept.

The client streams a KV write's body slowly, so the request is provably in progress when the
server (one process, or the supervisor of two workers) receives SIGTERM. The write must be
acknowledged, the process must then exit on its own, and the secret must be there after restart.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.server import HushProcess, free_port, start_hush, write_config


def _slow_body(
    payload: bytes, sending: threading.Event, pieces: int = 10, pause: float = 0.2
) -> Iterator[bytes]:
    """``payload`` in ``pieces``, ``pause`` apart; ``sending`` is set once two pieces are out."""
    step = max(1, len(payload) // pieces)
    for index, start in enumerate(range(0, len(payload), step)):
        if index == 2:
            sending.set()
        time.sleep(pause)
        yield payload[start : start + step]


def _wait_until_every_worker_is_unsealed(server: HushProcess, limit: float = 30.0) -> None:
    """The other worker unseals from the supervisor: poll over fresh connections (any worker)."""
    deadline = time.monotonic() + limit
    while True:
        statuses = []
        for _ in range(16):
            with httpx.Client(base_url=server.url, timeout=10) as http:
                statuses.append(http.get("/v1/sys/seal-status").json()["sealed"])
        if not any(statuses):
            return
        assert time.monotonic() < deadline, "a worker stayed sealed"
        time.sleep(0.1)


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_lets_the_request_in_flight_finish(tmp_path: Path, workers: int) -> None:
    port = free_port()
    config = write_config(tmp_path, port, "sqlite", path=str(tmp_path / "hush.db"))
    args = [f"-config={config}", f"-workers={workers}"]
    server: HushProcess = start_hush(tmp_path, args, port=port)
    try:
        init = server.client().sys.initialize(secret_shares=1, secret_threshold=1)
        key, token = str(init["keys"][0]), str(init["root_token"])
        server.client().sys.submit_unseal_key(key)
        server.client(token).sys.enable_secrets_engine("kv", path="kv", options={"version": "1"})
        if workers > 1:
            _wait_until_every_worker_is_unsealed(server)

        outcome: dict[str, object] = {}
        sending = threading.Event()

        def slow_write() -> None:
            payload = b'{"value": "' + b"x" * 2000 + b'"}'
            try:
                response = httpx.put(
                    f"{server.url}/v1/kv/drained",
                    content=_slow_body(payload, sending),
                    headers={"X-Vault-Token": token, "Content-Type": "application/json"},
                    timeout=30,
                )
                outcome["status"] = response.status_code
            except httpx.HTTPError as exc:
                outcome["error"] = repr(exc)

        writer = threading.Thread(target=slow_write)
        writer.start()
        # The body is being streamed now (a fixed sleep could end before a loaded machine had
        # even connected).
        assert sending.wait(30), outcome
        assert server.process is not None
        server.process.send_signal(signal.SIGTERM)
        writer.join(30)
        assert outcome == {"status": 204}
        server.process.wait(30)
        server.start()
        server.client().sys.submit_unseal_key(key)
        stored = server.client(token).secrets.kv.v1.read_secret("drained", mount_point="kv")
        assert stored["data"] == {"value": "x" * 2000}
    finally:
        server.stop()
