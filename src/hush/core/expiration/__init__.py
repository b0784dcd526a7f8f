"""Leases: registration, renewal, revocation and expiry driven by the storage due-time index.

* :mod:`~hush.core.expiration.entry` — the lease entry and lease ids;
* :mod:`~hush.core.expiration.store` — storage layout and the due-time index;
* :mod:`~hush.core.expiration.limits` — TTL defaults and caps (pure);
* :mod:`~hush.core.expiration.manager` — register, renew, revoke, revoke by prefix or token;
* :mod:`~hush.core.expiration.worker` — the background expiry loop with retry and backoff;
* :mod:`~hush.core.expiration.maintenance` — irrevocable-lease report and tidy.
"""

from hush.core.expiration.entry import LeaseEntry, LeaseKind
from hush.core.expiration.manager import ExpirationManager, ExpirySettings, RevocationFailed
from hush.core.expiration.worker import ExpiryWorker

__all__ = [
    "ExpirationManager",
    "ExpirySettings",
    "ExpiryWorker",
    "LeaseEntry",
    "LeaseKind",
    "RevocationFailed",
]
