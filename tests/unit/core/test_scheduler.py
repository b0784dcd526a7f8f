"""The scheduler rotates transit keys whose auto_rotate_period has passed."""

from __future__ import annotations

import asyncio
import time

from hush.core.core import Core
from hush.core.mounts import MountEntry
from hush.core.request import Operation, Request
from hush.crypto import SecretBytes
from hush.engines import register_builtin_engines
from hush.framework.registry import Registry
from hush.storage.memory import MemoryStorage


async def _core() -> tuple[Core, SecretBytes]:
    registry = Registry("secrets engine")
    register_builtin_engines(registry)
    core = Core(MemoryStorage(), storage_type="inmem", engines=registry)
    await core.open()
    result = await core.initialize(1, 1)
    await core.unseal_with_key(SecretBytes(result.shares[0]))
    return core, result.root_token


def test_tick_rotates_due_transit_keys_only() -> None:
    async def main() -> None:
        core, token = await _core()
        await core.mount(MountEntry(path="transit/", type="transit"))

        async def call(path: str, data: dict[str, object], op: Operation) -> object:
            response = await core.handle(
                Request(id="t", operation=op, path=path, data=data, client_token=token)
            )
            return response.data if response else None

        await call("transit/keys/rotating", {"auto_rotate_period": "1h"}, Operation.UPDATE)
        await call("transit/keys/still", {}, Operation.UPDATE)
        await core.scheduler.tick(time.time() + 60)
        read = await call("transit/keys/rotating", {}, Operation.READ)
        assert isinstance(read, dict) and read["latest_version"] == 1
        await core.scheduler.tick(time.time() + 3700)
        rotating = await call("transit/keys/rotating", {}, Operation.READ)
        still = await call("transit/keys/still", {}, Operation.READ)
        assert isinstance(rotating, dict) and rotating["latest_version"] == 2
        assert isinstance(still, dict) and still["latest_version"] == 1
        await core.close()

    asyncio.run(main())
