"""What both front ends share about ASGI: the message types and reading a body under a limit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ["BodyTooLargeError", "Message", "Receive", "Scope", "Send", "read_body"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class BodyTooLargeError(Exception):
    """The request body is longer than the front end accepts (each maps it to its own 413)."""


async def read_body(receive: Receive, limit: int, declared: int | None = None) -> bytes:
    """The whole body; :class:`BodyTooLargeError` once it (or its Content-Length) passes ``limit``.

    A client that disconnects mid-body yields what arrived so far.
    """
    if declared is not None and declared > limit:
        raise BodyTooLargeError
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLargeError
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)
