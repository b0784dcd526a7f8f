"""The AWS JSON-protocol front end: ``X-Amz-Target`` + SigV4 in, AWS JSON and errors out.

A request is ``POST /`` with ``Content-Type: application/x-amz-json-1.1`` and a target such as
``secretsmanager.GetSecretValue``. This module only translates:

1. read the body (size limit), check the SigV4 signature against the access key stored by an
   ``aws`` auth mount (:mod:`hush.api.sigv4`);
2. find the service by the target's prefix (:data:`hush.api.aws_services.SERVICES`) and the
   action's mapper, parse the JSON body;
3. run the mapped logical request through :meth:`Core.handle` as the access key's identity, so ACL,
   audit and metrics are the Vault API's;
4. render the engine's answer, or the error in AWS's shape (:mod:`hush.api.aws_errors`).
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any, Final

import orjson

from hush.api.asgi import BodyTooLargeError, Receive, Scope, Send, read_body
from hush.api.aws_errors import AwsFault, fault_from
from hush.api.aws_services import SERVICES, ActionContext, AwsService, LogicalCall
from hush.api.sigv4 import SignedRequest, SigV4Error, parse_authorization, verify
from hush.auth.aws import AccessKey, AwsAuthBackend
from hush.core.core import Core
from hush.core.errors import HushError, InvalidRequest, PermissionDenied
from hush.core.request import Operation, Request
from hush.core.tokens import TokenEntry
from hush.logs import REQUEST_ID
from hush.storage.base import StorageError

__all__ = ["AWS_JSON_CONTENT_TYPE", "MAX_AWS_REQUEST_SIZE", "AwsAPI", "is_aws_request"]

AWS_JSON_CONTENT_TYPE: Final = "application/x-amz-json-1.1"
# Secrets Manager's largest request (a 64 KiB secret, base64'd, plus tags) fits in well under
# 1 MiB; anything bigger is refused before it is parsed.
MAX_AWS_REQUEST_SIZE: Final = 1024 * 1024
_FORWARDED_HEADERS: Final = ("x-amz-target", "user-agent", "content-type")

log = logging.getLogger("hush.api.aws")


def is_aws_request(scope: Scope) -> bool:
    """Whether an HTTP request is for the AWS front end (it carries ``X-Amz-Target``)."""
    return not scope["path"].startswith("/v1/") and any(
        name.lower() == b"x-amz-target" for name, _ in scope["headers"]
    )


def _identity(key: AccessKey, mount_path: str) -> TokenEntry:
    """The token-like identity requests signed with ``key`` run as (never stored)."""
    return TokenEntry(
        accessor=key.access_key_id,
        policies=list(key.policies),
        path=f"auth/{mount_path}keys/{key.access_key_id}",
        display_name=f"{mount_path.rstrip('/').replace('/', '-')}-{key.display_name}",
        creation_time=key.creation_time,
        orphan=True,
        renewable=False,
        entity_id=key.entity_id,
    )


def _parse_body(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise AwsFault(
            "SerializationException", "Start of structure or map found where not expected."
        ) from None
    if not isinstance(parsed, dict):
        raise AwsFault(
            "SerializationException", "Start of structure or map found where not expected."
        )
    return parsed


class AwsAPI:
    """ASGI application serving AWS JSON-protocol services from a :class:`Core`."""

    def __init__(self, core: Core, *, max_request_size: int = MAX_AWS_REQUEST_SIZE) -> None:
        self.core = core
        self.max_request_size = max_request_size

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point (HTTP requests only; the Vault app handles lifespan)."""
        request_id = str(uuid.uuid4())
        REQUEST_ID.set(request_id)
        started = time.perf_counter()
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        target = headers.get("x-amz-target", "")
        service = SERVICES.get(target.split(".", 1)[0])
        mount_point = ""
        try:
            status, body, mount_point = await self._dispatch(scope, receive, headers, service)
        except AwsFault as fault:
            status, body = fault.status, fault.body()
            if fault.aws_type == "UnrecognizedClientException":
                await self._audit_refusal(scope, headers, fault.message)
        except SigV4Error as exc:
            status, body = exc.status, {"__type": exc.aws_type, "message": exc.message}
            await self._audit_refusal(scope, headers, exc.message)
        except HushError as exc:
            mapped = fault_from(exc, service, request_id)
            status, body = mapped.status, mapped.body()
        except StorageError:
            log.warning("storage unavailable request_id=%s", request_id)
            status = 503
            body = {"__type": "ServiceUnavailableException", "message": "storage is unavailable"}
        except Exception:
            log.exception("internal error request_id=%s", request_id)
            internal = service.internal_error_type if service else "InternalFailure"
            status = 500
            body = {"__type": internal, "message": f"internal error; request id {request_id}"}
        payload = orjson.dumps(body)
        response_headers = [
            (b"content-type", AWS_JSON_CONTENT_TYPE.encode()),
            (b"content-length", str(len(payload)).encode()),
            (b"x-amzn-requestid", request_id.encode()),
        ]
        if status >= 400:
            response_headers.append((b"x-amzn-errortype", str(body["__type"]).encode()))
        await send({"type": "http.response.start", "status": status, "headers": response_headers})
        await send({"type": "http.response.body", "body": payload})
        action = target.split(".", 1)[-1] if service is not None else "unknown"
        self.core.metrics.observe_request(
            mount_point, f"aws:{action}", status, time.perf_counter() - started
        )

    async def _audit_refusal(self, scope: Scope, headers: dict[str, str], error: str) -> None:
        """Record a refused authentication (unknown key, bad signature) like a refused token."""
        if self.core.sealed:
            return
        authorization = headers.get("authorization", "")
        key_id = authorization.split("Credential=", 1)[-1].split("/", 1)[0] if authorization else ""
        request = Request(
            id=REQUEST_ID.get(),
            operation=Operation.UPDATE,
            path="aws/" + headers.get("x-amz-target", ""),
            data={"access_key_id": key_id},
            remote_addr=(scope.get("client") or ("", 0))[0],
        )
        try:
            await self.core.audit.log_response(request, None, error)
        except HushError:
            log.warning("a refused AWS request could not be audited")

    async def _dispatch(
        self,
        scope: Scope,
        receive: Receive,
        headers: dict[str, str],
        service: AwsService | None,
    ) -> tuple[int, dict[str, Any], str]:
        if scope["method"].upper() != "POST":
            raise AwsFault("UnknownOperationException", "Only POST is supported.", 404)
        try:
            raw = await read_body(receive, self.max_request_size)
        except BodyTooLargeError:
            raise AwsFault(
                "RequestEntityTooLargeException",
                f"Request body exceeds the maximum of {self.max_request_size} bytes",
                413,
            ) from None
        credential, _, _ = parse_authorization(headers.get("authorization", ""))
        if self.core.sealed:
            raise AwsFault("ServiceUnavailableException", "Hush is sealed", 503)
        found = await self._access_key(credential.access_key_id)
        if found is None:
            # An aws auth mount made through another worker or node may not be loaded here
            # yet: catch up with the stored tables (one epoch read) and look once more.
            await self.core.cluster_sync.sync()
            found = await self._access_key(credential.access_key_id)
        if found is None:
            raise AwsFault(
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            )
        key, auth_mount = found
        signed = SignedRequest(
            method="POST",
            path=scope.get("raw_path", b"/").decode("latin-1").split("?", 1)[0] or "/",
            query=scope.get("query_string", b"").decode("latin-1"),
            headers=headers,
            body=raw,
        )
        verify(signed, key.secret_access_key)
        target = headers.get("x-amz-target", "")
        action = target.split(".", 1)[1] if "." in target else ""
        if service is None or not service.knows(action):
            raise AwsFault("UnknownOperationException", f"Unknown operation {target!r}")
        if credential.service != service.signing_name:
            raise SigV4Error(
                "InvalidSignatureException",
                f"Credential should be scoped to correct service: '{service.signing_name}'. ",
            )
        body = _parse_body(raw)
        try:
            mount = self._service_mount(service)
        except InvalidRequest:  # mounted through another worker or node since our last sync
            await self.core.cluster_sync.sync()
            mount = self._service_mount(service)
        identity = _identity(key, auth_mount)
        context = ActionContext(action, credential.region)

        async def run(call: LogicalCall) -> dict[str, Any]:
            return await self._run(call, mount, identity, scope, headers, context)

        composite = service.composite.get(action)
        if composite is not None:
            return 200, await composite(body, context, run), mount
        return 200, await run(service.actions[action](body, context)), mount

    async def _run(
        self,
        call: LogicalCall,
        mount: str,
        identity: TokenEntry,
        scope: Scope,
        headers: dict[str, str],
        context: ActionContext,
    ) -> dict[str, Any]:
        if call.service is not None:
            # A call on another service's mount (SSM SecureStrings use KMS keys on transit).
            mount = self._service_mount(call.service)
        request = Request(
            id=REQUEST_ID.get(),
            operation=call.operation,
            path=mount + call.path,
            data=call.data,
            remote_addr=(scope.get("client") or ("", 0))[0],
            headers={k: headers[k] for k in _FORWARDED_HEADERS if k in headers},
            token_entry=identity,
        )
        try:
            response = await self.core.handle(request)
        except PermissionDenied:
            raise AwsFault(
                "AccessDeniedException",
                f"User: {identity.display_name} is not authorized to perform: "
                f"{context.action} on resource: {call.resource} because no Hush policy grants "
                f'"{call.operation.value}" on "{mount}{call.path}"',
            ) from None
        if response is None:
            return {}
        return dict(response.raw_body or response.data or {})

    async def _access_key(self, access_key_id: str) -> tuple[AccessKey, str] | None:
        for path, backend in list(self.core.auth_mounts.backends.items()):
            if isinstance(backend, AwsAuthBackend):
                key = await backend.access_key(access_key_id)
                if key is not None:
                    return key, path
        return None

    def _service_mount(self, service: AwsService) -> str:
        entries = self.core.mounts.entries
        default = entries.get(service.default_mount)
        if default is not None and default.type == service.mount_type:
            return service.default_mount
        candidates = sorted(p for p, e in entries.items() if e.type == service.mount_type)
        if not candidates:
            raise InvalidRequest(
                f"no {service.mount_type} secrets engine is mounted; enable one with "
                f"`hush secrets enable -path={service.default_mount.rstrip('/')} "
                f"{service.mount_type}`"
            )
        return candidates[0]
