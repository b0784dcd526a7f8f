"""The expiry loop: claims due leases from the storage due-time index in batches and revokes them.

One asyncio task per node, started on unseal and cancelled on seal; unseal itself reads no lease.
Each pass claims at most ``batch_size`` due entries (claiming pushes them ``hold`` seconds into the
future, so a node that dies mid-pass lets them come due again), revokes them concurrently with a
per-lease timeout, and claims again until nothing is due. A failed revocation is rescheduled with
exponential backoff and jitter (Vault: 10 s doubling, six attempts); after ``max_attempts`` the
lease is marked irrevocable — listed by ``sys/leases?type=irrevocable``, counted in the
``hush_lease_revocations`` metric, logged without secrets. Unlike Vault, which leaves it for
``revoke-force``, Hush keeps retrying it every ``irrevocable_retry`` seconds (an hour), so a
database that comes back after a long outage still gets its users dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from typing import TYPE_CHECKING

from hush.core.errors import Sealed
from hush.core.expiration.entry import LeaseEntry, LeaseKind
from hush.core.expiration.manager import ExpirationManager, RevocationFailed, describe_failure

if TYPE_CHECKING:
    from hush.core.metrics import Metrics
    from hush.core.tokens import TokenStore

__all__ = ["ExpiryWorker"]

log = logging.getLogger("hush.core.expiration")


class ExpiryWorker:
    """Runs :meth:`expire_due` every ``interval`` seconds, or at once when woken."""

    def __init__(self, manager: ExpirationManager, tokens: TokenStore, metrics: Metrics) -> None:
        self._manager = manager
        self._tokens = tokens
        self._metrics = metrics
        self._task: asyncio.Task[None] | None = None

    async def expire_due(self, now: float | None = None) -> int:
        """Revoke everything due at ``now``, batch by batch; returns how many were handled."""
        settings = self._manager.settings
        limiter = asyncio.Semaphore(settings.concurrency)
        handled = 0
        while True:
            moment = time.time() if now is None else now
            due = await self._manager.store.claim_due(moment, settings.batch_size, settings.hold)
            if not due:
                return handled

            async def one(lease_id: str, moment: float = moment) -> LeaseEntry | None:
                async with limiter:
                    try:
                        return await self._expire_one(lease_id, moment)
                    except Sealed:
                        raise
                    except Exception:
                        # The claim's hold brings it back; one bad lease never stops the batch.
                        log.exception("expiring lease %s failed; it will come due again", lease_id)
                        return None

            revoked = await asyncio.gather(*(one(lease_id) for lease_id in due))
            # One transaction and one index write per batch, not two writes per lease.
            await self._manager.store.delete_many([entry for entry in revoked if entry])
            handled += len(due)
            if len(due) < settings.batch_size:
                return handled

    async def _expire_one(self, lease_id: str, now: float) -> LeaseEntry | None:
        """Handle one due lease; returns it when it was revoked and is to be deleted."""
        store = self._manager.store
        entry = await store.load(lease_id)
        if entry is None:
            await store.unschedule(lease_id)
            return None
        if entry.kind is LeaseKind.TOKEN:
            await self._expire_token(entry, now)
            return None
        if entry.expire_time > now:  # renewed since it was scheduled
            await store.save(entry, entry.expire_time)
            return None
        try:
            await self._manager.revoke_without_deleting(entry)
        except Exception as exc:
            await self._failed(entry, exc, now)
            return None
        self._metrics.lease_revocations.labels("secret", "revoked").inc()
        return entry

    async def _expire_token(self, entry: LeaseEntry, now: float) -> None:
        token = await self._tokens.lookup_hash(entry.token_hash)  # revokes the tree if expired
        # The lease expiring before its token means a queued revocation (sync=false, a prefix).
        lease_due = bool(entry.expire_time) and entry.expire_time <= now
        if token is not None and (token.expired(now) or lease_due):
            await self._tokens.revoke_tree(token)
            token = None
        if token is None:
            await self._manager.store.delete(entry)
            self._metrics.lease_revocations.labels("token", "revoked").inc()
            return
        entry.expire_time = token.expire_time
        await self._manager.store.save(entry, token.expire_time or 0)

    async def _failed(self, entry: LeaseEntry, exc: Exception, now: float) -> None:
        settings = self._manager.settings
        reason = exc.reason if isinstance(exc, RevocationFailed) else describe_failure(exc)
        entry.revoke_attempts += 1
        entry.revocation_error = reason
        # Beyond Vault: irrevocable leases are still retried, slowly, until one attempt works.
        slow_retry = now + settings.irrevocable_retry if settings.irrevocable_retry else 0
        if entry.irrevocable:
            await self._manager.store.save(entry, slow_retry)
            self._metrics.lease_revocations.labels("secret", "failed").inc()
            log.warning("irrevocable lease %s still cannot be revoked (%s)", entry.lease_id, reason)
            return
        if entry.revoke_attempts >= settings.max_attempts:
            entry.irrevocable = True
            await self._manager.store.save(entry, slow_retry)
            self._metrics.lease_revocations.labels("secret", "irrevocable").inc()
            log.error(
                "lease %s is irrevocable after %d failed revocation attempts (last: %s); "
                "revoke it with sys/leases/revoke-force once the cause is fixed",
                entry.lease_id,
                entry.revoke_attempts,
                reason,
            )
            return
        delay = self.backoff(entry.revoke_attempts)
        await self._manager.store.save(entry, now + delay)
        self._metrics.lease_revocations.labels("secret", "failed").inc()
        log.warning(
            "revoking lease %s failed (attempt %d of %d: %s); retrying in %.1fs",
            entry.lease_id,
            entry.revoke_attempts,
            settings.max_attempts,
            reason,
            delay,
        )

    def backoff(self, attempts: int) -> float:
        """Seconds before retry number ``attempts`` + 1: doubling from the base, with jitter."""
        settings = self._manager.settings
        delay = settings.retry_base * (2 ** (attempts - 1))
        spread = delay * settings.retry_jitter
        jitter = random.uniform(-spread, spread) if spread else 0.0  # noqa: S311
        return float(delay + jitter)

    # -- task --------------------------------------------------------------------------------

    async def _loop(self) -> None:
        wake = self._manager.wake
        while True:
            try:
                await self.expire_due()
            except Sealed:
                return
            except Exception:
                log.exception("lease expiry pass failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), self._manager.settings.interval)
            wake.clear()

    def start(self) -> None:
        """Begin expiring (on unseal); the first pass only claims what is already due."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        """Stop expiring (on seal) and wait for the current pass to cancel."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
