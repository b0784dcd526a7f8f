"""The database secrets engine (mount type ``database``): Vault's API for PostgreSQL and MySQL.

Endpoints are declared by responsibility in :mod:`.config_paths` (connections, root rotation),
:mod:`.role_paths` (dynamic roles and credentials) and :mod:`.static_paths` (static roles and
their scheduled rotation). This class owns what they share: the store, one plugin (connection
pool) per connection name, password generation, and the lease hooks the expiration manager
calls to renew or revoke a dynamic credential.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Sequence
from typing import Any

from hush.core.errors import InvalidRequest, NotFound
from hush.core.password_policies import DEFAULT_PASSWORD_POLICY
from hush.core.request import SecretLease
from hush.engines.database.plugins import (
    ConnectionSettings,
    DatabaseError,
    DatabasePlugin,
    make_plugin,
)
from hush.engines.database.store import ConnectionConfig, DatabaseStore
from hush.framework.backend import Backend, BackendContext
from hush.framework.path import Path

__all__ = ["CREDS_SECRET_TYPE", "DEFAULT_LEASE_TTL", "DatabaseBackend"]

CREDS_SECRET_TYPE = "creds"
#: Vault's system default lease TTL and max (32 days) when neither role nor mount set one.
DEFAULT_LEASE_TTL = 768 * 3600


class DatabaseBackend(Backend):
    """Dynamic and static database credentials for PostgreSQL and MySQL/MariaDB."""

    type_name = "database"
    synopsis = "Dynamic and static credentials for PostgreSQL and MySQL/MariaDB databases."

    def __init__(self, context: BackendContext) -> None:
        self.store = DatabaseStore(context.storage)
        self._plugins: dict[str, DatabasePlugin] = {}
        self._plugin_lock = asyncio.Lock()
        super().__init__(context)

    def paths(self) -> Sequence[Path]:
        """Every database endpoint, in routing order."""
        from hush.engines.database.config_paths import config_paths
        from hush.engines.database.role_paths import role_paths
        from hush.engines.database.static_paths import StaticRoles

        self.static_roles = StaticRoles(self)
        return [*config_paths(self), *role_paths(self), *self.static_roles.paths()]

    # -- connections -------------------------------------------------------------------------

    async def plugin(self, config: ConnectionConfig) -> DatabasePlugin:
        """The live plugin (pool) for ``config``, created on first use."""
        if config.pending_password and config.name not in self._plugins:
            config = await self.recover_root_password(config)
        async with self._plugin_lock:
            plugin = self._plugins.get(config.name)
            if plugin is None:
                plugin = make_plugin(config.plugin_name, settings_of(config))
                self._plugins[config.name] = plugin
            return plugin

    async def recover_root_password(self, config: ConnectionConfig) -> ConnectionConfig:
        """Finish a rotate-root that stopped between the database and storage.

        With a pending password stored, the database has either the old password or the new
        one; whichever connects is kept, and the pending record is cleared.
        """
        if not config.pending_password:
            return config
        candidate = dataclasses.replace(config, password=config.pending_password)
        probe = make_plugin(config.plugin_name, settings_of(candidate))
        try:
            await probe.verify()
        except DatabaseError:
            settled = dataclasses.replace(config, pending_password="")
        else:
            settled = dataclasses.replace(candidate, pending_password="")
        finally:
            await probe.close()
        await self.store.put_config(settled)
        return settled

    async def close_plugin(self, name: str) -> None:
        """Close and forget the pool of connection ``name`` (reset, reload, rotate, delete)."""
        async with self._plugin_lock:
            plugin = self._plugins.pop(name, None)
        if plugin is not None:
            await plugin.close()

    async def cleanup(self) -> None:
        """Close every pool when the mount is sealed or disabled."""
        for name in list(self._plugins):
            await self.close_plugin(name)

    async def require_config(self, name: str) -> ConnectionConfig:
        """The connection config ``name`` or a 400 naming it."""
        config = await self.store.config(name)
        if config is None:
            raise InvalidRequest(f'failed to find database connection "{name}"')
        return config

    async def generate_password(self, config: ConnectionConfig) -> str:
        """A new password from the config's ``password_policy`` or Vault's default policy."""
        if not config.password_policy:
            return DEFAULT_PASSWORD_POLICY.generate()
        system = self.context.system
        if system is None:
            raise InvalidRequest("password policies are not available to this mount")
        try:
            return await system.generate_password(config.password_policy)
        except NotFound:
            raise InvalidRequest(
                f'unable to generate password: password policy "{config.password_policy}" '
                "does not exist"
            ) from None

    def mount_ttls(self) -> tuple[int, int]:
        """The mount's default and max lease TTL, as the expiration manager caps leases.

        Without a core (unit tests) Vault's 768h stands in for the system values.
        """
        config = self.context.config
        if self.context.system is not None:
            return self.context.system.lease_ttls(config)
        default = int(config.get("default_lease_ttl") or 0) or DEFAULT_LEASE_TTL
        maximum = int(config.get("max_lease_ttl") or 0) or DEFAULT_LEASE_TTL
        return min(default, maximum), maximum

    # -- lease hooks -------------------------------------------------------------------------

    async def renew_secret(
        self, secret_type: str, internal_data: dict[str, Any], increment: int
    ) -> SecretLease:
        """Push the user's expiry out (the role's renew statements) and grant the increment."""
        if secret_type != CREDS_SECRET_TYPE:
            return await super().renew_secret(secret_type, internal_data, increment)
        config = await self.require_config(str(internal_data["db_name"]))
        role = await self.store.role(str(internal_data.get("role", "")))
        default_ttl, max_ttl = self.mount_ttls()
        if role is not None:
            default_ttl = role.default_ttl or default_ttl
            max_ttl = min(role.max_ttl or max_ttl, max_ttl)
        now = time.time()
        ttl = min(increment or default_ttl, max_ttl)
        issued_at = float(internal_data.get("issued_at") or 0)
        if issued_at:
            # Vault's CalculateTTL: the user never outlives issue time + max_ttl, so the
            # database expiry set below matches the lease the expiration manager grants.
            remaining = int(issued_at + max_ttl - now)
            if remaining <= 0:
                raise InvalidRequest("past the max TTL, cannot renew")
            ttl = min(ttl, remaining)
        renew = role.renew_statements if role is not None else ()
        plugin = await self.plugin(config)
        await plugin.renew_user(renew, str(internal_data["username"]), now + ttl)
        return SecretLease(
            CREDS_SECRET_TYPE, ttl=ttl, max_ttl=max_ttl, internal_data=dict(internal_data)
        )

    async def revoke_secret(self, secret_type: str, internal_data: dict[str, Any]) -> None:
        """Drop the user with the statements recorded when it was created (idempotent)."""
        if secret_type != CREDS_SECRET_TYPE:
            return
        config = await self.require_config(str(internal_data["db_name"]))
        # The role may have changed or gone since: Vault uses the current role's statements
        # when it still exists, the ones recorded at creation otherwise.
        role = await self.store.role(str(internal_data.get("role", "")))
        statements = (
            role.revocation_statements
            if role is not None
            else tuple(internal_data.get("revocation_statements") or ())
        )
        plugin = await self.plugin(config)
        await plugin.delete_user(statements, str(internal_data["username"]))

    # -- static role rotation ----------------------------------------------------------------

    async def periodic(self, now: float) -> None:
        """Scheduler hook: rotate the static roles whose time has come (due-time index)."""
        await self.static_roles.rotate_due(now)


def settings_of(config: ConnectionConfig) -> ConnectionSettings:
    """The plugin's view of a connection config."""
    return ConnectionSettings(
        connection_url=config.connection_url,
        username=config.username,
        password=config.password,
        max_open_connections=config.max_open_connections,
        max_connection_lifetime=config.max_connection_lifetime,
    )
