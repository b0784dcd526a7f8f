"""The HTTP ceiling: a bare ASGI app answering every request with a KV v2 read's JSON body.

It is served exactly as Hush serves its API (:mod:`hush.server.runtime`,
:mod:`hush.server.process`): ``asyncio.run(uvicorn.Server(config).serve())`` on the default asyncio
loop, the same ``uvicorn.Config`` options and the same HTTP protocol (``--http hush``: httptools
taught Vault's ``LIST``, :mod:`hush.server.http_protocol`) unless told otherwise; with
``--workers N`` (N > 1) the parent binds one listener per process and forks N processes, as
Hush's supervisor does. Whatever Hush's pipeline costs on top of this shows as Hush's req/s
divided by this app's, at the same worker count.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import uuid
from collections.abc import Awaitable, Callable, Coroutine, MutableMapping
from typing import Any

import orjson
import uvicorn

from hush.server.http_protocol import VaultHttpProtocol

__all__ = ["app", "kv_read_body", "main"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]

_CREATED = "2026-01-01T00:00:00.000000000Z"


def kv_read_body() -> dict[str, Any]:
    """The envelope of a KV v2 read of a two-field secret, shaped as Hush renders it."""
    return {
        "request_id": str(uuid.uuid4()),
        "lease_id": "",
        "renewable": False,
        "lease_duration": 0,
        "data": {
            "data": {"password": "correct-horse-battery-staple", "user": "app"},
            "metadata": {
                "version": 1,
                "created_time": _CREATED,
                "deletion_time": "",
                "destroyed": False,
                "custom_metadata": None,
            },
        },
        "wrap_info": None,
        "warnings": None,
        "auth": None,
        "mount_type": "",
    }


async def app(
    scope: Scope,
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    """Drain the request body, answer 200 with :func:`kv_read_body` (same headers as Hush)."""
    if scope["type"] != "http":
        return
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            break
    payload = orjson.dumps(kv_read_body())
    headers = [
        (b"cache-control", b"no-store"),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def main() -> None:
    """Serve :func:`app` on ``--host``/``--port`` with the ``--http`` protocol implementation."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--http", choices=("hush", "h11", "httptools"), default="hush")
    parser.add_argument("--workers", type=int, default=1, help="processes sharing the listener")
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    args = parser.parse_args()
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=False,
        lifespan="off",
        server_header=False,
        http=VaultHttpProtocol if args.http == "hush" else args.http,
    )

    def run(main: Coroutine[Any, Any, None]) -> None:
        if args.loop == "uvloop":
            import uvloop

            uvloop.run(main)
        else:
            asyncio.run(main)

    if args.workers <= 1:
        run(uvicorn.Server(config).serve())
        return
    # Bound exactly as Hush's supervisor binds (one SO_REUSEPORT socket per worker, IPPROTO_TCP).
    from hush.server.process import bind_listeners

    sockets = bind_listeners(args.host, args.port, args.workers)
    children = []
    for sock in sockets:
        pid = os.fork()
        if pid == 0:
            run(uvicorn.Server(config).serve(sockets=[sock]))
            os._exit(0)
        children.append(pid)

    def stop(signum: int, _frame: object) -> None:
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for child in children:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(child, 0)


if __name__ == "__main__":
    main()
