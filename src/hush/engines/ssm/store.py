"""Where parameters live in the mount's storage view, and how a path is listed.

A hierarchical name ``/a/b/c`` is stored at ``h/a/b/c`` and a flat name ``c`` at ``f/c``, so a
GetParametersByPath walks only the folders under its path (storage lists one level at a time)
and never loads the rest of the store. Read-modify-writes of one parameter hold the storage's
``exclusive`` lock on its name, which covers every worker process (SQLite) and node (PostgreSQL).
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

from hush.barrier.view import LogicalStorage
from hush.engines.ssm.model import Parameter

__all__ = ["ParameterStore"]


def _key(name: str) -> str:
    return "h" + name if name.startswith("/") else "f/" + name


class ParameterStore:
    """Load, save, delete and list parameters."""

    def __init__(self, storage: LogicalStorage) -> None:
        self._storage = storage

    def lock(self, name: str) -> AbstractAsyncContextManager[None]:
        """The lock serialising read-modify-write changes of ``name`` across processes and nodes.

        Never held twice at once by one task (``Storage.exclusive`` does not nest).
        """
        return self._storage.exclusive("lock/" + _key(name))

    async def get(self, name: str) -> Parameter | None:
        """The parameter ``name``, or ``None``."""
        blob = await self._storage.get(_key(name))
        return Parameter.from_bytes(blob) if blob is not None else None

    async def put(self, parameter: Parameter) -> None:
        """Save ``parameter`` (all versions, tags) in one write."""
        await self._storage.put(_key(parameter.name), parameter.to_bytes())

    async def delete(self, name: str) -> None:
        """Remove ``name`` and all its versions."""
        await self._storage.delete(_key(name))

    async def names_under(self, path: str, recursive: bool) -> list[str]:
        """Names below ``path`` (which ends with ``/``): its children, or all descendants."""
        found: list[str] = []
        folders = [path]
        while folders:
            folder = folders.pop()
            for entry in await self._storage.list("h" + folder):
                if entry.endswith("/"):
                    if recursive:
                        folders.append(folder + entry)
                else:
                    found.append(folder + entry)
        return sorted(found)

    async def all_names(self) -> list[str]:
        """Every parameter name, sorted (flat names and hierarchies)."""
        flat = [n for n in await self._storage.list("f/") if not n.endswith("/")]
        return sorted(flat + await self.names_under("/", recursive=True))
