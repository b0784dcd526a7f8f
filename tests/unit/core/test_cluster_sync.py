"""Two cores on one store behave like two nodes: each sees the other's changes at once."""

from __future__ import annotations

import asyncio

import pytest

from hush.barrier import shamir
from hush.barrier.barrier import Barrier
from hush.core.core import Core
from hush.core.errors import NotFound, PermissionDenied
from hush.core.mounts import MountEntry
from hush.core.request import Operation, Request
from hush.crypto import SecretBytes, random_bytes
from hush.engines import register_builtin_engines
from hush.framework.registry import Registry
from hush.server.unseal_relay import RelayedShares
from hush.storage.memory import MemoryStorage


def test_rotation_on_one_barrier_is_read_by_another_and_concurrent_rotations_keep_both() -> None:
    async def main() -> None:
        storage = MemoryStorage()
        key = SecretBytes(random_bytes(32))
        first, second = Barrier(storage), Barrier(storage)
        await first.initialize(key)
        await first.unseal(key)
        await second.unseal(key)
        await first.rotate()
        await first.put("logical/a", b"written under term 2")
        assert await second.get("logical/a") == b"written under term 2"
        await asyncio.gather(first.rotate(), second.rotate())
        await first.put("logical/b", b"b")
        await second.put("logical/c", b"c")
        for barrier in (first, second):
            await barrier.reload_keyring()
            assert barrier.key_status().term_count == 4
            assert [await barrier.get(k) for k in ("logical/a", "logical/b", "logical/c")] == [
                b"written under term 2",
                b"b",
                b"c",
            ]

    asyncio.run(main())


async def _two_cores() -> tuple[Core, Core, SecretBytes]:
    storage = MemoryStorage()
    cores = []
    for _ in range(2):
        registry = Registry("secrets engine")
        register_builtin_engines(registry)
        cores.append(Core(storage, storage_type="inmem", engines=registry))
    first, second = cores
    await first.open()
    result = await first.initialize(1, 1)
    for core in cores:
        await core.unseal_with_key(SecretBytes(result.shares[0]))
    return first, second, result.root_token


async def _call(core: Core, token: SecretBytes, path: str, op: Operation, **data: object) -> object:
    response = await core.handle(
        Request(id="t", operation=op, path=path, data=dict(data), client_token=token)
    )
    return response.data if response else None


def test_mount_and_policy_changes_on_one_core_apply_on_the_other_at_once() -> None:
    async def main() -> None:
        first, second, root = await _two_cores()
        try:
            await first.mount(MountEntry(path="kv/", type="kv", options={"version": "1"}))
            await _call(second, root, "kv/a", Operation.UPDATE, v="1")
            assert await _call(first, root, "kv/a", Operation.READ) == {"v": "1"}

            await _call(
                first,
                root,
                "sys/policy/reader",
                Operation.UPDATE,
                policy='path "kv/*" { capabilities = ["read"] }',
            )
            created = await first.handle(
                Request(
                    id="t",
                    operation=Operation.UPDATE,
                    path="auth/token/create",
                    data={"policies": ["reader"]},
                    client_token=root,
                )
            )
            assert created is not None and created.auth is not None
            reader = SecretBytes(str(created.auth["client_token"]).encode())
            assert await _call(second, reader, "kv/a", Operation.READ) == {"v": "1"}
            await _call(
                first,
                root,
                "sys/policy/reader",
                Operation.UPDATE,
                policy='path "other/*" { capabilities = ["read"] }',
            )
            with pytest.raises(PermissionDenied):
                await _call(second, reader, "kv/a", Operation.READ)

            await second.unmount("kv/")
            with pytest.raises(NotFound):
                await _call(first, root, "kv/a", Operation.READ)
        finally:
            await first.close()
            await second.close()

    asyncio.run(main())


def test_relayed_shares_add_up_across_submissions_and_refuse_repeats() -> None:
    secret = random_bytes(32)
    shares = shamir.split(secret, 3, 2)
    relay = RelayedShares()
    progress, nonce, key, error = relay.add((shares[0], 2, len(shares[0])))
    assert (progress, key, error) == (1, None, None) and nonce
    assert relay.add((shares[0], 2, len(shares[0])))[3] is not None  # the same share again
    progress, again, key, error = relay.add((shares[2], 2, len(shares[2])))
    assert (progress, again, key, error) == (2, nonce, secret, None)
    relay.add((shares[1], 2, len(shares[1])))
    relay.reset()
    assert relay.add((shares[1], 2, len(shares[1])))[0] == 1
