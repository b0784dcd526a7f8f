"""Audit devices: the :class:`AuditDevice` base and the hash-chained :class:`FileDevice`.

Options follow Vault's (all strings): every device takes ``format`` (``json``/``jsonx``),
``prefix``, ``log_raw``, ``hmac_accessor``, ``elide_list_responses`` and ``skip_test``; the
file device adds ``file_path`` and ``mode``. Unknown or invalid options are refused with an
:class:`AuditDeviceError` whose message is shown to the caller. The socket and syslog devices
live in :mod:`hush.core.audit.remote`.

A device that fails to write closes its handle and raises; its next entry opens it again, so a
device that comes back (disk freed, collector restarted) needs no re-enabling.
"""

from __future__ import annotations

import abc
import contextlib
import errno
import fcntl
import itertools
import os
import stat
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from hush.core.audit.chain import (
    CHECKPOINT,
    CHECKPOINT_EVERY,
    DEVICE_START,
    ChainState,
    chain_record,
    line_hash,
)
from hush.core.audit.entry import format_time, to_json_bytes, to_jsonx
from hush.core.audit.hashing import Hasher, shape_entry
from hush.core.audit.shared_file import Link, lines_backwards, pread_fd, read_link, resume_point
from hush.crypto import SecretBytes

__all__ = [
    "AuditDevice",
    "AuditDeviceError",
    "FileDevice",
    "has_control_chars",
    "parse_bool",
]

_COMMON_OPTIONS = frozenset(
    {"format", "prefix", "log_raw", "hmac_accessor", "elide_list_responses", "skip_test"}
)
_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


class AuditDeviceError(Exception):
    """A device cannot be configured or opened; the message is safe to show to the caller."""


def has_control_chars(text: str) -> bool:
    """Whether ``text`` holds a character that is not printable (space aside).

    That is C0 and C1 controls and DEL, but also the line and paragraph separators and the
    format characters (bidi overrides, zero-width spaces): in a prefix or a file name any of them
    can split or disguise audit lines for whoever reads them.
    """
    return not text.isprintable()


def parse_bool(options: Mapping[str, str], name: str, default: bool) -> bool:
    """A boolean option as Go's ``strconv.ParseBool`` reads it (Vault parses options that way)."""
    raw = options.get(name)
    if raw is None or raw == "":
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise AuditDeviceError(f'option "{name}" must be true or false, not "{raw}"')


class AuditDevice(abc.ABC):
    """One enabled audit device: shapes entries with its own salt and writes one line per entry."""

    type_name: ClassVar[str] = ""
    own_options: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, path: str, options: Mapping[str, str], salt: SecretBytes) -> None:
        unknown = sorted(set(options) - _COMMON_OPTIONS - self.own_options)
        if unknown:
            raise AuditDeviceError(
                f'unknown option "{unknown[0]}" for a {self.type_name} audit device'
            )
        self.path = path
        self.options = dict(options)
        self.hasher = Hasher(salt)
        self.format = options.get("format") or "json"
        if self.format not in ("json", "jsonx"):
            raise AuditDeviceError('option "format" must be "json" or "jsonx"')
        self.prefix = options.get("prefix", "")
        if has_control_chars(self.prefix):
            raise AuditDeviceError('option "prefix" must not contain control characters')
        self.log_raw = parse_bool(options, "log_raw", False)
        self.hmac_accessor = parse_bool(options, "hmac_accessor", True)
        self.elide_list_responses = parse_bool(options, "elide_list_responses", False)
        self.skip_test = parse_bool(options, "skip_test", False)
        self.closed = False  # set by close(): a disabled or sealed device never writes again

    def check_open(self) -> None:
        """Raise if :meth:`close` was called (a late entry must not reopen a disabled device)."""
        if self.closed:
            raise AuditDeviceError(f"audit device {self.path} is closed")

    @property
    def chain(self) -> ChainState | None:
        """The device's hash chain, if it keeps one (file devices do)."""
        return None

    def shape(
        self,
        entry: Mapping[str, Any],
        *,
        is_list: bool = False,
        non_hmac_request_keys: frozenset[str] = frozenset(),
        non_hmac_response_keys: frozenset[str] = frozenset(),
    ) -> dict[str, Any]:
        """This device's copy of ``entry``: hashed (unless ``log_raw``) and elided as configured."""
        return shape_entry(
            entry,
            None if self.log_raw else self.hasher,
            hmac_accessor=self.hmac_accessor,
            elide_list_responses=self.elide_list_responses,
            is_list=is_list,
            non_hmac_request_keys=non_hmac_request_keys,
            non_hmac_response_keys=non_hmac_response_keys,
        )

    def render(self, record: Mapping[str, Any]) -> bytes:
        """One record as the exact line written: prefix, JSON or JSONx, newline."""
        body = to_jsonx(record) if self.format == "jsonx" else to_json_bytes(record)
        return self.prefix.encode() + body + b"\n"

    async def log(self, entry: Mapping[str, Any]) -> None:
        """Write one already-shaped entry; raises ``OSError``/``AuditDeviceError`` on failure."""
        await self.write(self.render(entry))

    @abc.abstractmethod
    async def open(self) -> None:
        """Open the destination; raises if it cannot be reached."""

    @abc.abstractmethod
    async def write(self, line: bytes) -> None:
        """Deliver one line, reopening first if the last attempt failed."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release the destination (idempotent)."""

    async def reopen(self) -> None:
        """Close and open again (SIGHUP, for log rotation)."""
        await self.close()
        await self.open()

    def checkpoint(self) -> bool:
        """Write a signed checkpoint if the device keeps a chain; whether one was written."""
        return False


def _parse_mode(raw: str) -> int:
    if not raw or len(raw) > 4 or any(ch not in "01234567" for ch in raw):
        raise AuditDeviceError('option "mode" must be an octal file mode such as "0600"')
    mode = int(raw, 8)
    if mode & 0o7000:
        raise AuditDeviceError('option "mode" must not set the setuid, setgid or sticky bit')
    if mode & 0o111:
        raise AuditDeviceError('option "mode" must not grant execute permission')
    if mode & 0o002:
        raise AuditDeviceError('option "mode" must not let every user write the file')
    return mode


class FileDevice(AuditDevice):
    """Appends one hash-chained line per entry to a file (or ``stdout``; ``discard`` drops them).

    The file is opened ``O_APPEND|O_CREAT`` with ``mode`` and each line is a single
    ``os.write``, made under an exclusive ``flock`` so that the worker processes of one node
    (each with its own device on the same file) write one chain: a worker that finds the file
    longer than it left it links its line to the last line another worker wrote (see
    :mod:`hush.core.audit.shared_file`). When the file's tail provably continues the chain, the
    chain continues; otherwise (new or rotated file, crash) a signed ``device_start`` record opens
    a new segment that links to the chain's last known line. ``anchor`` is the chain state at the
    last signed record this device wrote (segment start or checkpoint), the state worth
    persisting; ``needs_persist`` says it moved since the broker last stored it.
    """

    type_name = "file"
    own_options = frozenset({"file_path", "path", "mode"})

    def __init__(
        self, path: str, options: Mapping[str, str], salt: SecretBytes, chain: ChainState
    ) -> None:
        super().__init__(path, options, salt)
        target = options.get("file_path") or options.get("path") or ""
        if not target:
            raise AuditDeviceError('option "file_path" is required for a file audit device')
        if target not in ("stdout", "discard"):
            if has_control_chars(target):
                raise AuditDeviceError('option "file_path" must not contain control characters')
            if not os.path.isabs(target):
                raise AuditDeviceError(
                    'option "file_path" must be an absolute path, "stdout" or "discard"'
                )
            # Checked here and not only on open, so that skip_test cannot enable a device that
            # can never write (and, being fail-closed, would then refuse every request).
            if target.endswith("/") or os.path.isdir(target):
                raise AuditDeviceError('option "file_path" must name a file, not a directory')
        self.file_path = target
        self.mode = _parse_mode(options.get("mode") or "0600")
        self._chain = chain
        self._fd: int | None = None
        # Shared (locked, read back) only for a regular file we can read: see _open.
        self._shared = False
        self._offset: int | None = None  # file size after this device's last write
        self._tail_kind = ""  # type of the file's last line as far as this device knows
        self._checkpoint_base = chain.seq  # seq of the last signed record seen
        self.anchor = chain.copy()
        self.needs_persist = False

    @property
    def chain(self) -> ChainState | None:
        """The device's chain (``None`` for ``discard``, which writes nothing)."""
        return None if self.file_path == "discard" else self._chain

    @property
    def checkpoint_due(self) -> bool:
        """Whether :data:`CHECKPOINT_EVERY` lines were written since the last signed record."""
        return self._chain.seq - self._checkpoint_base >= CHECKPOINT_EVERY

    async def open(self) -> None:
        """Open the file, continuing the chain or starting a new segment.

        A tail cut back to before the device's last stored signed record is never continued.
        """
        self.closed = False
        self._open(strict=True)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the exclusive ``flock`` of a shared file (a no-op for stdout and devices)."""
        if not self._shared or self._fd is None:
            yield
            return
        fd = self._fd
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def _open(self, *, strict: bool) -> None:
        self._drop()
        if self.file_path == "discard":
            return
        if self.file_path == "stdout":
            self._fd = 1
            self._write_signed(DEVICE_START)
            return
        flags = os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
        try:
            fd = os.open(self.file_path, flags | os.O_RDWR, self.mode or 0o600)
            readable = True
        except PermissionError:  # a mode without owner read: write-only, not shareable
            fd = os.open(self.file_path, flags | os.O_WRONLY, self.mode or 0o600)
            readable = False
        self._fd = fd
        try:
            info = os.fstat(fd)
            # Only regular files: never re-mode device files (/dev/full) or shared targets.
            if self.mode and stat.S_ISREG(info.st_mode) and stat.S_IMODE(info.st_mode) != self.mode:
                os.fchmod(fd, self.mode)
            self._shared = readable and stat.S_ISREG(info.st_mode)
            if not self._shared:
                self._write_signed(DEVICE_START)
                return
            with self._locked():
                self._resume(strict=strict)
        except OSError:
            self._drop()
            raise

    def _resume(self, *, strict: bool) -> None:
        """Under the lock: continue the file's chain if its tail extends ours, else a segment."""
        assert self._fd is not None
        size = os.fstat(self._fd).st_size
        lines = lines_backwards(pread_fd(self._fd), 0, size)
        tail = next(lines, None)
        if tail is not None and not tail.endswith(b"\n"):
            self._append(b"\n", size)  # end a torn line so the next record starts on its own
        elif tail is not None:
            if self._chain.seq >= 0 and line_hash(tail) == self._chain.last_hash:
                self._adopt(read_link(tail, self.prefix.encode()), size)
                return  # the file ends where the chain left off: continue it
            found = resume_point(
                itertools.chain([tail], lines),
                self.prefix.encode(),
                self._chain.chain_id,
                self._chain.public_key,
                self.anchor.seq if strict else None,
            )
            if found is not None:
                self._adopt(found, size)  # another worker of this node is writing the chain
                return
        self._write_signed(DEVICE_START)

    def _adopt(self, link: Link | None, size: int) -> None:
        """Take ``link`` (the file's last line, ending at ``size``) as the chain's position."""
        if link is not None:
            self._chain.seq, self._chain.last_hash = link.seq, link.digest
            self._tail_kind = link.kind
            if link.kind in (CHECKPOINT, DEVICE_START):
                self._checkpoint_base = link.seq
        self._offset = size

    def _catch_up(self) -> None:
        """Under the lock: link to what other workers appended since this device's last write."""
        if not self._shared or self._fd is None:
            return
        size = os.fstat(self._fd).st_size
        if size == self._offset:
            return
        if self._offset is not None and size > self._offset:
            lines = lines_backwards(pread_fd(self._fd), self._offset, size)
            link = read_link(next(lines, b""), self.prefix.encode())
            if link is not None:
                self._adopt(link, size)
                return
        # Truncated, torn, or not a chained line: start a segment from what we know.
        self._resume(strict=False)

    def _drop(self) -> None:
        fd, self._fd = self._fd, None
        self._offset = None
        if fd is not None and fd > 2:
            os.close(fd)

    def _append(self, line: bytes, size: int | None = None) -> None:
        """Write ``line``; ``size`` is the file's size just before (known under the lock)."""
        assert self._fd is not None
        written = os.write(self._fd, line)
        if written != len(line):
            # A short write (disk full): take the torn piece back off if we can.
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, os.fstat(self._fd).st_size - written)
            raise OSError(errno.ENOSPC, "short write to the audit file")
        if self._shared:
            base = size if size is not None else self._offset
            self._offset = None if base is None else base + written

    def _write_signed(self, kind: str) -> None:
        line = self.render(chain_record(kind, format_time(), self._chain))
        self._append(line, self._current_size())
        self._chain.advance(line)
        self._tail_kind = kind
        self._checkpoint_base = self._chain.seq
        self.anchor = self._chain.copy()
        self.needs_persist = True

    def _current_size(self) -> int | None:
        if not self._shared or self._fd is None:
            return None
        return os.fstat(self._fd).st_size

    async def write(self, line: bytes) -> None:
        """Append exact bytes, outside the chain (use :meth:`log` for entries)."""
        self.check_open()
        if self._fd is None:
            self._open(strict=False)
        with self._locked():
            self._append(line, self._current_size())
        self._offset = None  # not a chained line: the next append reads the tail again

    async def log(self, entry: Mapping[str, Any]) -> None:
        """Append one entry as the next link of the chain; reopens first after a failure."""
        self.check_open()
        if self.file_path == "discard":
            return
        try:
            if self._fd is None:
                self._open(strict=False)
            with self._locked():
                self._catch_up()
                line = self.render({**entry, "hush_chain": self._chain.next_link()})
                self._append(line, self._offset)
                self._chain.advance(line)
                self._tail_kind = str(entry.get("type", ""))
        except OSError:
            self._drop()
            raise

    def checkpoint(self) -> bool:
        """Write a signed checkpoint unless the file's last line already is one."""
        if self._fd is None:
            return False
        try:
            with self._locked():
                self._catch_up()
                if self._tail_kind == CHECKPOINT:
                    return False
                self._write_signed(CHECKPOINT)
        except OSError:
            self._drop()
            raise
        return True

    async def reopen(self) -> None:
        """Checkpoint the current file, close it and open the path again (after rotation)."""
        with contextlib.suppress(OSError):
            self.checkpoint()
        self.closed = False
        self._open(strict=False)

    async def close(self) -> None:
        """Close the file for good (the broker writes the final checkpoint first)."""
        self.closed = True
        self._drop()
