"""The KV v1 → v2 upgrade in process: each secret moved once, in batches, resumable."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from hush.barrier.view import StorageView
from hush.core.mounts import MountEntry, MountTable
from hush.core.request import Operation, Request, Response
from hush.engines import register_builtin_engines
from hush.engines.kv import KVv1Backend, KVv2Backend
from hush.engines.kv.v2_store import upgrade_from_v1
from hush.framework.backend import Backend, BackendContext
from hush.framework.registry import Registry
from hush.storage.base import TxnOp
from hush.storage.memory import MemoryStorage

# Names that look like the v2 layout's folders are ordinary v1 secrets and must survive as such.
SECRETS: dict[str, dict[str, Any]] = {
    "db": {"password": "p"},
    "meta/x": {"a": "1"},
    "versions/a/1": {"b": 2},
    "config": {"c": True},
    "deep/er/still": {"d": [1, 2]},
}


class CountingStorage(StorageView):
    """A view that counts transactions and can fail the ``fail_at``-th one (a crash)."""

    def __init__(self, fail_at: int = 0) -> None:
        super().__init__(MemoryStorage(), "logical/m/")
        self.transactions: list[int] = []
        self.fail_at = fail_at

    async def transaction(self, ops: Sequence[TxnOp]) -> None:
        """Count, maybe fail before applying anything, else apply."""
        self.transactions.append(len(ops))
        if len(self.transactions) == self.fail_at:
            raise OSError("simulated crash")
        await super().transaction(ops)


async def call(backend: Backend, op: Operation, path: str, **data: Any) -> Response | None:
    """Send one request to ``backend`` as the core would."""
    request = Request(id="t", operation=op, path="m/" + path, data=data).with_route("m/", path)
    return await (await backend.prepare(request)).run()


async def write_v1(storage: StorageView) -> None:
    v1 = KVv1Backend(BackendContext(storage=storage, mount_path="m/", mount_uuid="u"))
    for path, secret in SECRETS.items():
        await call(v1, Operation.UPDATE, path, **secret)


async def assert_all_version_1(storage: StorageView) -> None:
    context = BackendContext(storage, "m/", "u", options={"version": "2"})
    v2 = KVv2Backend(context)
    await v2.initialize()
    for path, secret in SECRETS.items():
        response = await call(v2, Operation.READ, "data/" + path)
        assert response is not None and response.data is not None, path
        assert response.data["data"] == secret
        assert response.data["metadata"]["version"] == 1
    assert await storage.list("") == ["/"]  # no v1 key is left outside the v2 namespace


def test_upgrade_moves_every_secret_in_batches() -> None:
    async def scenario() -> None:
        storage = CountingStorage()
        await write_v1(storage)
        assert await upgrade_from_v1(storage, batch_size=2) == len(SECRETS)
        assert storage.transactions == [6, 6, 3]  # three operations per secret, two per batch
        assert await upgrade_from_v1(storage, batch_size=2) == 0  # marked done: runs once
        await assert_all_version_1(storage)

    asyncio.run(scenario())


def test_upgrade_resumes_after_a_crash_without_duplicates() -> None:
    async def scenario() -> None:
        storage = CountingStorage(fail_at=2)
        await write_v1(storage)
        with pytest.raises(OSError, match="simulated crash"):
            await upgrade_from_v1(storage, batch_size=2)
        storage.fail_at = 0
        assert await upgrade_from_v1(storage, batch_size=2) == len(SECRETS) - 2
        await assert_all_version_1(storage)

    asyncio.run(scenario())


def test_tuning_a_kv_mount_to_version_2_upgrades_it() -> None:
    async def scenario() -> None:
        registry = Registry("secrets engine")
        register_builtin_engines(registry)
        table = MountTable(MemoryStorage(), registry)
        await table.load()
        await table.mount(MountEntry(path="m/", type="kv", options={"version": "1"}))
        assert isinstance(table.backends["m/"], KVv1Backend)
        for path, secret in SECRETS.items():
            await call(table.backends["m/"], Operation.UPDATE, path, **secret)
        await table.tune("m/", config={}, options={"version": "2"}, description=None)
        backend = table.backends["m/"]
        assert isinstance(backend, KVv2Backend)
        listed = await call(backend, Operation.LIST, "metadata/")
        assert listed is not None and listed.data == {
            "keys": ["config", "db", "deep/", "meta/", "versions/"]
        }
        response = await call(backend, Operation.READ, "data/versions/a/1")
        assert response is not None and response.data is not None
        assert response.data["data"] == {"b": 2}

    asyncio.run(scenario())
