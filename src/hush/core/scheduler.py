"""The background scheduler: runs every mounted backend's ``periodic`` hook while unsealed.

One asyncio task per node, started on unseal and cancelled on seal. A failing backend is logged
and retried on the next tick; it never stops the others. It is started and stopped by
:class:`hush.core.membership.NodeMembership`, so on a cluster only the node holding the
background lock runs it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable

from hush.core.loop_task import LoopTask
from hush.framework.backend import Backend

__all__ = ["DEFAULT_INTERVAL", "Scheduler"]

DEFAULT_INTERVAL = 10.0
log = logging.getLogger("hush.core.scheduler")


class Scheduler:
    """Calls ``periodic(now)`` on the backends ``backends()`` returns, every ``interval`` s."""

    def __init__(
        self,
        backends: Callable[[], Iterable[tuple[str, Backend]]],
        interval: float = DEFAULT_INTERVAL,
    ) -> None:
        self._backends = backends
        self.interval = interval
        self._task = LoopTask(self._loop)

    async def tick(self, now: float | None = None) -> None:
        """Run every backend's hook once (tests call this with a chosen ``now``)."""
        moment = time.time() if now is None else now
        for path, backend in list(self._backends()):
            try:
                await backend.periodic(moment)
            except Exception:
                log.exception("periodic work failed for mount %s; retrying next tick", path)

    async def _loop(self) -> None:
        # Tick at once: a node that just took over the background lock catches up immediately.
        while True:
            await self.tick()
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        """Begin ticking (on unseal)."""
        self._task.start()

    async def stop(self) -> None:
        """Stop ticking (on seal) and wait for the current tick to finish or cancel."""
        await self._task.stop()
