"""The expiry loop: claims due leases from the storage due-time index in batches and revokes them.

One asyncio task per node, started on unseal and cancelled on seal; unseal itself reads no lease.
Each pass claims at most ``batch_size`` due entries (claiming pushes them ``hold`` seconds into the
future, so a node that dies mid-pass lets them come due again), revokes them concurrently with a
per-lease timeout and a per-mount share of the concurrency (so one hanging backend cannot hold
up other mounts), deletes each batch of revoked leases in one transaction, and claims again
until nothing is due. A failed revocation is rescheduled with
exponential backoff and jitter (Vault: 10 s doubling, six attempts); after ``max_attempts`` the
lease is marked irrevocable — listed by ``sys/leases?type=irrevocable``, counted in the
``hush_lease_revocations`` metric, logged without secrets. Unlike Vault, which leaves it for
``revoke-force``, Hush keeps retrying it every ``irrevocable_retry`` seconds (an hour), so a
database that comes back after a long outage still gets its users dropped.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import TYPE_CHECKING

from hush.core.errors import Sealed
from hush.core.expiration.entry import LeaseEntry, LeaseKind
from hush.core.expiration.manager import ExpirationManager, RevocationFailed, describe_failure
from hush.core.loop_task import LoopTask

if TYPE_CHECKING:
    from hush.core.metrics import Metrics
    from hush.core.tokens import TokenStore

__all__ = ["ExpiryWorker"]


def _nothing() -> None:
    """The manager's wake-up call while no loop is waiting."""


log = logging.getLogger("hush.core.expiration")


class ExpiryWorker:
    """Runs :meth:`expire_due` every ``interval`` seconds, or at once when woken."""

    def __init__(self, manager: ExpirationManager, tokens: TokenStore, metrics: Metrics) -> None:
        self._manager = manager
        self._tokens = tokens
        self._metrics = metrics
        self._task = LoopTask(self._loop)
        # Revocations under way (they outlive a pass) and how many of them each mount holds.
        self._in_flight: set[asyncio.Task[None]] = set()
        self._mount_slots: dict[str, asyncio.Semaphore] = {}
        self._revoked: list[LeaseEntry] = []

    @property
    def in_flight(self) -> int:
        """Revocations started and not finished (waiting for a mount slot included)."""
        return len(self._in_flight)

    async def expire_due(self, now: float | None = None, *, wait: bool = True) -> int:
        """Start revoking everything due at ``now``, batch by batch; returns how many were claimed.

        At most ``concurrency`` revocations are under way at once, at most
        ``per_mount_concurrency`` of them running against one mount; a lease that waits longer
        than ``mount_wait`` for its mount is put back for later, so a mount whose backend hangs
        cannot fill the node's slots while every other mount's leases keep expiring. With
        ``wait`` the call returns once every revocation it started has finished (tests, revoke
        paths); the background loop does not wait, so a slow backend never delays the next pass.
        """
        settings = self._manager.settings
        handled = 0
        while True:
            room = settings.concurrency - len(self._in_flight)
            if room <= 0:
                await asyncio.wait(self._in_flight, return_when=asyncio.FIRST_COMPLETED)
                await self._flush()
                continue
            moment = time.time() if now is None else now
            due = await self._manager.store.claim_due(
                moment, min(settings.batch_size, room), settings.hold
            )
            for lease_id in due:
                task = asyncio.get_running_loop().create_task(self._guarded(lease_id, moment))
                self._in_flight.add(task)
                task.add_done_callback(self._in_flight.discard)
            handled += len(due)
            if self._in_flight:
                # Let the quick ones finish so a batch is deleted together.
                await asyncio.wait(set(self._in_flight), timeout=settings.batch_pause)
            await self._flush()
            if not due:
                break
        if wait:
            while self._in_flight:
                await asyncio.wait(set(self._in_flight))
            await self._flush()
        return handled

    async def _flush(self) -> None:
        """Delete the leases revoked so far: one transaction and one index write per batch."""
        revoked, self._revoked = self._revoked, []
        for start in range(0, len(revoked), self._manager.settings.batch_size):
            await self._manager.store.delete_many(
                revoked[start : start + self._manager.settings.batch_size]
            )

    async def _guarded(self, lease_id: str, moment: float) -> None:
        try:
            entry = await self._expire_one(lease_id, moment)
        except Sealed:
            return
        except Exception:
            # The claim's hold brings it back; one bad lease never stops the others.
            log.exception("expiring lease %s failed; it will come due again", lease_id)
            return
        if entry is not None:
            self._revoked.append(entry)

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
        settings = self._manager.settings
        slots = self._mount_slots.get(entry.mount_uuid)
        if slots is None:
            slots = self._mount_slots[entry.mount_uuid] = asyncio.Semaphore(
                settings.per_mount_concurrency
            )
        try:
            async with asyncio.timeout(settings.mount_wait):
                await slots.acquire()
        except TimeoutError:
            # This mount's backend is saturated (hanging?): free the slot for other mounts and
            # try this lease later; that is not a failed attempt.
            await store.save(entry, now + settings.revoke_timeout)
            return None
        try:
            await self._manager.revoke_without_deleting(entry)
        except Exception as exc:
            await self._failed(entry, exc, now)
            return None
        finally:
            slots.release()
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
        loop = asyncio.get_running_loop()
        while True:
            try:
                await self.expire_due(wait=False)
            except Sealed:
                return
            except Exception:
                log.exception("lease expiry pass failed; retrying")
            # A plain future, woken by the timer or by the manager: cancelling it is clean.
            waiter: asyncio.Future[None] = loop.create_future()

            def wake(waiter: asyncio.Future[None] = waiter) -> None:
                if not waiter.done():
                    waiter.set_result(None)

            timer = loop.call_later(self._manager.settings.interval, wake)
            self._manager.wake = wake
            try:
                await waiter
            finally:
                timer.cancel()
                self._manager.wake = _nothing

    def start(self) -> None:
        """Begin expiring (on unseal); the first pass only claims what is already due."""
        self._task.start()

    async def stop(self) -> None:
        """Stop expiring (on seal) and wait for the current pass to cancel."""
        await self._task.stop()
        # Revocations cut short come due again after the claim's hold.
        for pending in list(self._in_flight):
            pending.cancel()
        if self._in_flight:
            await asyncio.wait(set(self._in_flight))
        self._revoked.clear()
