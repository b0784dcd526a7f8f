"""The backend interface: a secrets engine or auth method is an ordered list of declared paths.

Handling is split in two so the core can check the ACL between them: :meth:`Backend.prepare`
routes the request, resolves ``create`` vs ``update`` through the path's existence check and
validates the fields; :meth:`PreparedCall.run` invokes the handler.
"""

from __future__ import annotations

import fnmatch
import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from hush.barrier.view import LogicalStorage
from hush.core.errors import InvalidRequest, MethodNotAllowed, NotFound
from hush.core.request import Operation, Request, Response, SecretLease
from hush.crypto import SecretBytes
from hush.framework.fields import FieldData
from hush.framework.path import Path, PathMatch
from hush.storage.base import InvalidKeyError

__all__ = ["Backend", "BackendContext", "PreparedCall", "SystemView"]

# The "unrecognized parameters" warning names at most this many (a body may carry a million).
_MAX_NAMED_UNKNOWN = 20


def _invalid_path() -> InvalidRequest:
    # A path the storage cannot hold is the caller's mistake, not a server failure.
    return InvalidRequest("invalid path: too long, or contains a NUL character")


class SystemView(Protocol):
    """Services of the core a backend may use (Vault's ``logical.SystemView``)."""

    async def generate_password(self, policy_name: str) -> str:
        """A password from the named ``sys/policies/password`` policy (404 if it is missing)."""
        ...

    def lease_ttls(self, config: Mapping[str, Any]) -> tuple[int, int]:
        """The default and max lease TTL of a mount tuned with ``config``, within the system's.

        Vault's ``SystemView.DefaultLeaseTTL``/``MaxLeaseTTL``: the values the expiration
        manager caps leases with, so a backend can give its secret the same lifetime.
        """
        ...

    async def audit_event(
        self, mount_path: str, event: str, data: Mapping[str, Any], error: str
    ) -> None:
        """Write a ``type: event`` entry to the audit devices (no secret values in ``data``).

        Raises ``AuditUnavailable`` when devices are enabled and none could record it.
        """
        ...

    async def kms_key_id(self, reference: str) -> str:
        """The id of the KMS key (on the node's transit KMS layer) an id, ARN or alias names.

        Raises the transit engine's typed KMS errors (``NotFoundException``, ...) and
        ``Unsupported`` when no transit engine is mounted.
        """
        ...

    async def kms_encrypt(
        self, key_id: str, plaintext: SecretBytes, context: Mapping[str, str]
    ) -> bytes:
        """A KMS ciphertext blob of ``plaintext`` under ``key_id`` bound to ``context``."""
        ...

    async def kms_decrypt(
        self, key_id: str, blob: bytes, context: Mapping[str, str]
    ) -> SecretBytes:
        """The plaintext of a blob made by :meth:`kms_encrypt` (same key and context)."""
        ...

    async def kms_denied(self, request: Request, action: str, key_id: str) -> str | None:
        """The path the caller of ``request`` lacks ``update`` on to ``action`` with a key.

        ``action`` is ``encrypt`` or ``decrypt``; the path is the transit KMS layer's
        ``<mount>kms/<action>/<key id>``, the one a KMS client needs the same grant on. ``None``
        when the caller's policies allow it.
        """
        ...


@dataclass(frozen=True, slots=True)
class BackendContext:
    """What a backend is given when it is mounted: its own storage view and its mount's facts.

    ``system`` is ``None`` for backends built outside a core (unit tests, the system backend).
    """

    storage: LogicalStorage
    mount_path: str
    mount_uuid: str
    options: Mapping[str, str] = field(default_factory=dict)
    config: Mapping[str, Any] = field(default_factory=dict)
    system: SystemView | None = None


@dataclass(frozen=True, slots=True)
class PreparedCall:
    """A routed, validated request ready to run; ``operation`` is the one the ACL must allow."""

    backend: Backend
    request: Request
    match: PathMatch | None
    operation: Operation
    fields: FieldData | None
    warnings: tuple[str, ...] = ()

    async def run(self) -> Response | None:
        """Invoke the handler (or render help)."""
        if self.operation is Operation.HELP or self.match is None:
            return self.backend.help_response(self.match)
        spec = self.match.path.operations[self.operation]
        assert self.fields is not None
        try:
            response = await spec.handler(self.request, self.fields)
        except InvalidKeyError:
            raise _invalid_path() from None
        if self.warnings:
            response = response or Response()
            response.warnings = [*self.warnings, *response.warnings]
        return response


class Backend:
    """Base class of every engine and auth method. Subclasses declare ``paths()``."""

    type_name: ClassVar[str] = ""
    synopsis: ClassVar[str] = ""
    unauthenticated: ClassVar[tuple[str, ...]] = ()
    sudo_paths: ClassVar[tuple[str, ...]] = ()

    def __init__(self, context: BackendContext) -> None:
        self.context = context
        self.storage = context.storage
        self._paths: tuple[Path, ...] = tuple(self.paths())

    def paths(self) -> Sequence[Path]:
        """The ordered endpoint declarations of this backend."""
        return ()

    @property
    def declared_paths(self) -> tuple[Path, ...]:
        """The paths built at construction (for OpenAPI and route-table tests)."""
        return self._paths

    async def initialize(self) -> None:
        """Called once after mounting or unsealing; load state here, not in ``__init__``."""

    async def cleanup(self) -> None:
        """Called before the mount goes away (unmount or seal)."""

    async def periodic(self, now: float) -> None:
        """Background work due at ``now`` (key rotation, tidying); called by the scheduler."""

    async def renew_secret(
        self, secret_type: str, internal_data: dict[str, Any], increment: int
    ) -> SecretLease:
        """Extend a lease this backend issued; returns the granted lease (TTL before capping).

        The expiration manager then applies Vault's ``CalculateTTL``: the caller's ``increment``
        if given, else the returned ``ttl``, else the mount's default; cut so the lease ends by
        its issue time plus the smallest of the returned (or original) ``max_ttl``, the mount's
        ``max_lease_ttl`` and the system max. A non-empty returned ``internal_data`` replaces the
        stored one; ``renewable`` is taken as returned. Raise a ``HushError`` to refuse (its
        message reaches the client). Backends whose secrets cannot be renewed keep this default.
        """
        raise InvalidRequest(f"lease of type {secret_type!r} is not renewable")

    async def revoke_secret(self, secret_type: str, internal_data: dict[str, Any]) -> None:
        """Destroy a dynamic secret this backend issued (drop the database user, ...).

        Raising lets the expiration manager retry with backoff (it gives up after a few attempts
        and marks the lease irrevocable). Only a ``HushError``'s message is stored, logged and
        shown; other exceptions are recorded by type name, since driver messages may quote
        connection details. Must be idempotent: a revocation may be retried after a crash.
        The default does nothing.
        """

    async def locked_users(self) -> list[dict[str, Any]]:
        """Users an auth method has locked out (``sys/locked-users``); none by default."""
        return []

    async def unlock(self, alias: str) -> bool:
        """Lift a lockout; ``False`` when the method has no such locked user."""
        return False

    def is_unauthenticated(self, mount_path: str) -> bool:
        """Whether ``mount_path`` may be called without a token (globs like ``login/*``)."""
        return any(fnmatch.fnmatchcase(mount_path, pattern) for pattern in self.unauthenticated)

    def requires_sudo(self, mount_path: str) -> bool:
        """Whether ``mount_path`` needs the ``sudo`` capability besides the operation's own."""
        return any(fnmatch.fnmatchcase(mount_path, pattern) for pattern in self.sudo_paths)

    def route(self, mount_path: str) -> PathMatch | None:
        """The first declared path matching ``mount_path``."""
        for path in self._paths:
            found = path.match(mount_path)
            if found is not None:
                return found
        return None

    async def prepare(self, request: Request) -> PreparedCall:
        """Route, resolve create/update and validate fields; raises 404/405/400 errors."""
        found = self.route(request.mount_path)
        if request.operation is Operation.HELP:
            return PreparedCall(self, request, found, Operation.HELP, None)
        if found is None:
            raise NotFound("unsupported path")
        path = found.path
        raw: dict[str, Any] = {**request.data, **found.params}
        fields = FieldData(path.fields, raw)
        operation: Operation = request.operation
        if operation in (Operation.CREATE, Operation.UPDATE):
            operation = await self._resolve_write(path, request, fields)
        if operation not in path.operations:
            raise MethodNotAllowed
        unknown = set(request.data) - set(path.fields) if path.fields else set()
        warnings = (_unknown_warning(unknown),) if unknown and not path.arbitrary_input else ()
        return PreparedCall(self, request, found, operation, fields, warnings)

    async def _resolve_write(self, path: Path, request: Request, fields: FieldData) -> Operation:
        # Vault: without an existence check every write is an update; with one, a write to a
        # missing object is a create. A path that only declares one of the two takes that one.
        ops = path.operations
        if path.exists is not None and Operation.CREATE in ops and Operation.UPDATE in ops:
            try:
                exists = await path.exists(request, fields)
            except InvalidKeyError:
                raise _invalid_path() from None
            return Operation.UPDATE if exists else Operation.CREATE
        if Operation.UPDATE in ops:
            return Operation.UPDATE
        return Operation.CREATE

    def help_response(self, found: PathMatch | None) -> Response:
        """The ``?help=1`` answer for a path (or the backend as a whole)."""
        text = found.path.help_text() if found else (self.synopsis or self.type_name)
        openapi: dict[str, Any] = {"openapi": "3.0.2", "paths": {}}
        if found is not None:
            openapi["paths"]["/" + found.path.openapi_path()] = found.path.openapi_item()
        return Response(raw_body={"help": text, "openapi": openapi, "see_also": None})


def _unknown_warning(unknown: set[str]) -> str:
    """Vault's ignored-parameters warning: the first few names (sorted), then a count."""
    named = heapq.nsmallest(_MAX_NAMED_UNKNOWN, unknown)
    more = len(unknown) - len(named)
    suffix = f" and {more} more" if more else ""
    return f"Endpoint ignored these unrecognized parameters: [{' '.join(named)}]{suffix}"
