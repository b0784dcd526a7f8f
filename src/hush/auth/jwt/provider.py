"""The key source and OIDC provider of a mount, built from its configuration and kept warm.

OIDC discovery (``<oidc_discovery_url>/.well-known/openid-configuration``) gives the provider's
``issuer``, ``jwks_uri`` and endpoints; as OpenID Connect Discovery requires (and go-oidc checks
for Vault), the document's ``issuer`` must be the discovery URL itself. A mount rebuilds its
source only when its stored configuration changes (compared by content), so every login reuses
the cached JWKS and a configuration written through another worker takes effect on the next login.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from hush.auth.jwt.config import JWTConfig
from hush.auth.jwt.keys import (
    KeyFetchError,
    KeySource,
    RemoteKeySet,
    StaticKeySet,
    fetch_json,
    load_public_key_pem,
)

__all__ = ["OIDCProvider", "SourceCache", "discover"]


@dataclass(frozen=True, slots=True)
class OIDCProvider:
    """What discovery told us about an OpenID provider."""

    issuer: str
    jwks_uri: str
    authorization_endpoint: str
    token_endpoint: str
    ca_pem: str


def _endpoint(document: dict[str, Any], name: str, *, required: bool) -> str:
    value = document.get(name)
    if isinstance(value, str) and value.startswith(("https://", "http://")):
        return value
    if required:
        raise KeyFetchError(f"discovery document has no valid '{name}'")
    return ""


async def discover(url: str, ca_pem: str) -> OIDCProvider:
    """Fetch and check the discovery document of ``url``; raises :class:`KeyFetchError`."""
    base = url.rstrip("/")
    document = await fetch_json(base + "/.well-known/openid-configuration", ca_pem)
    issuer = document.get("issuer")
    if not isinstance(issuer, str) or issuer.rstrip("/") != base:
        raise KeyFetchError(
            f'issuer did not match the issuer returned by provider, expected "{base}" '
            f'got "{issuer if isinstance(issuer, str) else ""}"'
        )
    return OIDCProvider(
        issuer=issuer,
        jwks_uri=_endpoint(document, "jwks_uri", required=True),
        authorization_endpoint=_endpoint(document, "authorization_endpoint", required=False),
        token_endpoint=_endpoint(document, "token_endpoint", required=False),
        ca_pem=ca_pem,
    )


async def build_source(config: JWTConfig) -> tuple[KeySource, OIDCProvider | None]:
    """The key source (and provider, with discovery) a configuration describes."""
    if config.jwt_validation_pubkeys:
        keys = [load_public_key_pem(pem) for pem in config.jwt_validation_pubkeys]
        return StaticKeySet(keys), None
    if config.jwks_url:
        return RemoteKeySet(config.jwks_url, config.jwks_ca_pem), None
    provider = await discover(config.oidc_discovery_url, config.oidc_discovery_ca_pem)
    return RemoteKeySet(provider.jwks_uri, provider.ca_pem), provider


class SourceCache:
    """One mount's current key source, rebuilt when the configuration it came from changes."""

    def __init__(self) -> None:
        self._built_from: JWTConfig | None = None
        self._source: tuple[KeySource, OIDCProvider | None] | None = None
        self._lock = asyncio.Lock()

    async def get(self, config: JWTConfig) -> tuple[KeySource, OIDCProvider | None]:
        """The source for ``config``; raises :class:`KeyFetchError` if discovery fails."""
        async with self._lock:
            if self._source is None or self._built_from != config:
                self._source = await build_source(config)
                self._built_from = config
            return self._source

    async def check(self, config: JWTConfig) -> None:
        """Fetch what ``config`` points at once (for a config write); raises KeyFetchError."""
        source, _ = await build_source(config)
        if isinstance(source, RemoteKeySet):
            await source.refresh()
        async with self._lock:
            self._source, self._built_from = None, None
