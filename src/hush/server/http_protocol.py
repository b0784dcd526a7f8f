"""The HTTP/1.1 protocol Hush serves with: uvicorn's httptools (llhttp) protocol, taught ``LIST``.

llhttp parses about twice as fast as h11 (the bare-ASGI ceiling: 10,905 against 6,109 req/s on
two workers), but it knows only the registered HTTP methods: it refuses Vault's ``LIST`` verb,
which hvac and the Vault CLI send, and answers any other unknown method with a plain-text 400
where Vault (Go's server) lets the application answer 405 in its JSON error shape. So where a
request starts (at the start of a connection and after each complete request) this protocol
reads the method token itself: one of :data:`NATIVE_METHODS` goes to llhttp as sent; any other
valid token (``LIST``, ``BREW``...) is replaced by ``GET`` for the parser and given to the
application as sent. A request pipelined behind another in the same packet is parsed by llhttp
alone, so there such a method is refused with 400 (no Vault client pipelines).

llhttp puts no limit on the request head, so this protocol does: a request line plus header
fields over :data:`MAX_HEAD_BYTES` is answered 431 and the connection closed, however the head
arrives (the Vault front end still applies its own 16 KiB limit to the fields it is given).
A request target that is not ASCII is 400 (the error escapes a parser callback, and uvicorn
answers what llhttp reports as a callback error with 400).
"""

from __future__ import annotations

from typing import Any, Final

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["MAX_HEAD_BYTES", "NATIVE_METHODS", "VaultHttpProtocol"]

#: The most bytes a request line and its header fields may take before the answer is 431.
MAX_HEAD_BYTES: Final = 64 * 1024

#: Methods llhttp parses as themselves; any other method token is parsed as a ``GET``.
NATIVE_METHODS: Final = frozenset(
    {b"GET", b"HEAD", b"POST", b"PUT", b"DELETE", b"PATCH", b"OPTIONS", b"TRACE"}
)
#: The longest method token read here; a longer first word goes to llhttp as it is.
_MAX_METHOD: Final = 32
_TOKEN: Final = frozenset(
    b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)
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
        self._method = ""
        self._head_bytes = 0
        self._refused = False

    def data_received(self, data: bytes) -> None:
        """Feed ``data`` to llhttp, reading the method token first where a request starts."""
        if self._at_request_start:
            # A client may send empty lines between requests (llhttp skips them too).
            data = (self._held + data).lstrip(b"\r\n")
            self._held = b""
            if not data:
                return
            space = data.find(b" ", 0, _MAX_METHOD + 1)
            if space < 0:
                if len(data) <= _MAX_METHOD and all(byte in _TOKEN for byte in data):
                    self._held = data  # "LIS" so far: wait for the rest of the method
                    return
            else:
                method = data[:space]
                if (
                    method
                    and method not in NATIVE_METHODS
                    and all(byte in _TOKEN for byte in method)
                ):
                    self._method = method.decode("ascii")
                    data = b"GET" + data[space:]
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
        """The head is complete: the application gets the method the client sent."""
        super().on_headers_complete()
        if self._method:
            self.scope["method"] = self._method
            self._method = ""

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
