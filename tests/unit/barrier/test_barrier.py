"""Barrier tamper tests: every kind of tampering fails the same opaque way."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from hush.barrier.barrier import KEYRING_PATH, ROOT_KEY_PATH, Barrier
from hush.core.errors import Sealed
from hush.crypto import DecryptionError, SecretBytes, random_bytes
from hush.storage.memory import MemoryStorage

Scenario = Callable[[Barrier, MemoryStorage, SecretBytes], Awaitable[None]]


def run(scenario: Scenario) -> None:
    async def main() -> None:
        storage = MemoryStorage()
        await storage.open()
        barrier = Barrier(storage)
        key = SecretBytes(random_bytes(32))
        await barrier.initialize(key)
        await barrier.unseal(key)
        await scenario(barrier, storage, key)
        await storage.close()

    asyncio.run(main())


def test_roundtrip_and_ciphertext_is_not_plaintext() -> None:
    async def scenario(barrier: Barrier, storage: MemoryStorage, key: SecretBytes) -> None:
        await barrier.put("logical/a", b"top secret value")
        assert await barrier.get("logical/a") == b"top secret value"
        raw = await storage.get("logical/a")
        assert raw is not None and b"top secret" not in raw
        assert await barrier.get("logical/missing") is None

    run(scenario)


def test_flipping_any_byte_fails_to_decrypt() -> None:
    async def scenario(barrier: Barrier, storage: MemoryStorage, key: SecretBytes) -> None:
        await barrier.put("logical/a", b"value")
        raw = await storage.get("logical/a")
        assert raw is not None
        for index in range(len(raw)):
            tampered = bytearray(raw)
            tampered[index] ^= 0x01
            await storage.put("logical/a", bytes(tampered))
            with pytest.raises(DecryptionError):
                await barrier.get("logical/a")

    run(scenario)


def test_ciphertext_moved_to_another_path_fails() -> None:
    async def scenario(barrier: Barrier, storage: MemoryStorage, key: SecretBytes) -> None:
        await barrier.put("logical/a", b"value")
        raw = await storage.get("logical/a")
        assert raw is not None
        await storage.put("logical/b", raw)
        with pytest.raises(DecryptionError) as info:
            await barrier.get("logical/b")
        assert str(info.value) == str(DecryptionError())

    run(scenario)


def test_truncated_and_unknown_term_fail() -> None:
    async def scenario(barrier: Barrier, storage: MemoryStorage, key: SecretBytes) -> None:
        await barrier.put("logical/a", b"value")
        raw = await storage.get("logical/a")
        assert raw is not None
        for bad in (b"", raw[:3], raw[:20], raw[:1] + b"\x00\x00\x00\x09" + raw[5:]):
            await storage.put("logical/a", bad)
            with pytest.raises(DecryptionError):
                await barrier.get("logical/a")

    run(scenario)


def test_rotation_keeps_old_terms_readable_and_uses_new_term() -> None:
    async def scenario(barrier: Barrier, storage: MemoryStorage, key: SecretBytes) -> None:
        await barrier.put("logical/old", b"1")
        status = await barrier.rotate()
        assert status.term == 2 and status.term_count == 2
        await barrier.put("logical/new", b"2")
        old_raw, new_raw = await storage.get("logical/old"), await storage.get("logical/new")
        assert old_raw is not None and new_raw is not None
        assert old_raw[1:5] == b"\x00\x00\x00\x01" and new_raw[1:5] == b"\x00\x00\x00\x02"
        barrier.seal()
        await barrier.unseal(key)
        assert await barrier.get("logical/old") == b"1"
        assert await barrier.get("logical/new") == b"2"
        assert barrier.key_status().term == 2

    run(scenario)


def test_wrong_unseal_key_fails_and_sealed_barrier_refuses_io() -> None:
    async def scenario(barrier: Barrier, storage: MemoryStorage, key: SecretBytes) -> None:
        barrier.seal()
        with pytest.raises(Sealed):
            await barrier.get("logical/a")
        with pytest.raises(DecryptionError):
            await barrier.unseal(SecretBytes(random_bytes(32)))
        assert barrier.sealed
        assert await barrier.verify_unseal_key(key)
        assert not await barrier.verify_unseal_key(SecretBytes(random_bytes(32)))

    run(scenario)


def test_rekey_reprotects_root_key_under_new_unseal_key() -> None:
    async def scenario(barrier: Barrier, storage: MemoryStorage, key: SecretBytes) -> None:
        await barrier.put("logical/a", b"kept")
        new_key = SecretBytes(random_bytes(32))
        await storage.transaction(barrier.rekey_ops(new_key))
        barrier.seal()
        assert not await barrier.verify_unseal_key(key)
        await barrier.unseal(new_key)
        assert await barrier.get("logical/a") == b"kept"

    run(scenario)


def test_barrier_internal_records_cannot_be_overwritten_through_it() -> None:
    async def scenario(barrier: Barrier, storage: MemoryStorage, key: SecretBytes) -> None:
        for path in (ROOT_KEY_PATH, KEYRING_PATH):
            with pytest.raises(ValueError, match="reserved"):
                await barrier.put(path, b"x")

    run(scenario)


def test_secret_bytes_never_prints_its_value() -> None:
    secret = SecretBytes(b"hunter2-canary")
    assert "hunter2" not in repr(secret) and "hunter2" not in str(secret)
    assert "hunter2" not in f"{secret}"
    with pytest.raises(TypeError):
        hash(secret)
