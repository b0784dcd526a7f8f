"""Start real Hush server processes for tests and talk to them over HTTP."""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import hvac

__all__ = ["HushProcess", "free_port", "start_hush", "write_config"]

# Generous: a loaded 2-core CI machine can take >15 s to import and bind. Raise further on a busy
# machine (long crash-cycle runs by hand): HUSH_TEST_READY_TIMEOUT=90.
READY_TIMEOUT = float(os.environ.get("HUSH_TEST_READY_TIMEOUT", "45"))


_PORT_BASE = 20000
_PORT_COUNT = 12000  # 20000..31999: below the kernel's ephemeral ports (32768 and up by default)
_PORT_LOCKS = Path(tempfile.gettempdir()) / "hush-test-ports.lock"
_port_counter = itertools.count(random.randrange(_PORT_COUNT))
_port_lock_fd: int | None = None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that no other test process on this machine will be handed.

    Asking the kernel for port 0 and closing the socket leaves a window in which another test
    (another xdist worker, or another pytest run) gets the same port; the server that then fails
    to bind would pass its readiness check against the other test's server. So every port handed
    out is also locked: a one-byte ``lockf`` range at offset ``port`` of a shared lock file, held
    until this process exits. Ports come from below the ephemeral range, so client connections'
    local ports never take them, and one something else listens on is skipped.
    """
    global _port_lock_fd
    if _port_lock_fd is None:
        _port_lock_fd = os.open(_PORT_LOCKS, os.O_RDWR | os.O_CREAT, 0o666)
    for _ in range(_PORT_COUNT):
        port = _PORT_BASE + next(_port_counter) % _PORT_COUNT
        try:
            fcntl.lockf(_port_lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, port)
        except OSError:
            continue  # another test process holds it
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {_PORT_BASE}..{_PORT_BASE + _PORT_COUNT - 1}")


@dataclass
class HushProcess:
    """A running ``hush server`` child process and how to reach it."""

    args: list[str]
    port: int
    workdir: Path
    scheme: str = "http"
    root_token: str | None = None
    process: subprocess.Popen[bytes] | None = None
    logs: list[Path] = field(default_factory=list)
    verify: str | bool = True
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """Base address of the API."""
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def start(self) -> HushProcess:
        """Launch the process and wait until it answers ``sys/health``."""
        log_path = self.workdir / f"server-{len(self.logs)}.log"
        self.logs.append(log_path)
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "hush.cli.main", "server", *self.args],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                env={**os.environ, **self.env, "PYTHONUNBUFFERED": "1"},
            )
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"hush server exited early:\n{self.log_text()}")
            try:
                httpx.get(f"{self.url}/v1/sys/health", timeout=1.0, verify=self.verify)
                return self
            except httpx.TransportError:
                time.sleep(0.05)
        self.kill()  # never leak a server that did not come up
        raise RuntimeError(f"hush server did not become ready:\n{self.log_text()}")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not exit in time."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def kill(self) -> None:
        """SIGKILL: no chance to flush or clean up (a supervisor's workers are killed too)."""
        if self.process is not None and self.process.poll() is None:
            workers = _children(self.process.pid)
            self.process.kill()
            for pid in workers:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self.process.wait(5)
            for pid in workers:
                _wait_gone(pid)

    def restart(self) -> HushProcess:
        """Stop and start again with the same arguments and port."""
        self.stop()
        return self.start()

    def log_text(self) -> str:
        """Everything every incarnation of the process printed."""
        return "".join(p.read_text(errors="replace") for p in self.logs if p.exists())

    def client(self, token: str | None = None) -> hvac.Client:
        """An hvac client for this server (root token by default)."""
        return hvac.Client(url=self.url, token=token or self.root_token, verify=self.verify)

    def http(self) -> httpx.Client:
        """A raw HTTP client (caller closes it)."""
        return httpx.Client(base_url=self.url, verify=self.verify, timeout=10.0)


def _children(pid: int) -> set[int]:
    """The child processes of ``pid`` (a supervisor's workers); empty if it has none."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as listing:
            return {int(child) for child in listing.read().split()}
    except OSError:
        return set()


def _wait_gone(pid: int, limit: float = 5.0) -> None:
    """Wait until ``pid`` no longer exists (or is a zombie), at most ``limit`` seconds."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return
        except OSError:
            return
        time.sleep(0.02)


def write_config(
    workdir: Path, port: int, storage: str, *, workers: int | None = 1, **options: str | int | bool
) -> Path:
    """Write an HCL config with one storage stanza and one plain-HTTP listener.

    ``workers`` is written as the top-level ``workers`` key (``None``: left out, so the server
    runs its default, one worker per core). Tests default to 1 process; tests of worker
    processes pass a count or ``None``.
    """

    def render(value: str | int | bool) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int):
            return str(value)
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

    listener = {
        k.removeprefix("listener_"): v for k, v in options.items() if k.startswith("listener_")
    }
    storage_opts = {k: v for k, v in options.items() if not k.startswith("listener_")}
    lines = [] if workers is None else [f"workers = {workers}"]
    lines += [f'storage "{storage}" {{']
    lines += [f"  {k} = {render(v)}" for k, v in storage_opts.items()]
    lines += ["}", 'listener "tcp" {', f'  address = "127.0.0.1:{port}"']
    listener.setdefault("tls_disable", True)
    lines += [f"  {k} = {render(v)}" for k, v in listener.items()]
    lines += ["}", ""]
    path = workdir / "hush.hcl"
    path.write_text("\n".join(lines))
    return path


def start_hush(
    workdir: Path,
    args: list[str],
    *,
    port: int | None = None,
    scheme: str = "http",
    verify: str | bool = True,
    root_token: str | None = None,
    env: dict[str, str] | None = None,
) -> HushProcess:
    """Start a server with ``args`` (after ``hush server``) and wait for it.

    ``env`` adds to (or overrides) the test's own environment for the server process.
    """
    return HushProcess(
        args=args,
        port=port or free_port(),
        workdir=workdir,
        scheme=scheme,
        verify=verify,
        root_token=root_token,
        env=env or {},
    ).start()
