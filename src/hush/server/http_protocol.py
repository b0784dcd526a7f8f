"""The HTTP/1.1 protocol Hush serves with: uvicorn's httptools (llhttp) protocol, taught ``LIST``.

llhttp parses about twice as fast as h11 (the bare-ASGI ceiling: 10,905 against 6,109 req/s on
two workers), but it knows only the registered HTTP methods and refuses Vault's ``LIST`` verb,
which hvac and the Vault CLI send. This protocol rewrites a request line that starts with
``LIST `` into ``GET `` before llhttp sees it and gives the application ``LIST`` as the method.
It does so where a request starts: at the start of a connection and after each complete request.
A ``LIST`` request pipelined behind another in the same packet is not recognised and is refused
with 400, like any request llhttp cannot parse (clients do not pipeline; none of Vault's do).

llhttp puts no limit on the request head, so this protocol does: a request line plus header
fields over :data:`MAX_HEAD_BYTES` is answered 431 and the connection closed, however the head
arrives (the Vault front end still applies its own 16 KiB limit to the fields it is given).
A request target that is not ASCII is 400 (the error escapes a parser callback, and uvicorn
answers what llhttp reports as a callback error with 400).
"""

from __future__ import annotations

from typing import Any, Final

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["MAX_HEAD_BYTES", "VaultHttpProtocol"]

#: The most bytes a request line and its header fields may take before the answer is 431.
MAX_HEAD_BYTES: Final = 64 * 1024

_LIST: Final = b"LIST "
_AS_GET: Final = b"GET "
_TOO_LARGE: Final = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"content-length: 35\r\n"
    b"connection: close\r\n"
    b"\r\n"
    b"Request header fields are too large"
)


class _HeadTooLarge(Exception):
    """Raised from a parser callback to stop parsing a head over the limit."""


class VaultHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with Vault's ``LIST`` verb and a bounded request head."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._at_request_start = True
        self._held = b""
        self._list_request = False
        self._head_bytes = 0
        self._refused = False

    def data_received(self, data: bytes) -> None:
        """Feed ``data`` to llhttp, rewriting a ``LIST`` request line where a request starts."""
        if self._at_request_start:
            # A client may send empty lines between requests (llhttp skips them too).
            data = (self._held + data).lstrip(b"\r\n")
            self._held = b""
            if not data:
                return
            if len(data) < len(_LIST) and _LIST.startswith(data):
                self._held = data  # "LIS" so far: wait for the rest of the method
                return
            if data.startswith(_LIST):
                data = _AS_GET + data[len(_LIST) :]
                self._list_request = True
        super().data_received(data)

    def send_400_response(self, msg: str) -> None:
        """uvicorn's 400 for what llhttp cannot parse, unless the head was already refused."""
        if not self._refused:
            super().send_400_response(msg)

    def on_message_begin(self) -> None:
        """A request starts: its head is counted from zero."""
        super().on_message_begin()
        self._at_request_start = False
        self._head_bytes = 0

    def on_url(self, url: bytes) -> None:
        """Part of the request target; counted against the head limit."""
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        """One header field; counted against the head limit."""
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        """The head is complete: the application gets ``LIST`` where the client sent it."""
        super().on_headers_complete()
        if self._list_request:
            self.scope["method"] = "LIST"
            self._list_request = False

    def on_message_complete(self) -> None:
        """The request is complete: the next bytes start a new one."""
        super().on_message_complete()
        self._at_request_start = True

    def _count(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > MAX_HEAD_BYTES:
            # Answer here; raising stops llhttp, and uvicorn's 400 for it is suppressed.
            self._refused = True
            self.transport.write(_TOO_LARGE)
            self.transport.close()
            raise _HeadTooLarge
