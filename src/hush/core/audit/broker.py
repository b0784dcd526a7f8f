"""The audit broker: the table of enabled devices, and fail-closed logging to all of them.

The device table and each device's secrets (HMAC salt, Ed25519 signing key) and chain position
are stored as JSON through the storage view the broker is given (``sys/audit/`` behind the
barrier), so nothing secret reaches disk in clear:

* ``table``: ``{"entries": [{"path", "type", "description", "options", "local", "id"}]}``
* ``device/<id>``: ``{"salt": b64, "chain": ChainState.to_dict()}``, rewritten whenever a
  file device writes a signed record (segment start, checkpoint), so the chain continues across
  seal/unseal and restarts.

Logging is fail-closed (Vault's behaviour): when at least one device is enabled and none of them
records an entry, :class:`AuditUnavailable` refuses the request. A failed device is simply tried
again on the next entry.
"""

from __future__ import annotations

import asyncio
import base64
import builtins
import logging
import os
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

from hush.barrier.view import LogicalStorage
from hush.core.audit.chain import ChainState
from hush.core.audit.devices import AuditDevice, AuditDeviceError, FileDevice
from hush.core.audit.entry import build_event_entry, build_request_entry, build_response_entry
from hush.core.audit.hashing import Hasher
from hush.core.audit.remote import SocketDevice, SyslogDevice
from hush.core.errors import HushError, InvalidRequest
from hush.core.request import Operation, Request, Response
from hush.crypto import SecretBytes, random_bytes
from hush.storage.base import TxnOp

__all__ = [
    "DEVICE_TYPES",
    "AuditBroker",
    "AuditTableEntry",
    "AuditUnavailable",
    "create_device",
    "normalise_audit_path",
]

log = logging.getLogger("hush.audit")

_TABLE_KEY = "table"
_DEVICE_PREFIX = "device/"
DEVICE_TYPES: dict[str, type[AuditDevice]] = {
    "file": FileDevice,
    "socket": SocketDevice,
    "syslog": SyslogDevice,
}


class AuditUnavailable(HushError):
    """Audit devices are enabled but none could record the entry: the request is refused (503)."""

    status = 503

    def __init__(self) -> None:
        super().__init__(
            "audit: no enabled audit device could record the request; the request was refused"
        )


def create_device(
    path: str,
    device_type: str,
    options: Mapping[str, str],
    salt: SecretBytes,
    chain: ChainState | None = None,
) -> AuditDevice:
    """Build (not open) a device of ``device_type``; raises :class:`AuditDeviceError`."""
    if device_type == "file":
        return FileDevice(path, options, salt, chain or ChainState.new())
    kind = DEVICE_TYPES.get(device_type)
    if kind is None:
        raise AuditDeviceError(f'unknown backend type: "{device_type}"')
    return kind(path, options, salt)


def normalise_audit_path(path: str) -> str:
    """Vault's ``sanitizePath``: no leading slash, exactly one trailing slash."""
    return path.strip("/") + "/"


@dataclass(frozen=True, slots=True)
class AuditTableEntry:
    """One row of the device table, as stored."""

    path: str
    type: str
    description: str = ""
    options: dict[str, str] = field(default_factory=dict)
    local: bool = False
    id: str = ""

    def describe(self) -> dict[str, Any]:
        """The row as ``sys/audit`` lists it."""
        return {
            "type": self.type,
            "description": self.description,
            "options": dict(self.options),
            "local": self.local,
            "path": self.path,
        }


@dataclass(slots=True)
class _Enabled:
    entry: AuditTableEntry
    salt: SecretBytes
    device: AuditDevice | None  # None: the stored options no longer build a device


def _reason(exc: BaseException) -> str:
    """A failure's cause, worded without any entry content."""
    if isinstance(exc, AuditDeviceError):
        return str(exc)
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    return type(exc).__name__


class AuditBroker:
    """Enables, disables and writes to audit devices; every request is logged through it."""

    def __init__(
        self,
        storage: LogicalStorage,
        commit: Callable[[Sequence[TxnOp]], Awaitable[None]] | None = None,
    ) -> None:
        self._storage = storage
        # Table changes go through ``commit`` (the core's authorisation epoch), so every node
        # that shares the store reloads its devices on its next request.
        self._commit = commit or storage.transaction
        self._enabled: dict[str, _Enabled] = {}
        self._persist_lock = asyncio.Lock()
        self._table_blob: bytes | None = None

    @property
    def active(self) -> bool:
        """Whether any device is enabled (and so every request must be recorded)."""
        return bool(self._enabled)

    async def setup(self) -> None:
        """Load the device table and open every device (on unseal); failures are retried later."""
        await self.teardown()
        raw = await self._storage.get(_TABLE_KEY)
        self._table_blob = raw
        rows = orjson.loads(raw)["entries"] if raw else []
        known = set(AuditTableEntry.__dataclass_fields__)
        for row in rows:
            entry = AuditTableEntry(**{k: v for k, v in row.items() if k in known})
            blob = await self._storage.get(_DEVICE_PREFIX + entry.id)
            if blob is None:  # should not happen (written with the table); start afresh
                log.error("audit device %s: stored salt and chain are missing", entry.path)
            secrets: dict[str, Any] = orjson.loads(blob) if blob else {}
            salt = SecretBytes(base64.b64decode(secrets.get("salt", "")) or random_bytes(32))
            chain = ChainState.from_dict(secrets["chain"]) if "chain" in secrets else None
            try:
                device: AuditDevice | None = create_device(
                    entry.path, entry.type, entry.options, salt, chain
                )
            except AuditDeviceError as exc:
                log.error("audit device %s cannot be set up: %s", entry.path, exc)
                device = None
            enabled = _Enabled(entry, salt, device)
            self._enabled[entry.path] = enabled
            if device is None:
                continue
            try:
                await device.open()
            except (OSError, AuditDeviceError) as exc:
                log.warning("audit device %s failed to open: %s", entry.path, _reason(exc))
            await self._persist_if_needed(enabled)

    async def sync(self) -> bool:
        """Reload the devices if another node changed the table; ``True`` if it did."""
        raw = await self._storage.get(_TABLE_KEY)
        if raw == self._table_blob:
            return False
        await self.setup()
        return True

    async def teardown(self) -> None:
        """Checkpoint and close every device (on seal, while the barrier is still unsealed)."""
        enabled, self._enabled = builtins.list(self._enabled.values()), {}
        for item in enabled:
            await self._close(item)

    async def _close(self, item: _Enabled) -> None:
        if item.device is None:
            return
        try:
            item.device.checkpoint()
        except OSError as exc:
            log.warning("audit device %s: checkpoint failed: %s", item.entry.path, _reason(exc))
        await self._persist_if_needed(item)
        await item.device.close()

    async def reopen(self) -> None:
        """Close and reopen every device (SIGHUP, for log rotation); checkpoints first."""
        for item in builtins.list(self._enabled.values()):
            if item.device is None:
                continue
            try:
                await item.device.reopen()
            except (OSError, AuditDeviceError) as exc:
                log.warning("audit device %s failed to reopen: %s", item.entry.path, _reason(exc))
            await self._persist_if_needed(item)

    async def enable(
        self,
        path: str,
        device_type: str,
        options: dict[str, str],
        description: str = "",
        local: bool = False,
    ) -> None:
        """Enable a device at ``path``; raises :class:`InvalidRequest` (400) on any bad input."""
        path = normalise_audit_path(path)
        if path == "/":
            raise InvalidRequest("backend path must be specified")
        if any(path.startswith(p) or p.startswith(path) for p in self._enabled):
            raise InvalidRequest("path already in use")
        if device_type not in DEVICE_TYPES:
            raise InvalidRequest(f'unknown backend type: "{device_type}"')
        options = {str(k): str(v) for k, v in options.items()}
        salt, chain = SecretBytes(random_bytes(32)), ChainState.new()
        try:
            device = create_device(path, device_type, options, salt, chain)
        except AuditDeviceError as exc:
            raise InvalidRequest(str(exc)) from None
        self._check_file_path_unused(device)
        try:
            await device.open()
        except (OSError, AuditDeviceError) as exc:
            if not device.skip_test:  # with skip_test the next entry tries again
                await device.close()
                raise InvalidRequest(
                    f'audit device "{path}" could not be opened: {_reason(exc)}'
                ) from None
        entry = AuditTableEntry(path, device_type, description, options, local, uuid.uuid4().hex)
        enabled = _Enabled(entry, salt, device)
        rows = [item.entry for item in self._enabled.values()] + [entry]
        try:
            table = self._table_op(rows)
            await self._commit([table, TxnOp("put", _DEVICE_PREFIX + entry.id, _secrets(enabled))])
            self._table_blob = table.value
        except BaseException:
            await device.close()
            raise
        if isinstance(device, FileDevice):
            device.needs_persist = False
        self._enabled[path] = enabled

    def _check_file_path_unused(self, device: AuditDevice) -> None:
        # Two chains interleaved in one file would make both unverifiable.
        if not isinstance(device, FileDevice) or device.file_path in ("stdout", "discard"):
            return
        target = os.path.realpath(device.file_path)
        for item in self._enabled.values():
            other = item.device
            if isinstance(other, FileDevice) and os.path.realpath(other.file_path) == target:
                raise InvalidRequest(
                    f'file_path "{device.file_path}" is already used by audit device '
                    f'"{item.entry.path}"'
                )

    async def disable(self, path: str) -> bool:
        """Disable the device at ``path`` (checkpointed, then closed); ``False`` if none was."""
        path = normalise_audit_path(path)
        item = self._enabled.get(path)
        if item is None:
            return False
        rows = [other.entry for other in self._enabled.values() if other is not item]
        table = self._table_op(rows)
        await self._commit([table, TxnOp("delete", _DEVICE_PREFIX + item.entry.id)])
        self._table_blob = table.value
        del self._enabled[path]
        if item.device is not None:
            try:
                item.device.checkpoint()
            except OSError as exc:
                log.warning("audit device %s: checkpoint failed: %s", path, _reason(exc))
            await item.device.close()
        return True

    def list(self) -> dict[str, dict[str, Any]]:
        """Every enabled device, in Vault's ``sys/audit`` shape, keyed by path."""
        return {path: self._enabled[path].entry.describe() for path in sorted(self._enabled)}

    async def hash(self, path: str, value: str) -> str:
        """``hmac-sha256:<hex>`` of ``value`` under the device's salt (``sys/audit-hash``)."""
        item = self._enabled.get(normalise_audit_path(path))
        if item is None:
            raise InvalidRequest(f'unknown audit backend "{normalise_audit_path(path)}"')
        return Hasher(item.salt).hash(value)

    def public_key(self, path: str) -> str | None:
        """The base64 Ed25519 key that verifies a file device's checkpoints (``None`` if none)."""
        item = self._enabled.get(normalise_audit_path(path))
        chain = item.device.chain if item and item.device else None
        return chain.public_key if chain else None

    async def log_request(
        self,
        request: Request,
        *,
        mount_type: str = "",
        non_hmac_request_keys: frozenset[str] = frozenset(),
    ) -> None:
        """Record a request before it is handled; raises :class:`AuditUnavailable` if none can."""
        if not self._enabled:
            return
        entry = build_request_entry(request, mount_type=mount_type)
        await self._dispatch(entry, False, non_hmac_request_keys, frozenset())

    async def log_response(
        self,
        request: Request,
        response: Response | None,
        error: str | None,
        *,
        mount_type: str = "",
        non_hmac_request_keys: frozenset[str] = frozenset(),
        non_hmac_response_keys: frozenset[str] = frozenset(),
    ) -> None:
        """Record a request's outcome; raises :class:`AuditUnavailable` if no device can."""
        if not self._enabled:
            return
        entry = build_response_entry(request, response, error, mount_type=mount_type)
        is_list = request.operation is Operation.LIST
        await self._dispatch(entry, is_list, non_hmac_request_keys, non_hmac_response_keys)

    async def log_event(
        self,
        event: str,
        data: Mapping[str, Any],
        error: str,
        *,
        mount_point: str,
        mount_type: str,
    ) -> None:
        """Record an event a backend raised on its own (say, a failed background rotation).

        Hashed like a response entry; raises :class:`AuditUnavailable` if no device can record.
        """
        if not self._enabled:
            return
        entry = build_event_entry(
            event,
            data,
            error,
            event_id=str(uuid.uuid4()),
            mount_point=mount_point,
            mount_type=mount_type,
        )
        await self._dispatch(entry, False, frozenset(), frozenset())

    async def _dispatch(
        self,
        entry: dict[str, Any],
        is_list: bool,
        request_keys: frozenset[str],
        response_keys: frozenset[str],
    ) -> None:
        recorded = 0
        for item in builtins.list(self._enabled.values()):
            device = item.device
            if device is None:
                continue
            try:
                shaped = device.shape(
                    entry,
                    is_list=is_list,
                    non_hmac_request_keys=request_keys,
                    non_hmac_response_keys=response_keys,
                )
                await device.log(shaped)
            except Exception as exc:  # any failure of one device must not stop the others
                log.warning("audit device %s failed to record: %s", item.entry.path, _reason(exc))
                continue
            recorded += 1
            if isinstance(device, FileDevice) and device.checkpoint_due:
                try:
                    device.checkpoint()
                except OSError as exc:
                    log.warning("audit device %s: checkpoint failed: %s", device.path, _reason(exc))
            await self._persist_if_needed(item)
        if recorded == 0:
            raise AuditUnavailable

    async def _persist_if_needed(self, item: _Enabled) -> None:
        device = item.device
        if not isinstance(device, FileDevice) or not device.needs_persist:
            return
        async with self._persist_lock:
            if not device.needs_persist:
                return
            device.needs_persist = False
            try:
                await self._storage.put(_DEVICE_PREFIX + item.entry.id, _secrets(item))
            except Exception as exc:  # the line is on disk; a restart links to an older anchor
                device.needs_persist = True
                log.warning("audit device %s: chain state not saved: %s", device.path, _reason(exc))

    @staticmethod
    def _table_op(rows: builtins.list[AuditTableEntry]) -> TxnOp:
        return TxnOp("put", _TABLE_KEY, orjson.dumps({"entries": [asdict(row) for row in rows]}))


def _secrets(item: _Enabled) -> bytes:
    """The device's stored secrets: salt and the chain state at its last signed record."""
    record: dict[str, Any] = {"salt": base64.b64encode(item.salt.reveal()).decode()}
    if isinstance(item.device, FileDevice):
        record["chain"] = item.device.anchor.to_dict()
    return orjson.dumps(record)
