"""Cluster membership and the background-work lock.

Every unsealed node writes a heartbeat record (``sys/nodes/<node id>``, through the barrier) every
:data:`HEARTBEAT_INTERVAL` seconds; ``sys/ha-status`` lists the records seen within
:data:`STALE_AFTER` seconds and ``sys/leader`` names the node holding the background lock.

Background work (the scheduler's periodic hooks, and anything else registered in
:attr:`NodeMembership.background`) runs only while this node holds the store's long-lived
``background`` lock (:meth:`hush.storage.base.Storage.try_hold`): a PostgreSQL session advisory
lock on a dedicated connection, a file lock on SQLite, always granted in memory. Every
:data:`LOCK_INTERVAL` seconds a node without the lock tries to take it, and the holder checks that
its lock connection is still alive (if not, it stops its work at once: another node may already
have it). A holder that dies loses the lock with its connection, so another node takes over
within a couple of seconds. ``sys/step-down`` releases the lock and keeps this node from taking
it again for :data:`STEP_DOWN_PAUSE` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from hush.barrier.view import LogicalStorage
from hush.core.loop_task import LoopTask
from hush.storage.base import HeldLock, Storage, StorageError

__all__ = [
    "BACKGROUND_LOCK",
    "HEARTBEAT_INTERVAL",
    "LOCK_INTERVAL",
    "STALE_AFTER",
    "STEP_DOWN_PAUSE",
    "BackgroundWork",
    "NodeMembership",
    "NodeRecord",
]

BACKGROUND_LOCK = "background"
HEARTBEAT_INTERVAL = 2.0
LOCK_INTERVAL = 1.0
STALE_AFTER = 10.0
STEP_DOWN_PAUSE = 10.0
_PREFIX = "nodes/"
log = logging.getLogger("hush.core.membership")


class BackgroundWork(Protocol):
    """Something that must run on exactly one node: started when the lock is won, stopped when
    it is lost or released (the scheduler; the lease expiration manager)."""

    def start(self) -> None:
        """Begin working (called on the event loop)."""

    async def stop(self) -> None:
        """Stop working and wait until nothing is in flight."""


@dataclass(frozen=True, slots=True)
class NodeRecord:
    """One node's heartbeat as stored and as ``sys/ha-status`` shows it."""

    node_id: str
    hostname: str
    api_address: str
    active: bool
    active_since: float
    last_seen: float
    version: str

    def to_json(self) -> bytes:
        """Serialise for storage."""
        return orjson.dumps(
            {
                "node_id": self.node_id,
                "hostname": self.hostname,
                "api_address": self.api_address,
                "active": self.active,
                "active_since": self.active_since,
                "last_seen": self.last_seen,
                "version": self.version,
            }
        )

    @classmethod
    def from_json(cls, blob: bytes) -> NodeRecord:
        """Inverse of :meth:`to_json`."""
        raw: dict[str, Any] = orjson.loads(blob)
        return cls(
            node_id=str(raw["node_id"]),
            hostname=str(raw.get("hostname", "")),
            api_address=str(raw.get("api_address", "")),
            active=bool(raw.get("active", False)),
            active_since=float(raw.get("active_since", 0.0)),
            last_seen=float(raw.get("last_seen", 0.0)),
            version=str(raw.get("version", "")),
        )


class NodeMembership:
    """This node's heartbeat and its claim on the background-work lock."""

    def __init__(
        self,
        storage: Storage,
        records: LogicalStorage,
        version: Callable[[], str],
        *,
        lock_interval: float = LOCK_INTERVAL,
        heartbeat_interval: float = HEARTBEAT_INTERVAL,
    ) -> None:
        self._storage = storage
        self._records = records
        self._version = version
        self.node_id = str(uuid.uuid4())
        self.hostname = socket.gethostname()
        self.api_address = ""
        self.background: list[BackgroundWork] = []
        self.lock_interval = lock_interval
        self.heartbeat_interval = heartbeat_interval
        self._held: HeldLock | None = None
        self._active_since = 0.0
        self._paused_until = 0.0
        self._last_beat = 0.0
        self._task = LoopTask(self._loop)
        self._change = asyncio.Lock()

    @property
    def active(self) -> bool:
        """Whether this node holds the background lock (and runs background work)."""
        return self._held is not None

    @property
    def active_since(self) -> float:
        """When this node last took the lock (0 if it does not hold it)."""
        return self._active_since if self._held is not None else 0.0

    def start(self) -> None:
        """Begin heartbeats and lock attempts (on unseal)."""
        self._task.start()

    async def stop(self) -> None:
        """Stop background work, release the lock and drop the heartbeat (on seal or shutdown)."""
        await self._task.stop()
        await self._give_up()
        with contextlib.suppress(Exception):
            await self._records.delete(_PREFIX + self.node_id)

    async def step_down(self) -> None:
        """Release the lock and leave it to another node for a while (``sys/step-down``)."""
        self._paused_until = time.monotonic() + STEP_DOWN_PAUSE
        await self._give_up()
        await self._beat()

    async def nodes(self, now: float | None = None) -> list[NodeRecord]:
        """Every node whose heartbeat is fresh, this one first if present."""
        moment = time.time() if now is None else now
        found: list[NodeRecord] = []
        for name in await self._records.list(_PREFIX):
            if name.endswith("/"):
                continue
            blob = await self._records.get(_PREFIX + name)
            if blob is None:
                continue
            record = NodeRecord.from_json(blob)
            if moment - record.last_seen <= STALE_AFTER:
                found.append(record)
        found.sort(key=lambda r: (r.node_id != self.node_id, r.api_address))
        return found

    async def _loop(self) -> None:
        while True:
            try:
                await self._step()
            except (StorageError, OSError) as exc:
                log.warning("cluster membership: %s; retrying", exc)
            await asyncio.sleep(self.lock_interval)

    async def _step(self) -> None:
        if self._held is not None:
            if not await self._held.alive():
                log.warning("background lock lost (storage connection gone); stopping work")
                await self._give_up()
        elif time.monotonic() >= self._paused_until:
            await self._try_take()
        if time.monotonic() - self._last_beat >= self.heartbeat_interval:
            await self._beat()

    async def _try_take(self) -> None:
        async with self._change:
            if self._held is not None:
                return
            held = await self._storage.try_hold(BACKGROUND_LOCK)
            if held is None:
                return
            self._held = held
            self._active_since = time.time()
            log.info("background lock taken: this node runs background work")
            for work in self.background:
                work.start()
        await self._beat()

    async def _give_up(self) -> None:
        async with self._change:
            held, self._held = self._held, None
            if held is None:
                return
            for work in self.background:
                await _quietly(work.stop)
            await held.release()
            log.info("background lock released")

    async def _beat(self) -> None:
        self._last_beat = time.monotonic()
        record = NodeRecord(
            node_id=self.node_id,
            hostname=self.hostname,
            api_address=self.api_address,
            active=self.active,
            active_since=self.active_since,
            last_seen=time.time(),
            version=self._version(),
        )
        await self._records.put(_PREFIX + self.node_id, record.to_json())


async def _quietly(stop: Callable[[], Awaitable[None]]) -> None:
    try:
        await stop()
    except Exception:
        log.exception("background work failed to stop cleanly")
