"""The mount table: which backend serves which path prefix, persisted through the barrier.

Each mount gets a UUID and a storage view ``logical/<uuid>/``: renaming a mount never moves data,
and a backend can only name keys inside its own view.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

from hush.barrier.view import LogicalStorage, StorageView
from hush.core.errors import InvalidRequest
from hush.crypto import random_token_string
from hush.framework.backend import Backend, BackendContext, SystemView
from hush.framework.registry import Registry
from hush.storage.base import TxnOp

__all__ = [
    "AUTH_TABLE_PATH",
    "RESERVED_MOUNT_PREFIXES",
    "MountEntry",
    "MountTable",
    "normalise_mount_path",
]

MOUNT_TABLE_PATH = "core/mounts"
AUTH_TABLE_PATH = "core/auth"
_LISTED_CONFIG = (
    "listing_visibility",
    "passthrough_request_headers",
    "allowed_response_headers",
    "audit_non_hmac_request_keys",
    "audit_non_hmac_response_keys",
)
RESERVED_MOUNT_PREFIXES = ("sys/", "auth/", "cubbyhole/", "identity/")


@dataclass(slots=True)
class MountEntry:
    """One mounted secrets engine."""

    path: str
    type: str
    uuid: str = field(default_factory=lambda: str(uuid.uuid4()))
    accessor: str = ""
    description: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    local: bool = False
    seal_wrap: bool = False
    created: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        if not self.accessor:
            self.accessor = f"{self.type}_{random_token_string(8).lower()}"

    def describe(self) -> dict[str, Any]:
        """The entry as ``sys/mounts`` shows it (Vault's field names)."""
        return {
            "type": self.type,
            "description": self.description,
            "accessor": self.accessor,
            "uuid": self.uuid,
            "config": {
                "default_lease_ttl": int(self.config.get("default_lease_ttl", 0)),
                "max_lease_ttl": int(self.config.get("max_lease_ttl", 0)),
                "force_no_cache": False,
                **{k: self.config[k] for k in _LISTED_CONFIG if self.config.get(k)},
            },
            "options": dict(self.options) or None,
            "local": self.local,
            "seal_wrap": self.seal_wrap,
            "external_entropy_access": False,
            "plugin_version": "",
            "running_plugin_version": "",
            "running_sha256": "",
            "deprecation_status": "supported",
        }


def normalise_mount_path(path: str) -> str:
    """Canonical mount path: no leading slash, exactly one trailing slash, no empty/dot segments."""
    cleaned = path.strip().strip("/")
    segments = cleaned.split("/")
    if not cleaned or any(s in ("", ".", "..") for s in segments):
        raise InvalidRequest(f'invalid mount path "{path}"')
    if any(ch in cleaned for ch in "*+?#%\\\x00") or any(ord(ch) < 0x20 for ch in cleaned):
        raise InvalidRequest(f'invalid characters in mount path "{path}"')
    return cleaned + "/"


class MountTable:
    """Loads, saves and resolves mounts; owns the live backend instances."""

    def __init__(
        self,
        storage: LogicalStorage,
        registry: Registry,
        *,
        table_path: str = MOUNT_TABLE_PATH,
        view_prefix: str = "logical/",
        reserved: tuple[str, ...] = RESERVED_MOUNT_PREFIXES,
        commit: Callable[[Sequence[TxnOp]], Awaitable[None]] | None = None,
        system: SystemView | None = None,
    ) -> None:
        self._system = system
        self._table_path = table_path
        # How a table change is written: the core passes the authorisation epoch's commit, so
        # every node sees the change on its next request.
        self._commit = commit or storage.transaction
        self._view_prefix = view_prefix
        self._reserved = reserved
        self._storage = storage
        self._registry = registry
        self.entries: dict[str, MountEntry] = {}
        self.backends: dict[str, Backend] = {}
        self.upgrading: set[str] = set()

    async def load(self) -> None:
        """Read the table and start every backend (on unseal)."""
        blob = await self._storage.get(self._table_path)
        self.entries = {}
        if blob is not None:
            for raw in orjson.loads(blob):
                entry = MountEntry(**raw)
                self.entries[entry.path] = entry
        self.backends = {}
        for entry in self.entries.values():
            self.backends[entry.path] = await self._start(entry)

    async def sync(self) -> bool:
        """Bring the live table up to the stored one (another node changed it); ``True`` if so.

        Backends whose entry is unchanged keep running; changed settings are handed to the
        running backend; new, moved, removed or re-optioned mounts are started or stopped.
        """
        blob = await self._storage.get(self._table_path)
        stored: dict[str, MountEntry] = {}
        for raw in orjson.loads(blob) if blob is not None else []:
            entry = MountEntry(**raw)
            stored[entry.path] = entry
        if {p: asdict(e) for p, e in stored.items()} == {
            p: asdict(e) for p, e in self.entries.items()
        }:
            return False
        backends: dict[str, Backend] = {}
        for path, entry in stored.items():
            old = self.entries.get(path)
            running = self.backends.get(path)
            if (
                old is not None
                and running is not None
                and (old.uuid, old.type, old.options) == (entry.uuid, entry.type, entry.options)
            ):
                running.context = dataclasses.replace(
                    running.context, config=dict(entry.config), options=dict(entry.options)
                )
                backends[path] = running
            else:
                backends[path] = await self._start(entry)
        for path, backend in self.backends.items():
            if backends.get(path) is not backend:
                await backend.cleanup()
        self.entries, self.backends = stored, backends
        return True

    async def unload(self) -> None:
        """Stop every backend (on seal)."""
        for backend in self.backends.values():
            await backend.cleanup()
        self.backends = {}
        self.entries = {}

    async def _save(self) -> None:
        await self._commit(
            [
                TxnOp(
                    "put",
                    self._table_path,
                    orjson.dumps([asdict(e) for e in self.entries.values()]),
                )
            ]
        )

    @property
    def lock_name(self) -> str:
        """The store-wide lock every change of this table holds (read, modify, write)."""
        return self._table_path

    def _view(self, entry: MountEntry) -> StorageView:
        return StorageView(self._storage, f"{self._view_prefix}{entry.uuid}/")

    async def _start(self, entry: MountEntry) -> Backend:
        factory = self._registry.get(entry.type)
        if factory is None:
            raise InvalidRequest(f'unknown secrets engine type "{entry.type}"')
        context = BackendContext(
            storage=self._view(entry),
            mount_path=entry.path,
            mount_uuid=entry.uuid,
            options=dict(entry.options),
            config=dict(entry.config),
            system=self._system,
        )
        backend = factory(context)
        await backend.initialize()
        return backend

    def check_new_path(self, path: str, ignore: str | None = None) -> None:
        """Refuse reserved prefixes and paths that overlap an existing mount."""
        if any(path.startswith(p) or p.startswith(path) for p in self._reserved):
            raise InvalidRequest(f'cannot mount at reserved path "{path}"')
        for existing in self.entries:
            if existing == ignore:
                continue
            if path.startswith(existing) or existing.startswith(path):
                raise InvalidRequest(f'path is already in use at "{existing}"')

    async def mount(self, entry: MountEntry) -> None:
        """Add a mount and start its backend; nothing is saved if the backend fails to start."""
        self.check_new_path(entry.path)
        backend = await self._start(entry)
        self.entries[entry.path] = entry
        try:
            await self._save()
        except Exception:
            del self.entries[entry.path]
            raise
        self.backends[entry.path] = backend

    async def unmount(self, path: str) -> bool:
        """Remove a mount and delete its data; ``False`` if nothing was mounted there."""
        entry = self.entries.pop(path, None)
        if entry is None:
            return False
        await self._save()
        backend = self.backends.pop(path, None)
        if backend is not None:
            await backend.cleanup()
        await self._view(entry).clear()
        return True

    async def tune(
        self,
        path: str,
        *,
        config: dict[str, Any],
        options: dict[str, str] | None,
        description: str | None,
    ) -> None:
        """Change a mount's settings; an options change restarts its backend (kv upgrade).

        The new entry is saved *before* the new backend starts, so a crash during a kv v1 → v2
        upgrade restarts as v2 and the upgrade resumes; the mount answers 503 until it is done.
        """
        entry = self.entries[path]
        new_options = {**entry.options, **options} if options is not None else entry.options
        updated = MountEntry(
            **{
                **asdict(entry),
                "config": {**entry.config, **config},
                "options": new_options,
                "description": entry.description if description is None else description,
            }
        )
        self.entries[path] = updated
        try:
            await self._save()
        except Exception:
            self.entries[path] = entry
            raise
        if new_options == entry.options:
            # Same backend instance: hand it the new settings (TTLs, lockout) it reads per call.
            running = self.backends[path]
            running.context = dataclasses.replace(
                running.context, config=dict(updated.config), options=dict(updated.options)
            )
            return
        old_backend = self.backends[path]
        self.upgrading.add(path)
        try:
            await old_backend.cleanup()
            self.backends[path] = await self._start(updated)
        finally:
            self.upgrading.discard(path)

    async def remount(self, source: str, target: str) -> None:
        """Move a mount to a new path; its data stays where it is (keyed by UUID)."""
        if source not in self.entries:
            raise InvalidRequest(f'no secrets engine is mounted at "{source}"')
        self.check_new_path(target, ignore=source)
        entry = self.entries.pop(source)
        backend = self.backends.pop(source)
        entry.path = target
        self.entries[target] = entry
        self.backends[target] = backend
        await self._save()

    def resolve(self, path: str) -> tuple[MountEntry, Backend, str] | None:
        """The longest mount prefix of ``path``, its backend and the mount-relative rest."""
        best: MountEntry | None = None
        for mount_path, entry in self.entries.items():
            if (path.startswith(mount_path) or path + "/" == mount_path) and (
                best is None or len(mount_path) > len(best.path)
            ):
                best = entry
        if best is None:
            return None
        return best, self.backends[best.path], path[len(best.path) :]
