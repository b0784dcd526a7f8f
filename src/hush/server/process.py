"""Worker processes: one node uses every core, and is unsealed once for all of them.

A *supervisor* process binds one listening socket per worker on the same address
(``SO_REUSEPORT``: the kernel spreads new connections over them) and forks ``workers`` worker
processes, each serving its own. Each worker is a complete node
(its own core, storage connections and event loop) linked to the supervisor by a pipe:

* a worker that unseals (shares submitted to it, or a rekey/init on it) sends the unseal key up
  the pipe; the supervisor keeps it *in memory only* and sends it to every other worker and to
  every worker it starts later (a replacement for one that died), which unseal with it;
* a worker that is sealed through ``sys/seal`` tells the supervisor, which forgets the key and
  seals every other worker;
* unseal *shares* go through the supervisor too, so ``vault operator unseal`` run once per share
  (a new connection, perhaps a new worker, each time) still adds up to one unseal.

The key never reaches a file, an environment variable, a command line or the storage. SIGTERM
(or SIGINT) to the supervisor is passed to every worker, which stops accepting connections and
finishes the requests in flight (uvicorn's graceful shutdown) before it exits; SIGHUP is passed
on too (every worker reopens its audit files).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.context import ForkProcess
from types import FrameType
from typing import Any

from hush.core.core import Core
from hush.crypto import SecretBytes, constant_time_equal
from hush.logs import configure_logging
from hush.server.runtime import (
    ListenOptions,
    build_core,
    make_server,
    prepare_core,
    reopen_audit_on_sighup,
)
from hush.server.unseal_relay import RelayedShares, SupervisorLink

__all__ = ["WorkerSpec", "bind_listeners", "default_workers", "run_workers"]

log = logging.getLogger("hush.server.process")

# A worker that dies is replaced, but never more often than this per slot (no fork storm when
# something is wrong with every start, e.g. storage refusing connections).
_RESPAWN_PAUSE = 1.0
_POLL = 0.5
_STOP_GRACE = 40.0


def default_workers() -> int:
    """One worker per core the process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True, slots=True)
class WorkerSpec:
    """Everything a worker needs to build its node (plain data: it crosses ``fork``)."""

    storage_kind: str
    storage_options: dict[str, str]
    listen: ListenOptions
    log_level: str = "info"
    log_format: str = "standard"
    # Applies the config file's settings (lease TTLs, seals) to each worker's new core.
    configure: Callable[[Core], None] | None = None


@dataclass
class _Worker:
    """The supervisor's view of one worker process."""

    index: int
    process: ForkProcess
    conn: Connection
    started: float = field(default_factory=time.monotonic)


@dataclass
class _SealWait:
    """A worker's sys/seal waiting for the other workers (by index) to confirm their seal."""

    requester: int
    pending: set[int]


class _Supervisor:
    """Starts, links and replaces workers; relays unseal keys, shares and seals between them."""

    def __init__(self, spec: WorkerSpec, sockets: list[socket.socket]) -> None:
        self._spec = spec
        self._sockets = sockets
        self._count = len(sockets)
        self._context = multiprocessing.get_context("fork")
        self._workers: dict[int, _Worker] = {}
        self._last_start: dict[int, float] = {}
        self._key: SecretBytes | None = None
        self._shares = RelayedShares()
        self._stopping = False
        self._seal_waits: list[_SealWait] = []

    def run(self) -> None:
        """Supervise until a stop signal, then wait for the workers to drain and exit."""
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        signal.signal(signal.SIGHUP, self._forward_hangup)
        while not self._stopping or self._workers:
            if not self._stopping:
                self._start_missing()
            self._wait_once()
            if self._stopping:
                self._reap_after_stop()

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        if self._stopping:
            return
        self._stopping = True
        self._stop_deadline = time.monotonic() + _STOP_GRACE
        log.info("stopping: draining %d worker(s)", len(self._workers))
        for worker in self._workers.values():
            if worker.process.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(worker.process.pid, signal.SIGTERM)

    def _forward_hangup(self, signum: int, frame: FrameType | None) -> None:
        # SIGHUP means "reopen audit files" (log rotation): every worker has its own handles.
        for worker in self._workers.values():
            if worker.process.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(worker.process.pid, signal.SIGHUP)

    def _reap_after_stop(self) -> None:
        if time.monotonic() < self._stop_deadline:
            return
        for worker in list(self._workers.values()):
            worker.process.kill()
            worker.process.join(5)
            self._forget(worker)

    def _start_missing(self) -> None:
        now = time.monotonic()
        for index in range(self._count):
            if index in self._workers or now - self._last_start.get(index, -1e9) < _RESPAWN_PAUSE:
                continue
            self._last_start[index] = now
            parent, child = self._context.Pipe()
            # The fork copies every pipe end the supervisor holds; the worker closes them so
            # that the supervisor's death reaches it (and its siblings) as end-of-file.
            supervisor_ends = [parent, *(w.conn for w in self._workers.values())]
            process = self._context.Process(
                target=_worker_main,
                args=(self._spec, self._sockets[index], child, index, supervisor_ends),
                name=f"hush-worker-{index}",
                daemon=False,
            )
            process.start()
            child.close()
            worker = _Worker(index, process, parent)
            self._workers[index] = worker
            log.info("worker %d started (pid %s)", index, process.pid)
            if self._key is not None:
                self._send(worker, ("unseal", self._key.reveal()))
            elif self._shares.progress[0]:
                self._send(worker, ("progress", *self._shares.progress))

    def _wait_once(self) -> None:
        waitables: list[Any] = []
        for worker in self._workers.values():
            waitables += [worker.conn, worker.process.sentinel]
        if not waitables:
            time.sleep(_POLL)
            return
        try:
            ready = multiprocessing.connection.wait(waitables, timeout=_POLL)
        except InterruptedError:  # pragma: no cover - PEP 475 retries; kept for safety
            return
        for worker in list(self._workers.values()):
            if worker.conn in ready:
                self._read(worker)
            if worker.process.sentinel in ready or not worker.process.is_alive():
                worker.process.join(1)
                if not self._stopping:
                    log.warning(
                        "worker %d (pid %s) exited with %s; starting a replacement",
                        worker.index,
                        worker.process.pid,
                        worker.process.exitcode,
                    )
                self._forget(worker)

    def _forget(self, worker: _Worker) -> None:
        self._workers.pop(worker.index, None)
        worker.conn.close()
        # A dead worker holds no keys: it counts as sealed for anyone waiting on it.
        for wait in self._seal_waits:
            wait.pending.discard(worker.index)
        self._settle_seal_waits()

    def _read(self, worker: _Worker) -> None:
        while True:
            try:
                if not worker.conn.poll():
                    return
                message = worker.conn.recv()
            except (EOFError, OSError):
                return
            self._handle(worker, message)

    def _handle(self, worker: _Worker, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == "unsealed":
            key = SecretBytes(bytes(message[1]))
            if self._key is not None and constant_time_equal(self._key.reveal(), key.reveal()):
                return
            self._key = key
            self._shares.reset()
            self._broadcast(("unseal", key.reveal()), skip=worker)
            self._broadcast(("progress", 0, ""), skip=None)
        elif kind == "sealed":
            self._key = None
            self._shares.reset()
            self._broadcast(("progress", 0, ""), skip=None)
            others = {other.index for other in self._workers.values() if other is not worker}
            self._seal_waits.append(_SealWait(worker.index, others))
            self._broadcast(("seal",), skip=worker)
            self._settle_seal_waits()
        elif kind == "seal-done":
            for wait in self._seal_waits:
                wait.pending.discard(worker.index)
            self._settle_seal_waits()
        elif kind == "share":
            progress, nonce, combined, error = self._shares.add(message[1:])
            self._send(worker, ("share-progress", progress, nonce, combined, error))
            # Every worker answers sys/seal-status with the node's progress, not just this one.
            shown = ("progress", 0, "") if combined is not None else ("progress", progress, nonce)
            self._broadcast(shown, skip=worker)
        elif kind == "share-reset":
            self._shares.reset()
            self._broadcast(("progress", 0, ""), skip=worker)

    def _settle_seal_waits(self) -> None:
        """Tell each worker whose sys/seal is waiting that every other worker is sealed."""
        for wait in [w for w in self._seal_waits if not w.pending]:
            self._seal_waits.remove(wait)
            requester = self._workers.get(wait.requester)
            if requester is not None:
                self._send(requester, ("sealed-all",))

    def _broadcast(self, message: tuple[Any, ...], skip: _Worker | None) -> None:
        for other in self._workers.values():
            if other is not skip:
                self._send(other, message)

    def _send(self, worker: _Worker, message: tuple[Any, ...]) -> None:
        try:
            worker.conn.send(message)
        except (BrokenPipeError, OSError):
            log.warning("worker %d is not reading its control pipe", worker.index)


def run_workers(spec: WorkerSpec, workers: int, banner: str) -> None:
    """Bind the listener, start ``workers`` workers and supervise them until stopped."""
    configure_logging(logging.INFO, spec.log_format)
    sockets = bind_listeners(spec.listen.host, spec.listen.port, workers)
    print(banner, flush=True)
    log.info("supervisor pid %d: %d worker process(es)", os.getpid(), workers)
    try:
        _Supervisor(spec, sockets).run()
    finally:
        for sock in sockets:
            sock.close()


def bind_listeners(host: str, port: int, count: int) -> list[socket.socket]:
    """One listening socket per worker slot, all on the same address.

    With one shared socket, a burst of connections (a load balancer's or a client pool's
    keep-alive connections opened together) is mostly accepted by whichever worker wakes first:
    asyncio accepts everything pending in one go, and those connections stay on that worker for
    their lifetime while the other cores idle. With ``SO_REUSEPORT`` the kernel spreads new
    connections over the sockets by a hash of their addresses. The supervisor keeps every socket,
    so connections queued for a worker that died wait for its replacement instead of being
    dropped. Without ``SO_REUSEPORT`` (not Linux) every worker shares one socket.

    The address must be free: a port already in use is refused ("address already in use") even
    when its holder also set ``SO_REUSEPORT``; otherwise two servers started on one port would
    silently share its connections.
    """
    if count == 1 or not hasattr(socket, "SO_REUSEPORT"):
        return [_listen(_bind(host, port, reuse_port=False))] * count
    probe = _bind(host, port, reuse_port=False)  # proves the port free; never listens
    bound_port = probe.getsockname()[1]
    probe.close()
    return [_listen(_bind(host, bound_port, reuse_port=True)) for _ in range(count)]


def _bind(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets whose proto says TCP, and
    # accepted connections inherit the listener's proto. Without it every response written in
    # two parts (headers, body) waits for the client's delayed ACK: ~40 ms per request.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _listen(sock: socket.socket) -> socket.socket:
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _worker_main(
    spec: WorkerSpec,
    sock: socket.socket,
    conn: Connection,
    index: int,
    supervisor_ends: list[Connection],
) -> None:
    """Entry point of a forked worker: one complete node on its listening socket."""
    for end in supervisor_ends:
        end.close()
    # The supervisor decides when to stop; a terminal's Ctrl+C reaches it and it forwards.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from hush.core.system.observability import LOG_LEVELS

    level = LOG_LEVELS.get(spec.log_level, logging.INFO)
    configure_logging(level, spec.log_format)
    core = build_core(spec.storage_kind, dict(spec.storage_options))
    core.log_level = level
    if spec.configure is not None:
        spec.configure(core)
    asyncio.run(_serve_worker(core, spec.listen, sock, conn))


async def _serve_worker(
    core: Core, listen: ListenOptions, sock: socket.socket, conn: Connection
) -> None:
    prepare_core(core, listen)
    await core.open()
    # With an auto-unseal seal every worker unseals itself (no supervisor hand-out needed); the
    # key it announces reaches the others, for whom it is a no-op once they are unsealed.
    core.seals.start_auto_unseal()
    server = make_server(core, listen)
    link = SupervisorLink(core, conn, on_lost=lambda: setattr(server, "should_exit", True))
    link.attach()
    try:
        reopen_audit_on_sighup(core)
        await server.serve(sockets=[sock])
    finally:
        link.detach()
        await core.close()
