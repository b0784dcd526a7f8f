"""Audit devices that send entries elsewhere: a TCP/UDP/unix socket, or the local syslog daemon.

The socket device takes ``address``, ``socket_type`` (``tcp``, ``udp``, ``unix``) and
``write_timeout``; the syslog device ``facility`` and ``tag`` (Vault's options and defaults).
Neither keeps a hash chain: the collector on the other end owns the storage of the lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Mapping
from typing import ClassVar

from hush.core.audit.devices import AuditDevice, AuditDeviceError, has_control_chars
from hush.core.ttl import parse_ttl
from hush.crypto import SecretBytes

__all__ = ["SocketDevice", "SyslogDevice"]


def _split_address(address: str) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise AuditDeviceError(f'option "address" must be host:port, not "{address}"')
    return host.strip("[]"), int(port)


class SocketDevice(AuditDevice):
    """Writes each entry as a line to a TCP, UDP or unix socket (Vault's ``socket`` device)."""

    type_name = "socket"
    own_options = frozenset({"address", "socket_type", "write_timeout"})

    def __init__(self, path: str, options: Mapping[str, str], salt: SecretBytes) -> None:
        super().__init__(path, options, salt)
        self.address = options.get("address", "")
        if not self.address:
            raise AuditDeviceError('option "address" is required for a socket audit device')
        if has_control_chars(self.address):
            raise AuditDeviceError('option "address" must not contain control characters')
        self.socket_type = options.get("socket_type") or "tcp"
        if self.socket_type not in ("tcp", "udp", "unix"):
            raise AuditDeviceError('option "socket_type" must be "tcp", "udp" or "unix"')
        if self.socket_type != "unix":
            _split_address(self.address)
        elif not os.path.isabs(self.address):
            raise AuditDeviceError('option "address" must be an absolute path for a unix socket')
        try:
            self.write_timeout = float(parse_ttl(options.get("write_timeout") or "2s"))
        except ValueError as exc:
            raise AuditDeviceError(f'option "write_timeout": {exc}') from None
        if self.write_timeout <= 0:
            raise AuditDeviceError('option "write_timeout" must be at least 1s')
        self._writer: asyncio.StreamWriter | None = None
        self._reader: asyncio.StreamReader | None = None
        self._datagram: socket.socket | None = None
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        """Connect now (enable and unseal use this to test the address)."""
        self.closed = False
        async with self._lock:
            await self._disconnect()
            await self._connect()

    async def _connect(self) -> None:
        if self.socket_type == "udp":
            host, port = _split_address(self.address)
            loop = asyncio.get_running_loop()
            family, kind, proto, _, address = (
                await loop.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
            )[0]
            sock = socket.socket(family, kind, proto)
            sock.setblocking(False)
            try:
                await loop.sock_connect(sock, address)
            except OSError:
                sock.close()
                raise
            self._datagram = sock
            return
        if self.socket_type == "unix":
            connect = asyncio.open_unix_connection(self.address)
        else:
            connect = asyncio.open_connection(*_split_address(self.address))
        self._reader, self._writer = await asyncio.wait_for(connect, self.write_timeout)

    def _connected(self) -> bool:
        if self._datagram is not None:
            return True
        if self._writer is None or self._writer.is_closing():
            return False
        # The collector hung up: writing would "succeed" into a dead connection.
        return self._reader is None or not self._reader.at_eof()

    async def write(self, line: bytes) -> None:
        """Send one line within ``write_timeout``; on failure the next line reconnects."""
        self.check_open()
        async with self._lock:
            try:
                if not self._connected():
                    await self._disconnect()
                    await self._connect()
                if self._datagram is not None:
                    self._datagram.send(line)
                    return
                assert self._writer is not None
                self._writer.write(line)
                await asyncio.wait_for(self._writer.drain(), self.write_timeout)
            except (OSError, TimeoutError):
                await self._disconnect()
                raise

    async def _disconnect(self) -> None:
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError, TimeoutError):
                await asyncio.wait_for(writer.wait_closed(), 1.0)
        if self._datagram is not None:
            self._datagram.close()
            self._datagram = None

    async def close(self) -> None:
        """Drop the connection for good (disable or seal)."""
        self.closed = True
        await self._disconnect()


# RFC 5424 facility codes, in order (local0..local7 are 16..23).
_FACILITY_NAMES: tuple[str, ...] = ("kern", "user", "mail", "daemon", "auth", "syslog", "lpr")
_FACILITY_NAMES += ("news", "uucp", "cron", "authpriv", "ftp")
_FACILITIES = {name: code for code, name in enumerate(_FACILITY_NAMES)} | {
    f"local{n}": 16 + n for n in range(8)
}
_SYSLOG_INFO = 6


class SyslogDevice(AuditDevice):
    """Sends each entry to the local syslog daemon over its unix datagram socket.

    The socket is used directly rather than the stdlib ``syslog`` module, which drops messages
    silently when no daemon listens: here a missing daemon fails the enable with a clear error.
    """

    type_name = "syslog"
    own_options = frozenset({"facility", "tag"})
    SOCKET_PATHS: ClassVar[tuple[str, ...]] = ("/dev/log", "/var/run/syslog", "/var/run/log")

    def __init__(
        self,
        path: str,
        options: Mapping[str, str],
        salt: SecretBytes,
        *,
        socket_paths: tuple[str, ...] | None = None,
    ) -> None:
        super().__init__(path, options, salt)
        facility = (options.get("facility") or "AUTH").lower()
        if facility not in _FACILITIES:
            raise AuditDeviceError(f'option "facility": unknown syslog facility "{facility}"')
        self.tag = options.get("tag") or "vault"
        if has_control_chars(self.tag) or len(self.tag) > 48:
            raise AuditDeviceError('option "tag" must be printable and at most 48 characters')
        self._header = f"<{_FACILITIES[facility] * 8 + _SYSLOG_INFO}>{self.tag}[{os.getpid()}]: "
        self._socket_paths = socket_paths or self.SOCKET_PATHS
        self._sock: socket.socket | None = None

    async def open(self) -> None:
        """Connect to the first local syslog socket that accepts us."""
        self.closed = False
        self._disconnect()
        self._connect()

    def _connect(self) -> None:
        for candidate in self._socket_paths:
            if not os.path.exists(candidate):
                continue
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            try:
                sock.connect(candidate)
            except OSError:
                sock.close()
                continue
            sock.setblocking(False)
            self._sock = sock
            return
        raise AuditDeviceError(
            "syslog audit device: no local syslog daemon is listening on "
            + ", ".join(self._socket_paths)
        )

    async def write(self, line: bytes) -> None:
        """Send one message (never blocks; a full daemon queue is a failure)."""
        self.check_open()
        if self._sock is None:
            self._connect()
        assert self._sock is not None
        try:
            self._sock.send(self._header.encode() + line.rstrip(b"\n"))
        except OSError:
            self._disconnect()
            raise

    def _disconnect(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    async def close(self) -> None:
        """Drop the socket for good (disable or seal)."""
        self.closed = True
        self._disconnect()
