"""The expiration manager over an in-process core: registration, renewal caps, revocation
through the backend hook, retry with backoff, irrevocable leases, token revocation, batches."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import pytest

from hush.core.errors import InvalidRequest
from hush.core.expiration.entry import LeaseEntry, LeaseKind
from hush.core.request import Operation
from tests.unit.core.lease_support import LeaseCore, fast_settings, make_core


def run(test: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(test())


def _counter(core: LeaseCore, outcome: str) -> float:
    value = core.core.metrics.registry.get_sample_value(
        "hush_lease_revocations_total", {"kind": "secret", "outcome": outcome}
    )
    return value or 0.0


def test_secret_gets_a_lease_named_after_the_request_path() -> None:
    async def main() -> None:
        lc = await make_core()
        response = await lc.creds("app", ttl=120)
        assert response.lease_id.startswith("dyn/creds/app/")
        assert len(response.lease_id) > len("dyn/creds/app/") + 16
        assert response.lease_duration == 120
        assert response.renewable is True
        entry = await lc.core.expiration.lookup(response.lease_id)
        assert entry.kind is LeaseKind.SECRET
        assert entry.internal_data == {"username": response.data["username"]}  # type: ignore[index]
        assert 119 <= entry.ttl(time.time()) <= 120
        await lc.core.close()

    run(main)


def test_ttl_comes_from_the_mount_tune_and_is_capped_by_it() -> None:
    async def main() -> None:
        lc = await make_core(mount_config={"default_lease_ttl": 100, "max_lease_ttl": 200})
        assert (await lc.creds()).lease_duration == 100
        assert (await lc.creds(ttl=500)).lease_duration == 200
        assert (await lc.creds(ttl=500, max_ttl=50)).lease_duration == 50
        await lc.core.close()

    run(main)


def test_renew_extends_by_increment_within_the_lease_max_ttl() -> None:
    async def main() -> None:
        lc = await make_core()
        lease = await lc.creds(ttl=60, max_ttl=300)
        renewed = await lc.core.expiration.renew(lease.lease_id, 120)
        assert renewed.lease_duration == 120
        assert renewed.warnings == []
        capped = await lc.core.expiration.renew(lease.lease_id, 1000)
        assert 298 <= capped.lease_duration <= 300
        assert "exceeded the effective max_ttl" in capped.warnings[0]
        assert [increment for _, increment in lc.behaviour.renewed] == [120, 1000]
        entry = await lc.core.expiration.lookup(lease.lease_id)
        assert entry.last_renewal > 0
        await lc.core.close()

    run(main)


def test_renew_is_capped_by_the_mount_max_lease_ttl() -> None:
    async def main() -> None:
        lc = await make_core(mount_config={"max_lease_ttl": 90})
        lease = await lc.creds(ttl=30)
        renewed = await lc.core.expiration.renew(lease.lease_id, 3600)
        assert 88 <= renewed.lease_duration <= 90
        await lc.core.close()

    run(main)


def test_renew_refusals_match_vault() -> None:
    async def main() -> None:
        lc = await make_core()
        manager = lc.core.expiration
        with pytest.raises(InvalidRequest, match="lease not found"):
            await manager.renew("dyn/creds/app/nope", 10)
        fixed = await lc.creds(ttl=60, fixed=True)
        with pytest.raises(InvalidRequest, match="lease is not renewable"):
            await manager.renew(fixed.lease_id, 10)
        old = await lc.creds(ttl=60, max_ttl=100)
        entry = await manager.lookup(old.lease_id)
        entry.issue_time -= 200  # issued long enough ago to be past its max TTL
        await manager.store.save(entry, entry.expire_time)
        with pytest.raises(InvalidRequest, match="past the max TTL, cannot renew"):
            await manager.renew(old.lease_id, 10)
        await lc.core.close()

    run(main)


def test_revoke_calls_the_backend_hook_and_forgets_the_lease() -> None:
    async def main() -> None:
        lc = await make_core()
        lease = await lc.creds()
        await lc.core.expiration.revoke(lease.lease_id)
        assert lc.behaviour.revoked == [lease.data["username"]]  # type: ignore[index]
        with pytest.raises(InvalidRequest, match="invalid lease"):
            await lc.core.expiration.lookup(lease.lease_id)
        # Revoking an unknown lease is not an error (Vault answers 204).
        await lc.core.expiration.revoke(lease.lease_id)
        await lc.core.close()

    run(main)


def test_due_leases_expire_through_the_backend_and_others_wait() -> None:
    async def main() -> None:
        lc = await make_core()
        short = await lc.creds(ttl=10)
        long = await lc.creds(ttl=1000)
        now = time.time()
        assert await lc.core.expiry.expire_due(now + 5) == 0
        assert await lc.core.expiry.expire_due(now + 11) == 1
        assert lc.behaviour.revoked == [short.data["username"]]  # type: ignore[index]
        assert (await lc.core.expiration.lookup(long.lease_id)).lease_id == long.lease_id
        assert _counter(lc, "revoked") == 1
        await lc.core.close()

    run(main)


def test_renewed_lease_is_not_revoked_at_its_old_expiry() -> None:
    async def main() -> None:
        lc = await make_core()
        lease = await lc.creds(ttl=10)
        await lc.core.expiration.renew(lease.lease_id, 500)
        assert await lc.core.expiry.expire_due(time.time() + 11) == 0
        assert lc.behaviour.revoked == []
        await lc.core.close()

    run(main)


def test_failed_revocation_is_retried_with_exponential_backoff() -> None:
    async def main() -> None:
        lc = await make_core(settings=fast_settings(retry_base=10.0, max_attempts=6))
        lease = await lc.creds(ttl=1)
        lc.behaviour.fail_times = 2
        start = time.time() + 2
        await lc.core.expiry.expire_due(start)  # attempt 1 fails: next in 10 s
        entry = await lc.core.expiration.lookup(lease.lease_id)
        assert entry.revoke_attempts == 1
        assert "ConnectionError" in entry.revocation_error
        await lc.core.expiry.expire_due(start + 9)
        assert lc.behaviour.attempts == 1
        await lc.core.expiry.expire_due(start + 10)  # attempt 2 fails: next in 20 s
        assert lc.behaviour.attempts == 2
        await lc.core.expiry.expire_due(start + 29)
        assert lc.behaviour.attempts == 2
        await lc.core.expiry.expire_due(start + 30)  # attempt 3 succeeds
        assert lc.behaviour.revoked == [lease.data["username"]]  # type: ignore[index]
        assert _counter(lc, "failed") == 2
        assert _counter(lc, "revoked") == 1
        await lc.core.close()

    run(main)


def test_backoff_doubles_and_jitters_within_half() -> None:
    async def main() -> None:
        lc = await make_core(settings=fast_settings(retry_base=10.0, retry_jitter=0.5))
        for attempt, base in ((1, 10.0), (2, 20.0), (3, 40.0)):
            for _ in range(20):
                assert base * 0.5 <= lc.core.expiry.backoff(attempt) <= base * 1.5
        await lc.core.close()

    run(main)


def test_lease_becomes_irrevocable_after_max_attempts(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        lc = await make_core(settings=fast_settings(retry_base=1.0, max_attempts=3))
        lease = await lc.creds(ttl=1)
        password = str(lease.data["password"])  # type: ignore[index]
        lc.behaviour.fail_times = 100
        moment = time.time() + 2
        for step in range(10):
            await lc.core.expiry.expire_due(moment + step * 10)
        assert lc.behaviour.attempts == 3
        entry = await lc.core.expiration.lookup(lease.lease_id)
        assert entry.irrevocable
        assert _counter(lc, "irrevocable") == 1
        listing = await lc.call("sys/leases", {"type": "irrevocable"})
        assert listing is not None and listing.data is not None
        assert listing.data["lease_count"] == 1
        assert listing.data["leases"][0]["lease_id"] == lease.lease_id
        assert "ConnectionError" in listing.data["leases"][0]["error"]
        counts = await lc.call("sys/leases/count", {"type": "irrevocable"})
        assert counts is not None and counts.data is not None
        accessor = lc.core.mounts.entries["dyn/"].accessor
        assert counts.data == {"lease_count": 1, "counts": {accessor: 1}}
        with pytest.raises(InvalidRequest, match="failed previous revocation attempts"):
            await lc.core.expiration.renew(lease.lease_id, 10)
        assert any("irrevocable" in r.getMessage() for r in caplog.records)
        assert all(password not in r.getMessage() for r in caplog.records)
        # revoke-force deletes it although the backend still fails.
        await lc.call(f"sys/leases/revoke-force/{lease.lease_id}", {}, Operation.UPDATE)
        with pytest.raises(InvalidRequest, match="invalid lease"):
            await lc.core.expiration.lookup(lease.lease_id)
        after = await lc.call("sys/leases/count", {"type": "irrevocable"})
        assert after is not None and after.data == {"lease_count": 0, "counts": {}}
        await lc.core.close()

    with caplog.at_level(logging.WARNING, logger="hush.core.expiration"):
        run(main)


def test_a_hanging_revocation_never_blocks_the_others() -> None:
    async def main() -> None:
        lc = await make_core(settings=fast_settings(revoke_timeout=0.3))
        stuck = await lc.creds(ttl=1)
        others = [await lc.creds(ttl=1) for _ in range(5)]
        lc.behaviour.hang.add(str(stuck.data["username"]))  # type: ignore[index]
        started = time.monotonic()
        await lc.core.expiry.expire_due(time.time() + 2)
        # Generous for a loaded machine; without the timeout the hang would last an hour.
        assert time.monotonic() - started < 10.0
        assert sorted(lc.behaviour.revoked) == sorted(str(o.data["username"]) for o in others)  # type: ignore[index]
        entry = await lc.core.expiration.lookup(stuck.lease_id)
        assert entry.revoke_attempts == 1
        assert entry.revocation_error == "revocation timed out"
        await lc.core.close()

    run(main)


def test_revoking_a_token_revokes_the_leases_it_was_issued() -> None:
    async def main() -> None:
        lc = await make_core()
        created = await lc.call("auth/token/create", {"policies": ["root"]}, Operation.UPDATE)
        assert created is not None and created.auth is not None
        from hush.crypto import SecretBytes

        child = SecretBytes(created.auth["client_token"].encode())
        mine = await lc.call("dyn/creds/app", {}, token=child)
        unrelated = await lc.creds()
        assert mine is not None
        await lc.call("auth/token/revoke-self", {}, Operation.UPDATE, token=child)
        await lc.core.expiry.expire_due()
        assert lc.behaviour.revoked == [mine.data["username"]]  # type: ignore[index]
        assert (await lc.core.expiration.lookup(unrelated.lease_id)).lease_id
        await lc.core.close()

    run(main)


def test_prefix_revocation_and_listing() -> None:
    async def main() -> None:
        lc = await make_core()
        app = [await lc.creds("app") for _ in range(3)]
        other = await lc.creds("other")
        listed = await lc.call("sys/leases/lookup/dyn/creds/app/", {}, Operation.LIST)
        assert listed is not None and listed.data is not None
        assert sorted(listed.data["keys"]) == sorted(r.lease_id.rsplit("/", 1)[1] for r in app)
        await lc.call("sys/leases/revoke-prefix/dyn/creds/app", {}, Operation.UPDATE)
        assert len(lc.behaviour.revoked) == 3
        assert (await lc.core.expiration.lookup(other.lease_id)).lease_id == other.lease_id
        await lc.core.close()

    run(main)


def test_registration_failure_revokes_the_secret() -> None:
    async def main() -> None:
        lc = await make_core()

        async def broken(entry: LeaseEntry) -> None:
            raise OSError("disk full")

        lc.core.expiration.store.create = broken  # type: ignore[method-assign]
        with pytest.raises(OSError):
            await lc.creds()
        assert len(lc.behaviour.revoked) == 1
        await lc.core.close()

    run(main)


def test_unmount_revokes_the_mounts_leases_first() -> None:
    async def main() -> None:
        lc = await make_core()
        lease = await lc.creds()
        behaviour = lc.behaviour
        await lc.core.unmount("dyn/")
        assert behaviour.revoked == [lease.data["username"]]  # type: ignore[index]
        await lc.core.close()

    run(main)


def test_lease_internal_data_is_encrypted_in_storage() -> None:
    async def main() -> None:
        from hush.storage.memory import MemoryStorage

        storage = MemoryStorage()
        lc = await make_core(storage=storage)
        lease = await lc.creds("canaryrole")
        username = str(lease.data["username"]).encode()  # type: ignore[index]
        password = str(lease.data["password"]).encode()  # type: ignore[index]
        values: dict[str, bytes] = storage._values
        assert any(k.startswith("sys/expire/id/dyn/creds/canaryrole/") for k in values)
        assert not any(username in v or password in v for v in values.values())
        await lc.core.close()

    run(main)


def test_expired_token_leaves_storage_through_the_due_index() -> None:
    async def main() -> None:
        from hush.crypto import SecretBytes
        from hush.storage.memory import MemoryStorage

        storage = MemoryStorage()
        lc = await make_core(storage=storage)
        issued = time.time()  # the token's expiry is at least 1 s after this
        created = await lc.call("auth/token/create", {"ttl": "1s"}, Operation.UPDATE)
        assert created is not None and created.auth is not None
        token = SecretBytes(created.auth["client_token"].encode())
        await lc.call("cubbyhole/note", {"n": "1"}, Operation.UPDATE, token=token)
        token_hash = lc.core.tokens.hash_token(token)
        values: dict[str, bytes] = storage._values

        def stored() -> list[str]:
            return [k for k in values if token_hash in k]

        assert any(k.startswith("sys/cubbyhole/") for k in stored())
        assert any(k.startswith("sys/expire/id/auth/token/create/h") for k in stored())
        assert await lc.core.expiry.expire_due(issued + 0.5) == 0
        await asyncio.sleep(1.05)
        assert await lc.core.expiry.expire_due() == 1
        assert stored() == []
        assert _token_counter(lc) == 1
        await lc.core.close()

    run(main)


def test_renewed_token_moves_its_due_time() -> None:
    async def main() -> None:
        lc = await make_core()
        created = await lc.call("auth/token/create", {"ttl": "60s"}, Operation.UPDATE)
        assert created is not None and created.auth is not None
        token = created.auth["client_token"]
        await lc.call("auth/token/renew", {"token": token, "increment": "600s"}, Operation.UPDATE)
        assert await lc.core.expiry.expire_due(time.time() + 120) == 0
        from hush.crypto import SecretBytes

        assert await lc.core.tokens.lookup(SecretBytes(token.encode())) is not None
        await lc.core.close()

    run(main)


def _token_counter(lc: LeaseCore) -> float:
    value = lc.core.metrics.registry.get_sample_value(
        "hush_lease_revocations_total", {"kind": "token", "outcome": "revoked"}
    )
    return value or 0.0


def test_the_loop_stops_on_seal_and_catches_up_after_unseal() -> None:
    async def main() -> None:
        lc = await make_core(settings=fast_settings(interval=0.05))
        first = await lc.creds(ttl=1)
        await lc.core.seal()
        await asyncio.sleep(1.2)  # comes due while sealed: nothing may run
        assert lc.behaviour.attempts == 0
        await lc.core.unseal_with_key(lc.unseal_key)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not lc.behaviour.revoked:
            await asyncio.sleep(0.05)
        revoked = lc.behaviour.revoked
        assert revoked == [first.data["username"]]  # type: ignore[index]
        await lc.core.close()

    run(main)


def test_an_irrevocable_lease_is_retried_slowly_until_its_backend_recovers() -> None:
    async def main() -> None:
        settings = fast_settings(retry_base=1.0, max_attempts=2, irrevocable_retry=600.0)
        lc = await make_core(settings=settings)
        lease = await lc.creds(ttl=1)
        lc.behaviour.fail_times = 3  # two attempts, then one slow retry, all fail
        moment = time.time() + 2
        await lc.core.expiry.expire_due(moment)
        await lc.core.expiry.expire_due(moment + 1)
        assert (await lc.core.expiration.lookup(lease.lease_id)).irrevocable
        await lc.core.expiry.expire_due(moment + 599)
        assert lc.behaviour.attempts == 2
        await lc.core.expiry.expire_due(moment + 601)  # the slow retry fails too
        assert lc.behaviour.attempts == 3
        await lc.core.expiry.expire_due(moment + 1202)  # the database is back
        assert lc.behaviour.revoked == [lease.data["username"]]  # type: ignore[index]
        counts = await lc.call("sys/leases/count", {"type": "irrevocable"})
        assert counts is not None and counts.data == {"lease_count": 0, "counts": {}}
        await lc.core.close()

    run(main)


def test_a_path_too_long_to_lease_is_a_400_and_the_secret_is_revoked() -> None:
    async def main() -> None:
        lc = await make_core()
        with pytest.raises(InvalidRequest, match="cannot be leased"):
            await lc.creds("x" * 2100)
        assert len(lc.behaviour.revoked) == 1
        await lc.core.close()

    run(main)


def test_a_hanging_mount_gets_only_its_share_and_other_mounts_keep_expiring() -> None:
    async def main() -> None:
        from hush.core.mounts import MountEntry

        settings = fast_settings(
            per_mount_concurrency=2, revoke_timeout=30.0, batch_pause=0.2, mount_wait=0.1
        )
        lc = await make_core(settings=settings)
        await lc.core.mount(MountEntry(path="dyn2/", type="dyn"))
        stuck = [await lc.creds("stuck", ttl=1) for _ in range(5)]
        lc.behaviour.hang.update(str(s.data["username"]) for s in stuck)  # type: ignore[index]
        fine = []
        for _ in range(5):
            response = await lc.call("dyn2/creds/fine", {"ttl": 1})
            assert response is not None
            fine.append(str(response.data["username"]))  # type: ignore[index]
        started = time.monotonic()
        await lc.core.expiry.expire_due(time.time() + 2, wait=False)
        assert time.monotonic() - started < 20.0  # generous, yet below the 30 s revoke_timeout
        assert sorted(lc.behaviour.revoked) == sorted(fine)
        assert lc.behaviour.in_flight == 2  # the hanging mount holds only its share
        await asyncio.sleep(0.3)  # the three waiting for the stuck mount give up and step aside
        assert lc.core.expiry.in_flight == 2
        deferred = [await lc.core.expiration.lookup(s.lease_id) for s in stuck]
        assert all(entry.revoke_attempts == 0 for entry in deferred)
        await lc.core.close()  # sealing cancels the hanging revocations

    run(main)


def test_queued_token_revocation_survives_the_loop_claiming_mid_write() -> None:
    """sync=false on a token lease: the expiry loop may claim the moved due entry at once.

    Regression: the due entry used to move before the lease was rewritten, so a loop pass in
    between read the old lease (expiring in an hour), decided it was not due and put it back at
    its old expiry: the token outlived its queued revocation.
    """

    async def main() -> None:
        from hush.crypto import SecretBytes

        lc = await make_core()
        created = await lc.call("auth/token/create", {"ttl": "1h"}, Operation.UPDATE)
        assert created is not None and created.auth is not None
        token = SecretBytes(created.auth["client_token"].encode())
        store = lc.core.expiration.store
        due = store._due
        real_schedule = due.schedule
        passes: list[int] = []

        async def schedule_then_run_the_loop(key: str, due_at: float) -> None:
            await real_schedule(key, due_at)
            if due_at <= time.time():  # the loop wakes between the two writes
                passes.append(await lc.core.expiry.expire_due())

        due.schedule = schedule_then_run_the_loop  # type: ignore[method-assign]
        try:
            await lc.call(
                "sys/leases/revoke-prefix/auth/token/create", {"sync": False}, Operation.UPDATE
            )
        finally:
            due.schedule = real_schedule  # type: ignore[method-assign]
        await lc.core.expiry.expire_due()
        assert passes, "the queued revocation never moved the due entry"
        assert await lc.core.tokens.lookup(token) is None
        assert await store.list("auth/token/create/") == []
        await lc.core.close()

    run(main)
