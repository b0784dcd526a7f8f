"""The claim a running rotation holds on its secret, renewed while its steps take time.

A rotation marks itself as running by moving the secret's due entry ``RESUME_AFTER`` seconds
ahead: a sweep (on this node or another) leaves the secret alone until then, and resumes it if
the node running it died. A rotator slower than that (a webhook, a busy database) would be started
a second time, so the running node moves the entry ahead again at intervals until the steps end.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

__all__ = ["Claim", "keep_claim"]

log = logging.getLogger("hush.engines.awssm.rotation")


@dataclass(slots=True)
class Claim:
    """The due time of the entry that marks a rotation as running (it moves on renewal)."""

    due_at: int


async def keep_claim(
    renew: Callable[[], Awaitable[bool]], interval: float, stop: asyncio.Event, name: str
) -> None:
    """Call ``renew`` every ``interval`` seconds until ``stop`` is set or ``renew`` says false.

    A failed renewal is logged and tried again at the next interval: the rotation goes on, at
    worst a sweep starts it a second time, as it would without renewals.
    """
    while True:
        try:
            await asyncio.wait_for(stop.wait(), interval)
            return
        except TimeoutError:
            pass
        try:
            if not await renew():
                return
        except Exception as exc:
            log.warning("could not renew the rotation claim of %s (%s)", name, type(exc).__name__)
