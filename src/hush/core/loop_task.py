"""One long-running asyncio task per node, started on unseal and cancelled on seal.

The expiry worker, the scheduler and node membership each run such a loop; this is the one place
that starts it at most once and, on stop, cancels it and waits until it has really ended (so
nothing of the loop runs after the barrier is sealed).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any

__all__ = ["LoopTask"]


class LoopTask:
    """Runs ``loop()`` as a task between :meth:`start` and :meth:`stop`."""

    def __init__(self, loop: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self._loop = loop
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the task unless it is already running (a second unseal starts nothing)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        """Cancel the task, if any, and wait for it to end; it can be started again after."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
