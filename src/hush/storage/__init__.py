"""Physical storage: opaque bytes under ``/``-separated keys, one backend per ``storage`` stanza."""

from __future__ import annotations

import os
from collections.abc import Mapping

from hush.storage.base import DueEntry, Storage, StorageError, TxnOp
from hush.storage.memory import MemoryStorage
from hush.storage.postgresql import PostgreSQLStorage
from hush.storage.sqlite import SQLiteStorage

__all__ = [
    "DueEntry",
    "MemoryStorage",
    "PostgreSQLStorage",
    "SQLiteStorage",
    "Storage",
    "StorageError",
    "TxnOp",
    "open_storage",
]

# Option names follow Vault's storage stanzas where Vault has the same backend.
_OPTIONS: dict[str, frozenset[str]] = {
    "inmem": frozenset(),
    "memory": frozenset(),
    "sqlite": frozenset({"path"}),
    "postgresql": frozenset({"connection_url", "table", "max_parallel"}),
}


def open_storage(kind: str, options: Mapping[str, str]) -> Storage:
    """Build the backend named ``kind`` from its config ``options``; the caller awaits ``open()``.

    Kinds: ``inmem``/``memory``; ``sqlite`` (``path``); ``postgresql`` (``connection_url``, or the
    ``HUSH_PG_DSN`` environment variable, ``table``, ``max_parallel``). Unknown kinds and options
    raise ``ValueError``.
    """
    allowed = _OPTIONS.get(kind)
    if allowed is None:
        raise ValueError(
            f"unknown storage kind {kind!r}; expected one of: {', '.join(sorted(_OPTIONS))}"
        )
    unknown = sorted(set(options) - allowed)
    if unknown:
        expected = ", ".join(sorted(allowed)) or "none"
        raise ValueError(
            f"unknown option(s) for {kind} storage: {', '.join(unknown)} (expected: {expected})"
        )
    if kind in ("inmem", "memory"):
        return MemoryStorage()
    if kind == "sqlite":
        if not options.get("path"):
            raise ValueError("sqlite storage needs a 'path' option")
        return SQLiteStorage(options["path"])
    dsn = options.get("connection_url") or os.environ.get("HUSH_PG_DSN")
    if not dsn:
        raise ValueError("postgresql storage needs 'connection_url' or the HUSH_PG_DSN variable")
    max_parallel = options.get("max_parallel", "10")
    if not max_parallel.isdigit() or int(max_parallel) < 1:
        raise ValueError("postgresql storage option 'max_parallel' must be a positive integer")
    return PostgreSQLStorage(
        dsn, table=options.get("table", "hush_store"), max_size=int(max_parallel)
    )
