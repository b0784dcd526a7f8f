"""Process-local locks by name: different names never wait for each other, and a name's lock is
dropped once nobody holds or waits for it (names such as KV paths are unbounded)."""

from __future__ import annotations

import asyncio

from hush.storage.locks import LocalLocks


def test_names_are_independent_and_their_locks_are_dropped_after_use() -> None:
    async def scenario() -> tuple[list[str], int, int]:
        locks = LocalLocks()
        order: list[str] = []

        async def hold(name: str, tag: str) -> None:
            async with locks.exclusive(name):
                order.append(f"{tag} in")
                await asyncio.sleep(0.01)
                order.append(f"{tag} out")

        async with locks.exclusive("outer"), locks.exclusive("inner"):
            during = locks.size()
        await asyncio.gather(hold("a", "a1"), hold("a", "a2"), hold("b", "b1"))
        return order, during, locks.size()

    order, during, after = asyncio.run(scenario())
    assert during == 2 and after == 0
    # The two holders of "a" never overlap; "b" does not wait for them.
    assert order.index("a1 out") < order.index("a2 in")
    assert order.index("b1 in") < order.index("a1 out")
