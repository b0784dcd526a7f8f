"""Auth backends in-process: over a real unsealed barrier, driven through prepare() and run()."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from hush.barrier.barrier import Barrier
from hush.barrier.view import StorageView
from hush.core.request import Operation, Request, Response
from hush.crypto import SecretBytes, random_bytes
from hush.framework.backend import Backend, BackendContext
from hush.storage.memory import MemoryStorage

B = TypeVar("B", bound=Backend)


class FakeClock:
    """A settable clock for lockout windows and secret-ID expiry."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


async def unsealed_storage() -> tuple[MemoryStorage, Barrier]:
    """A memory store behind an initialised, unsealed barrier."""
    storage = MemoryStorage()
    await storage.open()
    barrier = Barrier(storage)
    key = SecretBytes(random_bytes(32))
    await barrier.initialize(key)
    await barrier.unseal(key)
    return storage, barrier


async def mount(
    factory: Callable[[BackendContext], B],
    barrier: Barrier,
    mount_path: str,
    config: Mapping[str, Any] | None = None,
) -> B:
    """A started backend whose storage is the mount's view of ``barrier``."""
    context = BackendContext(
        storage=StorageView(barrier, "auth/u1/"),
        mount_path=mount_path,
        mount_uuid="u1",
        config=dict(config or {}),
    )
    backend = factory(context)
    await backend.initialize()
    return backend


async def call(
    backend: Backend,
    operation: Operation,
    path: str,
    data: dict[str, Any] | None = None,
    remote_addr: str = "127.0.0.1",
) -> Response | None:
    """One request through the backend, the way the core runs it (after the ACL check)."""
    mount_point = "auth/" + backend.context.mount_path
    request = Request(
        id="test",
        operation=operation,
        path=mount_point + path,
        data=dict(data or {}),
        remote_addr=remote_addr,
        mount_point=mount_point,
        mount_path=path,
    )
    prepared = await backend.prepare(request)
    return await prepared.run()


async def data_of(backend: Backend, operation: Operation, path: str, **data: Any) -> Any:
    """The ``data`` of a response that must have some."""
    response = await call(backend, operation, path, data)
    assert response is not None and response.data is not None, path
    return response.data
