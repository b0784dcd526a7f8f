"""The mount's ``config``: where keys come from, which issuer and algorithms count, OIDC client.

As in Vault, a write replaces the whole configuration and is checked before it is stored:
exactly one key source (``oidc_discovery_url``, ``jwks_url`` or ``jwt_validation_pubkeys``);
the discovery document or JWKS is fetched once so a typo fails the write, not the first login;
PEM keys must parse; algorithms must be asymmetric. ``oidc_client_secret`` is stored behind the
barrier and never returned by a read (nor by ``repr``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Final

import orjson

from hush.auth.jwt.keys import SUPPORTED_ALGORITHMS, load_public_key_pem
from hush.auth.tls import ssl_context
from hush.core.errors import InvalidRequest, Unsupported
from hush.framework.fields import Field, FieldData, FieldType

__all__ = ["CONFIG_FIELDS", "JWTConfig", "parse_config"]

RESPONSE_MODES: Final = ("", "query", "form_post")

CONFIG_FIELDS: Final[Mapping[str, Field]] = {
    "oidc_discovery_url": Field(
        FieldType.STRING,
        "OIDC Discovery URL, without any .well-known component (base path). Cannot be used "
        "with jwks_url or jwt_validation_pubkeys.",
    ),
    "oidc_discovery_ca_pem": Field(
        FieldType.STRING,
        "The CA certificate or chain of certificates, in PEM format, to use "
        "to validate connections to the OIDC Discovery URL. If not set, system certificates "
        "are used.",
    ),
    "oidc_client_id": Field(
        FieldType.STRING, "The OAuth Client ID configured with your OIDC provider."
    ),
    "oidc_client_secret": Field(
        FieldType.STRING,
        "The OAuth Client Secret configured with your OIDC provider (never returned).",
        sensitive=True,
        max_length=4096,
    ),
    "oidc_response_mode": Field(
        FieldType.STRING,
        "The response mode to be used in the OAuth2 request: 'query' (default) or 'form_post'.",
    ),
    "oidc_response_types": Field(
        FieldType.COMMA_STRING_LIST,
        "The response types to request. Only 'code' is supported.",
    ),
    "jwks_url": Field(
        FieldType.STRING,
        "JWKS URL to use to authenticate signatures. Cannot be used with oidc_discovery_url "
        "or jwt_validation_pubkeys.",
    ),
    "jwks_ca_pem": Field(
        FieldType.STRING,
        "The CA certificate or chain of certificates, in PEM format, to use to validate "
        "connections to the JWKS URL. If not set, system certificates are used.",
    ),
    "jwks_pairs": Field(FieldType.RAW, "Not supported by Hush yet (JWKS URL and CA pairs)."),
    "jwt_validation_pubkeys": Field(
        FieldType.COMMA_STRING_LIST,
        "A list of PEM-encoded public keys to use to authenticate signatures locally. Cannot "
        "be used with jwks_url or oidc_discovery_url.",
    ),
    "jwt_supported_algs": Field(
        FieldType.COMMA_STRING_LIST,
        "A list of supported signing algorithms. Defaults to RS256 for OIDC roles and every "
        "supported asymmetric algorithm for JWT roles.",
    ),
    "bound_issuer": Field(
        FieldType.STRING, "The value against which to match the 'iss' claim in a JWT."
    ),
    "default_role": Field(
        FieldType.LOWER_STRING, "The default role to use if none is provided during login."
    ),
    "provider_config": Field(
        FieldType.MAP, "Not supported by Hush yet (provider-specific handling)."
    ),
    "namespace_in_state": Field(
        FieldType.BOOL, "Accepted for compatibility; Hush has no namespaces.", default=True
    ),
}


@dataclass(frozen=True, slots=True)
class JWTConfig:
    """The validated configuration of one jwt/oidc mount."""

    oidc_discovery_url: str = ""
    oidc_discovery_ca_pem: str = ""
    oidc_client_id: str = ""
    oidc_client_secret: str = field(default="", repr=False)
    oidc_response_mode: str = ""
    oidc_response_types: tuple[str, ...] = ()
    jwks_url: str = ""
    jwks_ca_pem: str = ""
    jwt_validation_pubkeys: tuple[str, ...] = ()
    jwt_supported_algs: tuple[str, ...] = ()
    bound_issuer: str = ""
    default_role: str = ""
    namespace_in_state: bool = True

    def to_bytes(self) -> bytes:
        """The storage form (stored behind the barrier)."""
        return orjson.dumps(asdict(self))

    @classmethod
    def from_bytes(cls, blob: bytes) -> JWTConfig:
        """The inverse of :meth:`to_bytes` (unknown keys ignored)."""
        raw: dict[str, Any] = orjson.loads(blob)
        known = {k: v for k, v in raw.items() if k in cls.__dataclass_fields__}
        for name in ("oidc_response_types", "jwt_validation_pubkeys", "jwt_supported_algs"):
            known[name] = tuple(known.get(name) or ())
        return cls(**known)

    def render(self) -> dict[str, Any]:
        """A read of the configuration: everything but the client secret."""
        return {
            "oidc_discovery_url": self.oidc_discovery_url,
            "oidc_discovery_ca_pem": self.oidc_discovery_ca_pem,
            "oidc_client_id": self.oidc_client_id,
            "oidc_response_mode": self.oidc_response_mode,
            "oidc_response_types": list(self.oidc_response_types),
            "jwks_url": self.jwks_url,
            "jwks_ca_pem": self.jwks_ca_pem,
            "jwks_pairs": [],
            "jwt_validation_pubkeys": list(self.jwt_validation_pubkeys),
            "jwt_supported_algs": list(self.jwt_supported_algs),
            "bound_issuer": self.bound_issuer,
            "default_role": self.default_role,
            "provider_config": {},
            "namespace_in_state": self.namespace_in_state,
        }

    @property
    def is_oidc(self) -> bool:
        """Whether the browser flow can run (discovery plus client credentials)."""
        return bool(self.oidc_discovery_url and self.oidc_client_id)

    def algorithms(self, oidc_flow: bool) -> tuple[str, ...]:
        """The accepted ``alg`` values: configured, else RS256 (OIDC) or every supported one."""
        if self.jwt_supported_algs:
            return self.jwt_supported_algs
        return ("RS256",) if oidc_flow else SUPPORTED_ALGORITHMS


def parse_config(fields: FieldData) -> JWTConfig:
    """Build and statically check a configuration from a write (no network here)."""
    if fields.raw("jwks_pairs"):
        raise Unsupported("'jwks_pairs' is not supported by Hush yet; use 'jwks_url'")
    if fields.mapping("provider_config"):
        raise Unsupported("'provider_config' is not supported by Hush yet")
    config = JWTConfig(
        oidc_discovery_url=fields.string("oidc_discovery_url").strip(),
        oidc_discovery_ca_pem=fields.string("oidc_discovery_ca_pem"),
        oidc_client_id=fields.string("oidc_client_id"),
        oidc_client_secret=fields.string("oidc_client_secret"),
        oidc_response_mode=fields.string("oidc_response_mode"),
        oidc_response_types=tuple(t for t in fields.strings("oidc_response_types") if t),
        jwks_url=fields.string("jwks_url").strip(),
        jwks_ca_pem=fields.string("jwks_ca_pem"),
        jwt_validation_pubkeys=tuple(
            k for k in fields.strings("jwt_validation_pubkeys") if k.strip()
        ),
        jwt_supported_algs=tuple(a for a in fields.strings("jwt_supported_algs") if a),
        bound_issuer=fields.string("bound_issuer"),
        default_role=fields.string("default_role"),
        namespace_in_state=fields.boolean("namespace_in_state"),
    )
    _check(config)
    return config


def _check(config: JWTConfig) -> None:
    sources = sum(
        bool(x) for x in (config.oidc_discovery_url, config.jwks_url, config.jwt_validation_pubkeys)
    )
    if sources != 1:
        raise InvalidRequest(
            "exactly one of 'jwt_validation_pubkeys', 'jwks_url' or 'oidc_discovery_url' "
            "must be set"
        )
    if bool(config.oidc_client_id) != bool(config.oidc_client_secret):
        raise InvalidRequest("both 'oidc_client_id' and 'oidc_client_secret' must be set for OIDC")
    if config.oidc_client_id and not config.oidc_discovery_url:
        raise InvalidRequest("'oidc_discovery_url' must be set for OIDC")
    for url in (config.oidc_discovery_url, config.jwks_url):
        if url and not url.startswith(("https://", "http://")):
            raise InvalidRequest(f"invalid URL {url!r}: only http and https are supported")
    for pem in (config.oidc_discovery_ca_pem, config.jwks_ca_pem):
        try:
            ssl_context(pem)
        except ValueError as exc:
            raise InvalidRequest(f"error checking CA PEM: {exc}") from None
    for pem in config.jwt_validation_pubkeys:
        try:
            load_public_key_pem(pem)
        except (ValueError, TypeError):
            raise InvalidRequest(
                "error parsing public key: not a PEM public key or certificate"
            ) from None
    for alg in config.jwt_supported_algs:
        if alg not in SUPPORTED_ALGORITHMS:
            raise InvalidRequest(f"invalid jwt_supported_algs: {alg}")
    if config.oidc_response_mode not in RESPONSE_MODES:
        raise InvalidRequest(
            f"invalid response_mode: {config.oidc_response_mode!r}; must be 'query' or 'form_post'"
        )
    if any(t != "code" for t in config.oidc_response_types):
        raise Unsupported("only the 'code' response type is supported by Hush")
