"""The Vault HTTP front end: ``/v1/...`` requests in, Vault's JSON envelope and errors out.

This module only translates. It maps HTTP methods to logical operations (``LIST`` and
``GET ?list=true`` → list, ``?help=1`` → help), reads the token from ``X-Vault-Token`` or
``Authorization: Bearer``, enforces the request size limit, and renders :class:`Response` and
:class:`HushError` exactly as Vault does. Every decision is the core's.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import orjson

from hush.api.asgi import BodyTooLargeError, Receive, Scope, Send, read_body
from hush.core.core import Core
from hush.core.errors import (
    HeadersTooLarge,
    HushError,
    InvalidRequest,
    MethodNotAllowed,
    PayloadTooLarge,
)
from hush.core.request import RAW_BODY_PATHS, Operation, Request, Response
from hush.core.ttl import parse_ttl
from hush.crypto import SecretBytes
from hush.logs import REQUEST_ID
from hush.storage.base import StorageError

__all__ = ["DEFAULT_MAX_REQUEST_SIZE", "MAX_HEADER_BYTES", "MAX_JSON_DEPTH", "VaultAPI"]

DEFAULT_MAX_REQUEST_SIZE = 32 * 1024 * 1024
# The HTTP protocol caps the whole head at 64 KiB (llhttp has no limit of its own); header fields
# over 16 KiB in total are refused here, however the bytes reached the socket.
MAX_HEADER_BYTES = 16 * 1024
# orjson parses 1024 levels but serialises only 255: a body must stay storable and auditable once
# wrapped in a stored record or an audit entry, so deeper nesting is refused up front.
MAX_JSON_DEPTH = 128
_PREFIX = "/v1/"
_WRITE_METHODS = {"POST": Operation.UPDATE, "PUT": Operation.UPDATE}
_METHOD_OPERATIONS = {
    "GET": Operation.READ,
    "HEAD": Operation.READ,
    "DELETE": Operation.DELETE,
    "LIST": Operation.LIST,
    "PATCH": Operation.PATCH,
    **_WRITE_METHODS,
}
_TRUE = ("1", "true", "t", "yes")

log = logging.getLogger("hush.api")


@dataclass(frozen=True, slots=True)
class _Raw:
    """A non-JSON body (Prometheus text) and its content type."""

    payload: bytes
    content_type: str


def _query_data(query: list[tuple[str, str]]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key, value in query:
        if key in ("list", "help"):
            continue
        if key in data:
            existing = data[key]
            data[key] = [*existing, value] if isinstance(existing, list) else [existing, value]
        else:
            data[key] = value
    return data


def _is_form(content_type: str, body: bytes) -> bool:
    # Vault's isForm: curl -d sends JSON labelled as a form, so a body that looks like a JSON
    # object is JSON whatever the header says.
    declared = content_type.split(";", 1)[0].strip().lower()
    return declared == "application/x-www-form-urlencoded" and not body.lstrip().startswith(b"{")


def _parse_json(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"failed to parse JSON input: {exc.msg}") from None
    if not isinstance(parsed, dict):
        raise InvalidRequest("failed to parse JSON input: the body must be a JSON object")
    if _depth_exceeds(parsed, MAX_JSON_DEPTH):
        raise InvalidRequest(f"JSON input is nested deeper than {MAX_JSON_DEPTH} levels")
    return parsed


def _depth_exceeds(value: dict[str, Any], limit: int) -> bool:
    """Whether containers nest more than ``limit`` deep (iterative: no recursion to exhaust)."""
    level: list[Any] = [value]
    for _ in range(limit):
        level = [
            child
            for container in level
            for child in (container.values() if isinstance(container, dict) else container)
            if isinstance(child, dict | list)
        ]
        if not level:
            return False
    return True


def _token(headers: dict[str, str]) -> SecretBytes | None:
    token = headers.get("x-vault-token", "")
    if not token:
        auth = headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            token = auth[7:].strip()
    return SecretBytes(token.encode()) if token else None


def _wrap_ttl(headers: dict[str, str]) -> int | None:
    raw = headers.get("x-vault-wrap-ttl", "").strip()
    if not raw:
        return None
    try:
        return parse_ttl(raw)
    except ValueError as exc:
        raise InvalidRequest(f"invalid X-Vault-Wrap-TTL header: {exc}") from None


class VaultAPI:
    """ASGI application serving Vault's ``/v1`` API from a :class:`Core`."""

    def __init__(self, core: Core, *, max_request_size: int = DEFAULT_MAX_REQUEST_SIZE) -> None:
        self.core = core
        self.max_request_size = (
            max_request_size if max_request_size > 0 else (DEFAULT_MAX_REQUEST_SIZE)
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        request_id = str(uuid.uuid4())
        REQUEST_ID.set(request_id)
        method = scope["method"].upper()
        started = time.perf_counter()
        routed: list[Request] = []
        content_type = b"application/json"
        try:
            status, body = await self._dispatch(scope, receive, request_id, method, routed)
        except HushError as exc:
            status, body = exc.status, {"errors": exc.errors}
        except StorageError:
            log.warning("storage unavailable request_id=%s", request_id)
            status, body = 503, {"errors": ["storage is unavailable; try again shortly"]}
        except Exception:
            log.exception("internal error request_id=%s", request_id)
            status, body = 500, {"errors": [f"internal error; request id {request_id}"]}
        if isinstance(body, _Raw):
            payload, content_type = body.payload, body.content_type.encode()
        else:
            payload = b"" if status == 204 else orjson.dumps(body)
        if method == "HEAD":
            payload_length, payload = len(payload), b""
        else:
            payload_length = len(payload)
        headers = [(b"cache-control", b"no-store")]
        if status != 204:
            headers += [
                (b"content-type", content_type),
                (b"content-length", str(payload_length).encode()),
            ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
        request = routed[0] if routed else None
        elapsed = time.perf_counter() - started
        self.core.metrics.observe_request(
            request.mount_point if request else "",
            request.operation.value if request else method.lower(),
            status,
            elapsed,
        )
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %s -> %d in %.2f ms", method, scope["path"], status, elapsed * 1000)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _dispatch(
        self,
        scope: Scope,
        receive: Receive,
        request_id: str,
        method: str,
        routed: list[Request],
    ) -> tuple[int, Any]:
        raw_path: str = scope["path"]
        if not raw_path.startswith(_PREFIX):
            return 404, {"errors": []}
        if sum(len(k) + len(v) for k, v in scope["headers"]) > MAX_HEADER_BYTES:
            raise HeadersTooLarge(f"request header fields exceed {MAX_HEADER_BYTES} bytes")
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        operation = _METHOD_OPERATIONS.get(method)
        if operation is None:
            raise MethodNotAllowed
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        flags = {k: v.lower() for k, v in query if k in ("list", "help")}
        declared = headers.get("content-length")
        try:
            body = await read_body(
                receive,
                self.max_request_size,
                int(declared) if declared and declared.isdigit() else None,
            )
        except BodyTooLargeError:
            raise PayloadTooLarge("http: request body too large") from None
        path = raw_path[len(_PREFIX) :]
        if operation is Operation.READ and flags.get("list") in _TRUE:
            operation = Operation.LIST
        if flags.get("help") in _TRUE:
            operation = Operation.HELP
        if operation is Operation.LIST and path and not path.endswith("/"):
            path += "/"  # Vault lists folders: "secret/foo" lists "secret/foo/"
        upload = method in ("POST", "PUT") and path in RAW_BODY_PATHS
        if upload:
            data: dict[str, Any] = {}
        elif method not in ("POST", "PUT", "PATCH"):
            data = _query_data(query)
        elif _is_form(headers.get("content-type", ""), body):
            # Vault parses form bodies too: an OIDC provider's form_post lands on oidc/callback.
            data = _query_data(parse_qsl(body.decode("latin-1"), keep_blank_values=True))
        else:
            data = _parse_json(body)
        request = Request(
            id=request_id,
            operation=operation,
            path=path,
            data=data,
            client_token=_token(headers),
            wrap_ttl=_wrap_ttl(headers),
            remote_addr=(scope.get("client") or ("", 0))[0],
            headers=headers,
            body=body if upload else b"",
        )
        routed.append(request)
        response = await self.core.handle(request)
        return self._render(request_id, operation, response)

    def _render(
        self, request_id: str, operation: Operation, response: Response | None
    ) -> tuple[int, Any]:
        if response is None:
            if operation in (Operation.READ, Operation.LIST):
                return 404, {"errors": []}
            return 204, None
        if response.body_bytes is not None:
            return response.status or 200, _Raw(
                response.body_bytes, response.content_type or "application/octet-stream"
            )
        if response.raw_body is not None:
            return response.status or 200, response.raw_body
        envelope: dict[str, Any] = {
            "request_id": request_id,
            "lease_id": response.lease_id,
            "renewable": response.renewable,
            "lease_duration": response.lease_duration,
            "data": response.data,
            "wrap_info": response.wrap_info,
            "warnings": response.warnings or None,
            "auth": response.auth,
            "mount_type": "",
        }
        if response.flatten and response.data:
            envelope = {**response.data, **envelope}
        return response.status or 200, envelope
