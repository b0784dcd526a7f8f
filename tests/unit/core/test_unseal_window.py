"""A node whose barrier is open but whose tokens, policies and mounts are still loading is sealed.

Worker processes unseal from their supervisor while connections keep arriving; a request that
lands between the barrier opening and the token store being set up must get the sealed answer
(503), never an internal error.
"""

from __future__ import annotations

import asyncio

import pytest

from hush.core.core import Core
from hush.core.errors import Sealed
from hush.core.request import Operation, Request
from hush.crypto import SecretBytes
from hush.engines import register_builtin_engines
from hush.framework.registry import Registry
from hush.storage.memory import MemoryStorage


def test_requests_during_post_unseal_loading_are_refused_as_sealed() -> None:
    async def main() -> None:
        registry = Registry("secrets engine")
        register_builtin_engines(registry)
        core = Core(MemoryStorage(), storage_type="inmem", engines=registry)
        await core.open()
        result = await core.initialize(1, 1)

        loading = asyncio.Event()
        release = asyncio.Event()
        original_setup = core.identity.setup

        async def slow_identity_setup() -> None:
            loading.set()
            await release.wait()
            await original_setup()

        core.identity.setup = slow_identity_setup  # type: ignore[method-assign]
        unseal = asyncio.create_task(core.unseal_with_key(SecretBytes(result.shares[0])))
        await loading.wait()
        assert not core.barrier.sealed
        assert core.sealed
        request = Request(
            id="t", operation=Operation.READ, path="sys/mounts", client_token=result.root_token
        )
        with pytest.raises(Sealed):
            await core.handle(request)

        release.set()
        await unseal
        assert not core.sealed
        response = await core.handle(request)
        assert response is not None and "secret/" not in (response.data or {})
        await core.seal()
        assert core.sealed

    asyncio.run(main())
