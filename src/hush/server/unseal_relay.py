"""The two ends of a worker's control pipe: unseal keys, unseal shares and seals.

:class:`RelayedShares` lives in the supervisor and collects unseal shares for the whole node, so
shares sent to different workers add up. :class:`SupervisorLink` lives in each worker: it tells
the supervisor when its core unseals or is sealed, forwards shares, and applies the unseal keys
and seals the supervisor relays from the other workers. Messages are small tuples; the pipe is a
local socketpair, never a file.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from hush.core.core import Core, RelayedProgress
from hush.core.errors import HushError
from hush.core.shares import ShareCollector
from hush.crypto import SecretBytes

__all__ = ["RelayedShares", "SupervisorLink"]

log = logging.getLogger("hush.server.process")
_RELAY_TIMEOUT = 10.0


class RelayedShares:
    """The node's unseal progress, kept by the supervisor (shares in memory only)."""

    def __init__(self) -> None:
        self._collector: ShareCollector | None = None

    def reset(self) -> None:
        """Forget the shares given so far."""
        self._collector = None

    @property
    def progress(self) -> tuple[int, str]:
        """Shares given so far in the current attempt, and its nonce (``(0, "")`` if none)."""
        collector = self._collector
        return (collector.progress, collector.nonce) if collector is not None else (0, "")

    def add(self, args: tuple[Any, ...]) -> tuple[int, str, bytes | None, str | None]:
        """Add ``(share, threshold, share_length)``; returns progress, nonce, key, error."""
        share, threshold, share_length = SecretBytes(bytes(args[0])), int(args[1]), int(args[2])
        collector = self._collector
        if (
            collector is None
            or collector.threshold != threshold
            or collector.share_length != share_length
        ):
            collector = ShareCollector(threshold, share_length)
        try:
            collector.add(share)
        except HushError as exc:
            progress = self._collector.progress if self._collector is not None else 0
            nonce = self._collector.nonce if self._collector is not None else ""
            return progress, nonce, None, exc.message
        self._collector = collector
        if not collector.complete:
            return collector.progress, collector.nonce, None, None
        self._collector = None
        try:
            key = collector.combine()
        except HushError as exc:
            return 0, "", None, exc.message
        return collector.threshold, collector.nonce, key.reveal(), None


class SupervisorLink:
    """A worker's end of its control pipe, wired into the worker's core."""

    def __init__(self, core: Core, conn: Connection, on_lost: Callable[[], None]) -> None:
        self._core = core
        self._conn = conn
        self._on_lost = on_lost
        self._pending: asyncio.Future[tuple[Any, ...]] | None = None
        self._seal_waiter: asyncio.Future[tuple[Any, ...]] | None = None
        self._relay_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._attached = False

    def attach(self) -> None:
        """Start listening to the supervisor and reporting this core's unseals and seals."""
        self._core.unseal_listeners.append(self._unsealed)
        self._core.seal_listeners.append(self._sealed)
        self._core.share_relay = self._relay
        self._core.unseal_reset_listeners.append(self._reset)
        asyncio.get_running_loop().add_reader(self._conn.fileno(), self._readable)
        self._attached = True

    def detach(self) -> None:
        """Stop both directions (on shutdown)."""
        if not self._attached:
            return
        self._attached = False
        asyncio.get_running_loop().remove_reader(self._conn.fileno())
        self._core.unseal_listeners.remove(self._unsealed)
        self._core.seal_listeners.remove(self._sealed)
        self._core.share_relay = None
        self._core.unseal_reset_listeners.remove(self._reset)

    def _send(self, message: tuple[Any, ...]) -> None:
        try:
            self._conn.send(message)
        except OSError:
            log.error("control pipe to the supervisor is closed; stopping this worker")
            self._on_lost()

    def _unsealed(self, key: SecretBytes) -> None:
        self._send(("unsealed", key.reveal()))

    async def _sealed(self) -> None:
        # Wait until the supervisor reports every other worker sealed, so sys/seal returns
        # only once the whole node is sealed (bounded: a stuck worker is killed, not waited on).
        future: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()
        self._seal_waiter = future
        self._send(("sealed",))
        try:
            await asyncio.wait_for(future, _RELAY_TIMEOUT)
        except TimeoutError:
            log.error("not every worker confirmed the seal in time")
        finally:
            self._seal_waiter = None

    def _reset(self) -> None:
        self._send(("share-reset",))

    async def _relay(
        self, share: SecretBytes, threshold: int, share_length: int
    ) -> RelayedProgress:
        async with self._relay_lock:
            future: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()
            self._pending = future
            self._send(("share", share.reveal(), threshold, share_length))
            try:
                progress, nonce, key, error = await asyncio.wait_for(future, _RELAY_TIMEOUT)
            finally:
                self._pending = None
        return RelayedProgress(
            progress=int(progress),
            nonce=str(nonce),
            key=SecretBytes(bytes(key)) if key is not None else None,
            error=error,
        )

    def _readable(self) -> None:
        try:
            while self._conn.poll():
                self._dispatch(self._conn.recv())
        except (EOFError, OSError):
            log.error("the supervisor went away; stopping this worker")
            asyncio.get_running_loop().remove_reader(self._conn.fileno())
            self._attached = False
            self._on_lost()

    def _dispatch(self, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == "share-progress":
            if self._pending is not None and not self._pending.done():
                self._pending.set_result(tuple(message[1:]))
        elif kind == "progress":
            # The node's unseal progress, as the supervisor holds it (shown by sys/seal-status).
            progress, nonce = int(message[1]), str(message[2])
            self._core.relayed_progress = (progress, nonce) if progress else None
        elif kind == "unseal":
            self._spawn(self._core.unseal_from_peer(SecretBytes(bytes(message[1]))))
        elif kind == "seal":
            self._spawn(self._seal_for_peer())
        elif kind == "sealed-all":
            self._release_seal_waiter()

    def _release_seal_waiter(self) -> None:
        waiter = self._seal_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(())

    async def _seal_for_peer(self) -> None:
        try:
            await self._core.seal(announce=False)
        finally:
            self._send(("seal-done",))

    def _spawn(self, work: Any) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(self._quietly(work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _quietly(work: Any) -> None:
        try:
            await work
        except Exception:
            log.exception("applying the supervisor's unseal or seal failed")
