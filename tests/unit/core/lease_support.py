"""An in-process core with a small dynamic-secret backend, for the expiration manager's tests.

``dyn/creds/<name>`` returns a made-up credential with a lease; the backend records every renew
and revoke call and can be told to fail or hang on revocation.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hush.core.core import Core
from hush.core.expiration import ExpirySettings
from hush.core.mounts import MountEntry
from hush.core.request import Operation, Request, Response, SecretLease
from hush.crypto import SecretBytes
from hush.framework.backend import Backend, BackendContext
from hush.framework.fields import Field, FieldData, FieldType
from hush.framework.path import OperationSpec, Path
from hush.framework.registry import Registry
from hush.storage.base import Storage
from hush.storage.memory import MemoryStorage

__all__ = ["Behaviour", "DynBackend", "LeaseCore", "fast_settings", "make_core"]


@dataclass
class Behaviour:
    """What the test backend does on revocation, and what it saw."""

    fail_times: int = 0
    hang: set[str] = field(default_factory=set)
    revoked: list[str] = field(default_factory=list)
    renewed: list[tuple[str, int]] = field(default_factory=list)
    attempts: int = 0
    in_flight: int = 0
    max_in_flight: int = 0


class DynBackend(Backend):
    """Issues ``dyn/creds/<name>`` credentials with a lease; revocation is scripted."""

    type_name = "dyn"
    behaviour = Behaviour()

    def paths(self) -> Sequence[Path]:
        """One path: a credential per read."""

        async def creds(request: Request, fields: FieldData) -> Response:
            """Issue a credential."""
            name = fields.string("name")
            username = f"{name}-{request.id}"
            return Response(
                data={"username": username, "password": f"pw-{request.id}"},
                secret=SecretLease(
                    "creds",
                    ttl=fields.integer("ttl"),
                    max_ttl=fields.integer("max_ttl"),
                    renewable=not fields.boolean("fixed"),
                    internal_data={"username": username},
                ),
            )

        return [
            Path(
                r"creds/(?P<name>\w+)",
                "Issue a credential.",
                {Operation.READ: OperationSpec(creds)},
                fields={
                    "name": Field(FieldType.STRING, "Role."),
                    "ttl": Field(FieldType.DURATION, "TTL to ask for."),
                    "max_ttl": Field(FieldType.DURATION, "Max TTL to ask for."),
                    "fixed": Field(FieldType.BOOL, "Not renewable."),
                },
            )
        ]

    async def renew_secret(
        self, secret_type: str, internal_data: dict[str, Any], increment: int
    ) -> SecretLease:
        """Grant whatever is asked (the manager caps it)."""
        self.behaviour.renewed.append((str(internal_data["username"]), increment))
        return SecretLease(secret_type, ttl=0)

    async def revoke_secret(self, secret_type: str, internal_data: dict[str, Any]) -> None:
        """Record the revocation, or fail/hang as scripted."""
        behaviour = self.behaviour
        username = str(internal_data["username"])
        behaviour.attempts += 1
        behaviour.in_flight += 1
        behaviour.max_in_flight = max(behaviour.max_in_flight, behaviour.in_flight)
        try:
            await asyncio.sleep(0)
            if username in behaviour.hang:
                await asyncio.sleep(3600)
            if behaviour.fail_times:
                behaviour.fail_times -= 1
                raise ConnectionError("database unreachable")
            behaviour.revoked.append(username)
        finally:
            behaviour.in_flight -= 1


def fast_settings(**overrides: Any) -> ExpirySettings:
    """Expiry settings for tests: no jitter, short timeouts, the loop effectively idle."""
    values: dict[str, Any] = {
        "interval": 3600.0,
        "retry_base": 1.0,
        "retry_jitter": 0.0,
        "revoke_timeout": 0.5,
        "max_attempts": 3,
    }
    values.update(overrides)
    return ExpirySettings(**values)


@dataclass
class LeaseCore:
    """A core with ``dyn/`` mounted, its root token and the backend's behaviour record."""

    core: Core
    root: SecretBytes
    unseal_key: SecretBytes
    behaviour: Behaviour

    async def call(
        self,
        path: str,
        data: dict[str, Any] | None = None,
        op: Operation = Operation.READ,
        token: SecretBytes | None = None,
    ) -> Response | None:
        """Run one request through the full pipeline."""
        request = Request(
            id=uuid.uuid4().hex[:12],
            operation=op,
            path=path,
            data=dict(data or {}),
            client_token=token or self.root,
        )
        return await self.core.handle(request)

    async def creds(self, role: str = "app", **data: Any) -> Response:
        """Read ``dyn/creds/<role>``; the response carries the lease."""
        response = await self.call(f"dyn/creds/{role}", data)
        assert response is not None
        return response

    @property
    def backend(self) -> DynBackend:
        """The mounted backend instance."""
        backend = self.core.mounts.backends["dyn/"]
        assert isinstance(backend, DynBackend)
        return backend


async def make_core(
    storage: Storage | None = None,
    settings: ExpirySettings | None = None,
    mount_config: dict[str, Any] | None = None,
) -> LeaseCore:
    """Initialise and unseal an in-memory core with ``dyn/`` mounted."""
    registry = Registry("secrets engine")
    behaviour = Behaviour()

    def factory(context: BackendContext) -> Backend:
        backend = DynBackend(context)
        backend.behaviour = behaviour
        return backend

    registry.register("dyn", factory)
    core = Core(storage or MemoryStorage(), storage_type="inmem", engines=registry)
    core.expiration.settings = settings or fast_settings()
    await core.open()
    result = await core.initialize(1, 1)
    key = SecretBytes(result.shares[0])
    await core.unseal_with_key(key)
    await core.mount(MountEntry(path="dyn/", type="dyn", config=dict(mount_config or {})))
    return LeaseCore(core, result.root_token, key, behaviour)
