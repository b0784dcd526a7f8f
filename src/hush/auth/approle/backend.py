"""The AppRole auth method: machines log in with a role ID and a secret ID (Vault's ``approle``).

Endpoints are declared in three modules by responsibility (roles, secret IDs, login) over one
:class:`~hush.auth.approle.store.AppRoleStore`; this class wires them and tidies expired secret
IDs from the scheduler.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from hush.auth.approle.login import LoginPath
from hush.auth.approle.role_paths import RolePaths
from hush.auth.approle.secret_id_paths import SecretIdPaths
from hush.auth.approle.store import AppRoleStore
from hush.core.token_roles import MAX_TOKEN_TTL
from hush.core.ttl import parse_ttl
from hush.framework.backend import Backend, BackendContext
from hush.framework.path import Path

__all__ = ["TIDY_INTERVAL", "AppRoleBackend"]

# Like Vault's AppRole, expired secret IDs are swept about once a minute, however often the
# scheduler ticks: a sweep reads every secret ID entry.
TIDY_INTERVAL = 60.0


class AppRoleBackend(Backend):
    """Roles whose logins need a role ID and, by default, a single- or limited-use secret ID."""

    type_name = "approle"
    synopsis = "Authenticate machines and applications with a role ID and a secret ID."
    unauthenticated = ("login",)

    def __init__(self, context: BackendContext) -> None:
        self.store = AppRoleStore(context.storage)
        self.clock: Callable[[], float] = time.time
        self._last_tidy = float("-inf")
        super().__init__(context)

    def now(self) -> float:
        """The current time from :attr:`clock` (which tests may replace)."""
        return self.clock()

    def max_lease_ttl(self) -> int:
        """The mount's maximum lease TTL (the system's when the mount sets none)."""
        raw = self.context.config.get("max_lease_ttl")
        try:
            seconds = parse_ttl(raw) if isinstance(raw, str | int) else 0
        except ValueError:
            seconds = 0
        return seconds or MAX_TOKEN_TTL

    def paths(self) -> Sequence[Path]:
        """Every AppRole endpoint, in routing order (no two patterns match the same path)."""
        return [
            *RolePaths(self.store, self.max_lease_ttl).paths(),
            *SecretIdPaths(self.store, self.max_lease_ttl, self.now).paths(),
            *LoginPath(self.store, self.now).paths(),
        ]

    async def initialize(self) -> None:
        """Load (or create) the salt of the mount's indexes."""
        await self.store.load_salt()

    async def periodic(self, now: float) -> None:
        """Scheduler hook: delete expired secret IDs and dangling accessors, in batches."""
        if now - self._last_tidy < TIDY_INTERVAL:
            return
        self._last_tidy = now
        await self.store.tidy(now)
