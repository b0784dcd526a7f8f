"""A due-time index inside a backend's storage view: what must happen to which object, when.

Keys are ``<prefix><due time, 12 digits>/<kind>/<quoted object name>`` with empty values, so a
listing returns them in time order and a sweep decrypts nothing but the entries that are due.
Backends get only their own storage view, so this index lives there rather than in the physical
storage's ``schedule``/``claim_due`` (which belongs to the core).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final
from urllib.parse import quote, unquote

from hush.barrier.view import LogicalStorage

__all__ = ["DueEntry", "DueIndex"]

_WIDTH: Final = 12


@dataclass(frozen=True, slots=True)
class DueEntry:
    """One scheduled piece of work."""

    due_at: int
    kind: str
    name: str


class DueIndex:
    """Schedule, cancel and find due work for named objects."""

    def __init__(self, storage: LogicalStorage, prefix: str = "due/") -> None:
        self._storage = storage
        self._prefix = prefix

    def _key(self, entry: DueEntry) -> str:
        return f"{self._prefix}{entry.due_at:0{_WIDTH}d}/{entry.kind}/{quote(entry.name, safe='')}"

    async def schedule(self, due_at: float, kind: str, name: str) -> DueEntry:
        """Record that ``kind`` work on ``name`` is due at ``due_at`` (whole seconds)."""
        entry = DueEntry(int(due_at), kind, name)
        await self._storage.put(self._key(entry), b"")
        return entry

    async def cancel(self, entry: DueEntry) -> None:
        """Forget one scheduled entry (missing is fine)."""
        await self._storage.delete(self._key(entry))

    async def due(self, now: float, limit: int = 100) -> list[DueEntry]:
        """Entries due at or before ``now``, oldest first, at most ``limit``."""
        found: list[DueEntry] = []
        for folder in await self._storage.list(self._prefix):
            stamp = folder.rstrip("/")
            if not stamp.isdigit() or int(stamp) > now:
                break
            for rest in await self._storage.list(f"{self._prefix}{stamp}/"):
                kind = rest.rstrip("/")
                for quoted in await self._storage.list(f"{self._prefix}{stamp}/{kind}/"):
                    found.append(DueEntry(int(stamp), kind, unquote(quoted)))
                    if len(found) >= limit:
                        return found
        return found
