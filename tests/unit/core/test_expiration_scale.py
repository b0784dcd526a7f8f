"""Expiry at scale: 10,000 due leases are claimed in bounded batches, and unseal reads no lease."""

from __future__ import annotations

import asyncio
import builtins
import time
from collections import Counter

from hush.core.expiration.entry import LeaseEntry, LeaseKind, new_lease_id
from hush.storage.base import DueEntry
from hush.storage.memory import MemoryStorage
from tests.unit.core.lease_support import LeaseCore, fast_settings, make_core

LEASES = 10_000


class CountingStorage(MemoryStorage):
    """Memory storage that counts reads and claims by key prefix."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: Counter[str] = Counter()
        self.claims: list[int] = []

    @staticmethod
    def _area(key: str) -> str:
        return "lease" if key.startswith("sys/expire/") else "other"

    async def get(self, key: str) -> bytes | None:
        self.reads[self._area(key)] += 1
        return await super().get(key)

    async def list(self, prefix: str) -> builtins.list[str]:
        self.reads[self._area(prefix)] += 1
        return await super().list(prefix)

    async def claim_due(
        self, now: float, limit: int, hold: float = 30.0, *, prefix: str = ""
    ) -> builtins.list[DueEntry]:
        claimed = await super().claim_due(now, limit, hold, prefix=prefix)
        self.claims.append(len(claimed))
        return claimed


async def _plant_leases(lc: LeaseCore, count: int, ttl: float) -> None:
    """Store ``count`` secret leases of the dyn mount straight through the lease store."""
    mount = lc.core.mounts.entries["dyn/"]
    now = time.time()
    for number in range(count):
        await lc.core.expiration.store.create(
            LeaseEntry(
                lease_id=new_lease_id("dyn/creds/bulk"),
                kind=LeaseKind.SECRET,
                path="dyn/creds/bulk",
                issue_time=now,
                expire_time=now + ttl,
                mount_uuid=mount.uuid,
                mount_accessor=mount.accessor,
                secret_type="creds",
                internal_data={"username": f"bulk-{number}"},
                renewable=True,
            )
        )


def test_ten_thousand_due_leases_are_revoked_in_bounded_batches() -> None:
    async def main() -> None:
        storage = CountingStorage()
        lc = await make_core(storage=storage, settings=fast_settings(batch_size=500))
        await _plant_leases(lc, LEASES, ttl=5)
        storage.claims.clear()
        # A lease that waits too long for its mount on a loaded machine is put back a moment
        # later: a few passes, one second apart, clear everything.
        base = time.time() + 10
        wanted = {f"bulk-{n}" for n in range(LEASES)}
        for second in range(10):
            await lc.core.expiry.expire_due(base + second)
            if set(lc.behaviour.revoked) == wanted:
                break
        # Revocation is at-least-once (revoke_secret must be idempotent); every lease is gone.
        assert set(lc.behaviour.revoked) == wanted
        assert max(storage.claims) <= 500  # never more than one batch claimed at once
        assert sum(storage.claims) >= LEASES
        settings = lc.core.expiration.settings
        assert lc.behaviour.max_in_flight <= settings.per_mount_concurrency
        assert await lc.core.expiration.store.list("dyn/creds/bulk/") == []
        await lc.core.close()

    asyncio.run(main())


def test_unseal_reads_no_lease_entries() -> None:
    async def unseal_reads(leases: int) -> tuple[Counter[str], int]:
        storage = CountingStorage()
        lc = await make_core(storage=storage)
        await _plant_leases(lc, leases, ttl=3600)
        await lc.core.seal()
        storage.reads.clear()
        await lc.core.unseal_with_key(lc.unseal_key)
        reads = Counter(storage.reads)
        stored = len(await lc.core.expiration.store.list("dyn/creds/bulk/"))
        await lc.core.close()
        return reads, stored

    async def main() -> None:
        with_leases, stored = await unseal_reads(LEASES)
        without, _ = await unseal_reads(0)
        assert stored == LEASES
        assert with_leases["lease"] == 0
        assert with_leases == without  # the same reads, whatever the number of leases

    asyncio.run(main())
