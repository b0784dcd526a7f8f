"""The expiration manager: registers, renews and revokes leases (Vault's ``ExpirationManager``).

Nothing is held in memory: every lease lives in the :class:`LeaseStore`, and expiry is driven by
the storage due-time index (see :mod:`hush.core.expiration.worker`). Secret leases are revoked
through the backend that issued them (found by mount UUID, so a remount does not orphan them);
token leases stand for a service token and revoke its whole tree (cubbyhole and leases with it).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hush.barrier.view import StorageView
from hush.core.errors import HushError, InvalidRequest
from hush.core.expiration.entry import LeaseEntry, LeaseKind, new_lease_id, token_lease_id
from hush.core.expiration.limits import (
    SYSTEM_DEFAULT_TTL,
    SYSTEM_MAX_TTL,
    LeaseLimits,
    initial_ttl,
    renewal,
)
from hush.core.expiration.store import LeaseStore, valid_lease_id
from hush.core.request import Request, Response
from hush.framework.backend import Backend
from hush.storage.base import InvalidKeyError

if TYPE_CHECKING:
    from hush.core.core import Core
    from hush.core.mounts import MountEntry
    from hush.core.tokens import TokenEntry

__all__ = ["ExpirationManager", "ExpirySettings", "RevocationFailed"]

log = logging.getLogger("hush.core.expiration")
_MAX_ERROR_LENGTH = 240  # Vault's maxIrrevocableErrorLength


@dataclass(frozen=True, slots=True)
class ExpirySettings:
    """Tuning of the expiry loop; the defaults are Vault's (6 attempts, 10 s doubling backoff).

    ``irrevocable_retry`` (0: never) is how often an irrevocable lease is tried again.
    """

    interval: float = 1.0
    batch_size: int = 500
    concurrency: int = 256
    per_mount_concurrency: int = 32
    mount_wait: float = 5.0
    batch_pause: float = 0.5
    revoke_timeout: float = 30.0
    retry_base: float = 10.0
    retry_jitter: float = 0.5
    max_attempts: int = 6
    irrevocable_retry: float = 3600.0
    system_default_ttl: int = SYSTEM_DEFAULT_TTL
    system_max_ttl: int = SYSTEM_MAX_TTL

    @property
    def hold(self) -> float:
        """How long a claimed due entry stays hidden from other claimers."""
        return 2 * self.revoke_timeout


class RevocationFailed(InvalidRequest):
    """A backend could not revoke a lease (400 with the reason, as Vault reports it)."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def describe_failure(exc: BaseException) -> str:
    """A failure's description safe for storage, logs and clients: typed messages only."""
    if isinstance(exc, HushError):
        text = exc.message
    elif isinstance(exc, TimeoutError):
        text = "revocation timed out"
    else:
        # Driver exceptions may quote connection details: keep only their type.
        text = f"backend error ({type(exc).__name__})"
    return text[:_MAX_ERROR_LENGTH] or "unknown"


class ExpirationManager:
    """Leases of one node's core; every method works from storage, nothing is cached."""

    def __init__(self, core: Core, settings: ExpirySettings | None = None) -> None:
        self._core = core
        self.settings = settings or ExpirySettings()
        self.store = LeaseStore(StorageView(core.barrier, "sys/expire/"), core.barrier)
        # Set by the expiry loop: called when a lease became due now (sync=false revocation).
        self.wake: Callable[[], None] = lambda: None

    def use_system_ttls(self, default_ttl: int, max_ttl: int) -> None:
        """Apply the server configuration's ``default_lease_ttl`` and ``max_lease_ttl``."""
        self.settings = dataclasses.replace(
            self.settings, system_default_ttl=default_ttl, system_max_ttl=max_ttl
        )

    # -- registration ------------------------------------------------------------------------

    def _mount_for(self, mount_point: str) -> MountEntry | None:
        if mount_point.startswith("auth/"):
            return self._core.auth_mounts.entries.get(mount_point[len("auth/") :])
        return self._core.mounts.entries.get(mount_point)

    def limits(self, config: Mapping[str, Any]) -> LeaseLimits:
        """The lease TTL limits of a mount with tune ``config``."""
        return LeaseLimits.for_mount(
            config, self.settings.system_default_ttl, self.settings.system_max_ttl
        )

    async def register_secret(self, request: Request, response: Response) -> None:
        """Create the lease a backend asked for in ``response.secret`` and fill the response."""
        secret = response.secret
        assert secret is not None
        mount = self._mount_for(request.mount_point)
        if mount is None:
            raise InvalidRequest(f'mount "{request.mount_point}" cannot issue leases')
        ttl = initial_ttl(secret.ttl, secret.max_ttl, self.limits(mount.config))
        caller = request.token_entry
        if caller is None:
            owner = ""
        elif caller.type == "batch":
            # A batch token has no storage entry: its leases follow its parent (Vault's rule).
            owner = caller.parent_hash
        else:
            owner = caller.token_hash
        now = time.time()
        entry = LeaseEntry(
            lease_id=new_lease_id(request.path),
            kind=LeaseKind.SECRET,
            path=request.path,
            issue_time=now,
            expire_time=now + ttl,
            token_hash=owner,
            mount_uuid=mount.uuid,
            mount_accessor=mount.accessor,
            secret_type=secret.secret_type,
            internal_data=dict(secret.internal_data),
            max_ttl=secret.max_ttl,
            renewable=secret.renewable,
        )
        if not valid_lease_id(entry.lease_id):
            raise InvalidRequest("a secret at this path cannot be leased: invalid path")
        try:
            await self.store.create(entry)
        except InvalidKeyError:
            raise InvalidRequest("a secret at this path cannot be leased: path too long") from None
        response.lease_id = entry.lease_id
        response.lease_duration = ttl
        response.renewable = secret.renewable

    async def register_token(self, token: TokenEntry) -> None:
        """Give a new service token its lease (expiring with the token); batch tokens get none."""
        if token.type != "service" or not token.token_hash:
            return
        entry = LeaseEntry(
            lease_id=token_lease_id(token.path, token.token_hash),
            kind=LeaseKind.TOKEN,
            path=token.path,
            issue_time=token.creation_time,
            expire_time=token.expire_time,
            token_hash=token.token_hash,
            renewable=token.renewable,
        )
        await self.store.create(entry)

    async def token_renewed(self, token: TokenEntry) -> None:
        """Move a token's lease to its new expiry after a renewal."""
        entry = await self.store.load(token_lease_id(token.path, token.token_hash))
        if entry is None:
            await self.register_token(token)
            return
        entry.expire_time = token.expire_time
        entry.last_renewal = time.time()
        await self.store.save(entry, token.expire_time or 0)

    # -- lookup and renewal ------------------------------------------------------------------

    async def lookup(self, lease_id: str) -> LeaseEntry:
        """The lease ``lease_id`` or Vault's 400 ``invalid lease``."""
        entry = await self.store.load(lease_id)
        if entry is None:
            raise InvalidRequest("invalid lease")
        return entry

    def _backend(self, entry: LeaseEntry) -> tuple[Backend, MountEntry] | None:
        for table in (self._core.mounts, self._core.auth_mounts):
            for path, mount in table.entries.items():
                if mount.uuid == entry.mount_uuid and path in table.backends:
                    return table.backends[path], mount
        return None

    async def renew(self, lease_id: str, increment: int) -> Response:
        """Extend a secret lease through its backend, capped by the lease's and mount's max TTL."""
        entry = await self.store.load(lease_id)
        now = time.time()
        if entry is None:
            raise InvalidRequest("lease not found")
        if entry.irrevocable:
            raise InvalidRequest("lease is expired and has failed previous revocation attempts")
        if not entry.expire_time:
            raise InvalidRequest("lease is not renewable")
        if entry.expire_time < now:
            raise InvalidRequest("lease expired")
        if not entry.renewable:
            raise InvalidRequest("lease is not renewable")
        if entry.kind is LeaseKind.TOKEN:
            raise InvalidRequest("tokens cannot be renewed through this endpoint")
        found = self._backend(entry)
        if found is None:
            raise InvalidRequest("the mount that issued this lease no longer exists")
        backend, mount = found
        granted = await backend.renew_secret(entry.secret_type, entry.internal_data, increment)
        outcome = renewal(
            now=now,
            issue_time=entry.issue_time,
            increment=increment,
            backend_ttl=granted.ttl,
            lease_max_ttl=granted.max_ttl or entry.max_ttl,
            limits=self.limits(mount.config),
        )
        entry.expire_time = now + outcome.ttl
        entry.last_renewal = now
        entry.renewable = granted.renewable
        entry.max_ttl = granted.max_ttl or entry.max_ttl
        if granted.internal_data:
            entry.internal_data = dict(granted.internal_data)
        await self.store.save(entry, entry.expire_time)
        return Response(
            lease_id=entry.lease_id,
            lease_duration=outcome.ttl,
            renewable=entry.renewable,
            warnings=list(outcome.warnings),
        )

    # -- revocation --------------------------------------------------------------------------

    async def revoke(self, lease_id: str, *, sync: bool = True, force: bool = False) -> None:
        """Revoke one lease now (``sync``) or hand it to the expiry loop; unknown ids are fine."""
        entry = await self.store.load(lease_id)
        if entry is None:
            return
        if sync:
            await self.revoke_entry(entry, force=force)
        else:
            await self.expire_soon(entry)

    async def expire_soon(self, entry: LeaseEntry) -> None:
        """Mark a lease expired and let the expiry loop revoke it (Vault's ``LazyRevoke``)."""
        now = time.time()
        entry.expire_time = min(entry.expire_time or now, now)
        await self.store.save(entry, now)
        self.wake()

    async def revoke_entry(self, entry: LeaseEntry, *, force: bool = False) -> None:
        """Revoke through the backend (or the token store) and delete the lease.

        Raises :class:`RevocationFailed` when the backend fails, unless ``force``: then the
        lease is deleted anyway (``revoke-force``), as Vault does.
        """
        await self.revoke_without_deleting(entry, force=force)
        await self.store.delete(entry)

    async def revoke_without_deleting(self, entry: LeaseEntry, *, force: bool = False) -> None:
        """:meth:`revoke_entry` minus the deletion (the expiry loop deletes a batch at once)."""
        if entry.kind is LeaseKind.TOKEN:
            token = await self._core.tokens.lookup_hash(entry.token_hash)
            if token is not None:
                await self._core.tokens.revoke_tree(token)
            return
        try:
            await self._revoke_secret(entry)
        except Exception as exc:
            if not force:
                reason = describe_failure(exc)
                raise RevocationFailed(
                    f'failed to revoke lease "{entry.lease_id}": {reason}', reason
                ) from None
            log.warning(
                "lease %s force-revoked although its backend failed: %s",
                entry.lease_id,
                describe_failure(exc),
            )

    async def _revoke_secret(self, entry: LeaseEntry) -> None:
        found = self._backend(entry)
        if found is None:
            raise InvalidRequest("the mount that issued this lease no longer exists")
        backend = found[0]
        await asyncio.wait_for(
            backend.revoke_secret(entry.secret_type, entry.internal_data),
            self.settings.revoke_timeout,
        )

    async def revoke_prefix(self, prefix: str, *, sync: bool = True, force: bool = False) -> None:
        """Revoke every lease under ``prefix`` (or the one lease named exactly ``prefix``)."""
        prefix = prefix.strip("/")
        if not prefix:
            # "revoke-prefix//" must not mean "everything" (Vault's finds nothing there either).
            raise InvalidRequest("a lease id prefix is required")
        if not prefix.endswith("/"):
            exact = await self.store.load(prefix)
            if exact is not None:
                await self.revoke(prefix, sync=sync, force=force)
                return
        folder = prefix + "/"
        ids = [lease_id async for lease_id in self.store.walk(folder)]
        for position, lease_id in enumerate(ids, start=1):
            entry = await self.store.load(lease_id)
            if entry is None:
                continue
            if not sync:
                await self.expire_soon(entry)
                continue
            try:
                await self.revoke_entry(entry, force=force)
            except RevocationFailed as exc:
                raise RevocationFailed(
                    f'failed to revoke "{lease_id}" ({position} / {len(ids)}): {exc.reason}',
                    exc.reason,
                ) from None

    async def tokens_revoked(self, token_hashes: list[str]) -> None:
        """Token-store hook: drop the tokens' own leases, expire the secrets they were issued.

        Secret leases are marked expired and revoked by the expiry loop (Vault's
        ``RevokeByToken``), so a slow backend never holds up revoking a token.
        """
        for token_hash in token_hashes:
            for lease_id in await self.store.for_token(token_hash):
                entry = await self.store.load(lease_id)
                if entry is None:
                    await self.store.drop_token_index(token_hash, lease_id)
                elif entry.kind is LeaseKind.TOKEN:
                    await self.store.delete(entry)
                elif not entry.irrevocable:
                    await self.expire_soon(entry)
