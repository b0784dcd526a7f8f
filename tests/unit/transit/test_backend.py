"""The transit backend in-process: its route table, automatic rotation and stored form."""

from __future__ import annotations

import asyncio
import time

from hush.barrier.view import StorageView
from hush.engines.transit import TransitBackend
from hush.engines.transit.keys import KeyPolicy, KeyType, KeyVersion
from hush.framework.backend import BackendContext
from hush.storage.memory import MemoryStorage

SAMPLE_PATHS = [
    "keys/",
    "keys/k",
    "keys/k.v-1@x/config",
    "keys/k/rotate",
    "keys/k/trim",
    "keys/k/import",
    "keys/k/import_version",
    "wrapping_key",
    "export/encryption-key/k",
    "export/signing-key/k/latest",
    "backup/k",
    "restore",
    "restore/k",
    "encrypt/k",
    "decrypt/k",
    "rewrap/k",
    "datakey/plaintext/k",
    "sign/k",
    "sign/k/sha2-256",
    "verify/k",
    "verify/k/sha2-512",
    "hmac/k",
    "hmac/k/sha3-256",
    "random",
    "random/32",
    "random/platform/16",
    "hash",
    "hash/sha2-384",
    "cache-config",
    "config/keys",
]


def _backend() -> TransitBackend:
    storage = MemoryStorage()
    context = BackendContext(StorageView(storage, "logical/test/"), "transit/", "test")
    return TransitBackend(context)


def test_every_path_matches_exactly_one_declared_route() -> None:
    backend = _backend()
    for sample in SAMPLE_PATHS:
        matches = [p.pattern for p in backend.declared_paths if p.match(sample) is not None]
        assert len(matches) == 1, (sample, matches)
    for path in backend.declared_paths:
        assert path.synopsis and all(f.description for f in path.fields.values()), path.pattern


def test_rotate_due_rotates_only_keys_whose_period_has_passed() -> None:
    async def scenario() -> None:
        backend = _backend()
        start = time.time()
        for name, period in (("hourly", 3600), ("daily", 86400), ("manual", 0)):
            first = KeyVersion.generate(KeyType.AES256_GCM96)
            policy = KeyPolicy.create(name, KeyType.AES256_GCM96, first, auto_rotate_period=period)
            await backend.store.put(policy)
        imported = KeyPolicy.create(
            "imported",
            KeyType.AES256_GCM96,
            KeyVersion.generate(KeyType.AES256_GCM96),
            auto_rotate_period=3600,
            imported=True,
        )
        await backend.store.put(imported)
        assert await backend.rotate_due(start + 60) == []
        assert await backend.rotate_due(start + 3600 + 1) == ["hourly"]
        assert await backend.rotate_due(start + 3600 + 1) == []  # the new version is recent
        assert await backend.rotate_due(start + 86400 + 1) == ["daily", "hourly"]
        hourly = await backend.store.get("hourly")
        assert hourly is not None and hourly.latest_version == 3

    asyncio.run(scenario())


def test_stored_form_round_trips_and_repr_hides_key_material() -> None:
    policy = KeyPolicy.create("k", KeyType.ED25519, KeyVersion.generate(KeyType.ED25519))
    again = KeyPolicy.from_bytes(policy.to_bytes())
    assert again.read_data() == policy.read_data()
    secret = policy.versions[1].key.reveal()
    assert secret.hex() not in repr(policy) and "redacted" in repr(policy)
