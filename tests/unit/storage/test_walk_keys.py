"""walk_keys: the depth-first folder walk behind mount clearing and lease-prefix revocation."""

from __future__ import annotations

import asyncio

from hush.barrier.view import StorageView
from hush.storage.base import walk_keys
from hush.storage.memory import MemoryStorage


def test_walk_yields_every_key_below_the_folder_and_nothing_else() -> None:
    async def scenario() -> None:
        storage = MemoryStorage()
        keys = ["a/x", "a/b/y", "a/b/c/z", "a/b/c/w", "ab/outside", "other/v", "top"]
        for key in keys:
            await storage.put(key, b"v")
        listed: list[str] = []

        async def list_children(prefix: str) -> list[str]:
            listed.append(prefix)
            return await storage.list(prefix)

        below_a = [key async for key in walk_keys(list_children, "a/")]
        assert sorted(below_a) == ["a/b/c/w", "a/b/c/z", "a/b/y", "a/x"]
        assert listed == ["a/", "a/b/", "a/b/c/"]  # one listing per folder, no more
        everything = [key async for key in walk_keys(storage.list, "")]
        assert sorted(everything) == sorted(keys)
        assert [key async for key in walk_keys(storage.list, "missing/")] == []

    asyncio.run(scenario())


def test_clearing_a_view_deletes_its_whole_tree_and_nothing_beside_it() -> None:
    async def scenario() -> None:
        storage = MemoryStorage()
        view = StorageView(storage, "logical/m1/")
        for i in range(1200):  # more than one 500-key delete batch
            await view.put(f"d{i % 3}/sub/k{i}", b"v")
        await view.put("top", b"v")
        await storage.put("logical/m10/kept", b"v")
        await storage.put("logical/m2/kept", b"v")
        await view.clear()
        assert await storage.list("logical/m1/") == []
        assert await storage.list("logical/") == ["m10/", "m2/"]

    asyncio.run(scenario())
