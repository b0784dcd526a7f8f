"""The jwt/oidc auth method (Vault's ``vault-plugin-auth-jwt``, mounted as ``jwt`` or ``oidc``).

Endpoints by module: ``config`` here, ``role/`` in :mod:`.roles`, ``login`` in :mod:`.login`,
``oidc/auth_url`` and ``oidc/callback`` in :mod:`.oidc`. Keys come from :mod:`.provider`
(cached per configuration), signatures and registered claims are checked by :mod:`.validation`,
role claims by :mod:`.claims`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from hush.auth.jwt.config import CONFIG_FIELDS, parse_config
from hush.auth.jwt.keys import KeyFetchError
from hush.auth.jwt.login import CONFIG_KEY, LoginPath, load_config
from hush.auth.jwt.oidc import OIDCPaths
from hush.auth.jwt.provider import SourceCache
from hush.auth.jwt.roles import ROLE_FIELDS, JWTRole, write_role
from hush.auth.named_roles import RolePaths, RoleStore
from hush.core.errors import InvalidRequest
from hush.core.request import Operation, Request, Response
from hush.framework.backend import Backend, BackendContext
from hush.framework.fields import FieldData
from hush.framework.path import OperationSpec, Path

__all__ = ["JWTBackend"]

#: Abandoned OIDC logins are swept about once a minute.
TIDY_INTERVAL: Final = 60.0


class JWTBackend(Backend):
    """Log in with a JWT signed by a trusted issuer, or through an OIDC provider."""

    type_name = "jwt"
    synopsis = "Authenticate with JWTs (CI pipelines, workloads) or an OIDC provider (people)."
    unauthenticated = ("login", "oidc/auth_url", "oidc/callback")

    def __init__(self, context: BackendContext) -> None:
        self.roles = RoleStore(context.storage, JWTRole)
        self.sources = SourceCache()
        self.oidc = OIDCPaths(context.storage, self.roles, self.sources)
        self._last_tidy = float("-inf")
        super().__init__(context)

    def paths(self) -> Sequence[Path]:
        """Every endpoint, in routing order."""
        return [
            Path(
                "config",
                "Configure the JWT authentication backend.",
                {
                    Operation.READ: OperationSpec(self._read_config, "Read the configuration."),
                    Operation.UPDATE: OperationSpec(self._write_config, "Configure."),
                },
                CONFIG_FIELDS,
                description="The client secret is stored encrypted and never returned.",
            ),
            *RolePaths(self.roles, ROLE_FIELDS, write_role).paths(),
            *LoginPath(self.storage, self.roles, self.sources).paths(),
            *self.oidc.paths(),
        ]

    async def _read_config(self, request: Request, fields: FieldData) -> Response | None:
        config = await load_config(self.storage)
        return Response(data=config.render()) if config is not None else None

    async def _write_config(self, request: Request, fields: FieldData) -> None:
        config = parse_config(fields)
        try:
            await self.sources.check(config)
        except KeyFetchError as exc:
            what = "oidc discovery URL" if config.oidc_discovery_url else "jwks URL"
            raise InvalidRequest(f"error checking {what}: {exc}") from None
        await self.storage.put(CONFIG_KEY, config.to_bytes())

    async def periodic(self, now: float) -> None:
        """Scheduler hook: drop OIDC logins that were started but never completed."""
        if now - self._last_tidy < TIDY_INTERVAL:
            return
        self._last_tidy = now
        await self.oidc.tidy(now)
