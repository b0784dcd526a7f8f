"""The OIDC browser flow: ``oidc/auth_url`` then ``oidc/callback`` (authorization code + PKCE).

``auth_url`` checks the role and redirect URI, draws a fresh ``state``, ``nonce`` and PKCE
``code_verifier`` (S256), stores them behind the barrier under the SHA-256 of the state for
:data:`REQUEST_TTL` seconds, and answers the provider's authorization URL. ``callback`` (GET with
query parameters, or POST for ``form_post``) takes the stored request out (single use: a replayed
state finds nothing), exchanges the code at the provider's token endpoint with the client
credentials and the verifier, validates the ID token (signature, issuer, audience = client ID,
and the nonce), and then authorises it like a JWT login.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
from collections.abc import Callable
from typing import Any, Final
from urllib.parse import urlencode, urlsplit

import httpx
import orjson

from hush.auth.jwt.config import JWTConfig
from hush.auth.jwt.keys import FETCH_TIMEOUT, KeyFetchError
from hush.auth.jwt.login import authorize, load_config
from hush.auth.jwt.provider import OIDCProvider, SourceCache
from hush.auth.jwt.roles import JWTRole
from hush.auth.jwt.validation import (
    DEFAULT_CLOCK_SKEW_LEEWAY,
    Expected,
    TokenInvalid,
    validate_token,
)
from hush.auth.named_roles import RoleStore
from hush.auth.tls import ssl_context
from hush.auth.token_fields import address_allowed
from hush.barrier.view import LogicalStorage
from hush.core.errors import InvalidRequest, PermissionDenied
from hush.core.request import Operation, Request, Response
from hush.crypto import constant_time_equal, random_token_string
from hush.framework.fields import Field, FieldData, FieldType
from hush.framework.path import OperationSpec, Path

__all__ = ["LOGIN_FAILED", "REQUEST_TTL", "OIDCPaths", "redirect_allowed"]

REQUEST_PREFIX: Final = "oidc_request/"
#: How long a started login may take to come back (Vault: 10 minutes).
REQUEST_TTL: Final = 600
LOGIN_FAILED: Final = "Login failed."
_LOOPBACK: Final = ("127.0.0.1", "::1", "localhost")


def _request_key(state: str) -> str:
    # The state is 190 random bits: a plain hash is enough to keep it out of storage keys.
    return REQUEST_PREFIX + hashlib.sha256(state.encode()).hexdigest()


def redirect_allowed(uri: str, allowed: tuple[str, ...]) -> bool:
    """Exact match, except that a loopback redirect may use any port (RFC 8252, 7.3)."""
    if uri in allowed:
        return True
    try:
        given = urlsplit(uri)
        for candidate in allowed:
            want = urlsplit(candidate)
            if (
                want.hostname in _LOOPBACK
                and given.hostname == want.hostname
                and (given.scheme, given.path, given.query) == (want.scheme, want.path, want.query)
            ):
                return True
    except ValueError:
        return False
    return False


def _check_auth_time(claims: dict[str, Any], max_age: int, now: float) -> None:
    """With ``max_age``, the user must have authenticated at the provider recently enough."""
    auth_time = claims.get("auth_time")
    if isinstance(auth_time, bool) or not isinstance(auth_time, int | float):
        raise InvalidRequest(
            f"{LOGIN_FAILED} Error validating ID token: auth_time claim is required when "
            "max_age is set"
        )
    if now - float(auth_time) > max_age + DEFAULT_CLOCK_SKEW_LEEWAY:
        raise InvalidRequest(
            f"{LOGIN_FAILED} Error validating ID token: auth_time is beyond the role's max_age"
        )


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class OIDCPaths:
    """``oidc/auth_url`` and ``oidc/callback``."""

    def __init__(
        self,
        storage: LogicalStorage,
        roles: RoleStore[JWTRole],
        sources: SourceCache,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.storage = storage
        self.roles = roles
        self.sources = sources
        self.clock = clock
        # Coroutines of this process take a state one at a time (read then delete); see
        # docs/architecture.md for what this does not cover across workers.
        self._take_lock = asyncio.Lock()

    def paths(self) -> list[Path]:
        """Declared endpoints."""
        callback_fields = {
            "state": Field(FieldType.STRING, "The state returned by the provider.", max_length=256),
            "code": Field(
                FieldType.STRING, "The authorization code.", sensitive=True, max_length=4096
            ),
            "id_token": Field(FieldType.STRING, "Not supported (implicit flow).", sensitive=True),
            "client_nonce": Field(
                FieldType.STRING, "The client nonce sent to auth_url, if any.", max_length=256
            ),
        }
        return [
            Path(
                "oidc/auth_url",
                "Request an authorization URL to start an OIDC login flow.",
                {Operation.UPDATE: OperationSpec(self._auth_url, "Start an OIDC login.")},
                {
                    "role": Field(FieldType.LOWER_STRING, "The role to issue an OIDC URL for."),
                    "redirect_uri": Field(
                        FieldType.STRING,
                        "The OAuth redirect_uri to use in the URL.",
                        max_length=2048,
                    ),
                    "client_nonce": callback_fields["client_nonce"],
                },
            ),
            Path(
                "oidc/callback",
                "Callback endpoint to complete an OIDC login.",
                {
                    Operation.READ: OperationSpec(self._callback, "Complete an OIDC login."),
                    Operation.UPDATE: OperationSpec(
                        self._callback, "Complete an OIDC login (form_post)."
                    ),
                },
                callback_fields,
            ),
        ]

    async def _oidc_config(self) -> JWTConfig:
        config = await load_config(self.storage)
        if config is None:
            raise InvalidRequest("could not load configuration")
        if not config.is_oidc:
            raise InvalidRequest("OIDC login is not configured for this mount")
        return config

    async def _provider(self, config: JWTConfig) -> OIDCProvider:
        try:
            _, provider = await self.sources.get(config)
        except KeyFetchError as exc:
            raise InvalidRequest(f"error getting provider for login operation: {exc}") from None
        if provider is None or not provider.authorization_endpoint or not provider.token_endpoint:
            raise InvalidRequest("the OIDC provider does not publish its endpoints")
        return provider

    async def _auth_url(self, request: Request, fields: FieldData) -> Response:
        config = await self._oidc_config()
        role_name = fields.string("role") or config.default_role
        if not role_name:
            raise InvalidRequest("missing role")
        redirect_uri = fields.string("redirect_uri")
        if not redirect_uri:
            raise InvalidRequest("missing redirect_uri")
        role = await self.roles.get(role_name)
        if role is None:
            raise InvalidRequest(f'role "{role_name}" could not be found')
        if role.role_type != "oidc":
            raise InvalidRequest("role with jwt role_type is not allowed for an OIDC login")
        if not redirect_allowed(redirect_uri, role.allowed_redirect_uris):
            # Vault answers an empty URL (and logs a warning) rather than an error.
            return Response(data={"auth_url": ""}, warnings=["unauthorized redirect_uri"])
        provider = await self._provider(config)
        state, nonce, verifier = (random_token_string(32) for _ in range(3))
        stored = {
            "role": role_name,
            "redirect_uri": redirect_uri,
            "nonce": nonce,
            "code_verifier": verifier,
            "client_nonce": fields.string("client_nonce"),
            "expires_at": self.clock() + REQUEST_TTL,
        }
        await self.storage.put(_request_key(state), orjson.dumps(stored))
        params = {
            "client_id": config.oidc_client_id,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": " ".join(["openid", *(s for s in role.oidc_scopes if s != "openid")]),
            "state": state,
            "nonce": nonce,
            "code_challenge": _challenge(verifier),
            "code_challenge_method": "S256",
        }
        if config.oidc_response_mode == "form_post":
            params["response_mode"] = "form_post"
        if role.max_age:
            params["max_age"] = str(role.max_age)
        separator = "&" if "?" in provider.authorization_endpoint else "?"
        return Response(
            data={"auth_url": provider.authorization_endpoint + separator + urlencode(params)}
        )

    async def _take_request(self, state: str) -> dict[str, Any] | None:
        if not state:
            return None
        key = _request_key(state)
        async with self._take_lock:
            blob = await self.storage.get(key)
            if blob is None:
                return None
            await self.storage.delete(key)  # single use, whatever happens next
        stored: dict[str, Any] = orjson.loads(blob)
        if float(stored.get("expires_at", 0)) < self.clock():
            return None
        return stored

    async def _callback(self, request: Request, fields: FieldData) -> Response:
        stored = await self._take_request(fields.string("state"))
        if stored is None:
            raise InvalidRequest(f"{LOGIN_FAILED} Expired or missing OAuth state.")
        expected_nonce = str(stored.get("client_nonce") or "")
        if expected_nonce and not constant_time_equal(
            expected_nonce, fields.string("client_nonce")
        ):
            raise InvalidRequest("invalid client_nonce")
        config = await self._oidc_config()
        role_name = str(stored["role"])
        role = await self.roles.get(role_name)
        if role is None:
            raise InvalidRequest(f"{LOGIN_FAILED} Role could not be found")
        if not address_allowed(request.remote_addr, role.token.bound_cidrs):
            raise PermissionDenied
        code = fields.string("code")
        if not code:
            if fields.string("id_token"):
                raise InvalidRequest("the implicit flow (id_token response type) is not supported")
            raise InvalidRequest(f"{LOGIN_FAILED} No code or id_token received.")
        provider = await self._provider(config)
        id_token = await self._exchange(config, provider, stored, code)
        claims = await self._verify(config, provider, role, id_token, str(stored["nonce"]))
        login = authorize(role, role_name, claims, check_unbound_audience=False)
        return Response(login=login)

    async def _exchange(
        self, config: JWTConfig, provider: OIDCProvider, stored: dict[str, Any], code: str
    ) -> str:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": str(stored["redirect_uri"]),
            "code_verifier": str(stored["code_verifier"]),
        }
        try:
            async with httpx.AsyncClient(
                verify=ssl_context(config.oidc_discovery_ca_pem), timeout=FETCH_TIMEOUT
            ) as client:
                answer = await client.post(
                    provider.token_endpoint,
                    data=form,
                    auth=(config.oidc_client_id, config.oidc_client_secret),
                    headers={"Accept": "application/json"},
                )
        except (httpx.HTTPError, ValueError) as exc:
            raise InvalidRequest(
                f"{LOGIN_FAILED} Error exchanging oidc code: {type(exc).__name__}."
            ) from None
        try:
            body = answer.json()
        except ValueError:
            body = {}
        if answer.status_code != 200 or not isinstance(body, dict):
            reason = body.get("error") if isinstance(body, dict) else None
            shown = reason if isinstance(reason, str) and reason.replace("_", "").isalpha() else ""
            raise InvalidRequest(
                f"{LOGIN_FAILED} Error exchanging oidc code: the token endpoint answered "
                f"HTTP {answer.status_code} {shown}".rstrip()
                + "."
            )
        id_token = body.get("id_token")
        if not isinstance(id_token, str) or not id_token:
            raise InvalidRequest(f"{LOGIN_FAILED} No id_token found in response.")
        return id_token

    async def _verify(
        self, config: JWTConfig, provider: OIDCProvider, role: JWTRole, id_token: str, nonce: str
    ) -> dict[str, Any]:
        source, _ = await self.sources.get(config)
        base = Expected(
            algorithms=config.algorithms(oidc_flow=True),
            issuer=provider.issuer,
            subject=role.bound_subject,
            audiences=(config.oidc_client_id,),
            clock_skew_leeway=role.clock_skew_leeway,
            expiration_leeway=role.expiration_leeway,
            not_before_leeway=role.not_before_leeway,
            nonce=nonce,
        )
        try:
            claims = await validate_token(id_token, source, base)
            if config.bound_issuer and claims.get("iss") != config.bound_issuer:
                raise TokenInvalid("invalid issuer (iss) claim")
            if role.bound_audiences:
                aud = claims.get("aud")
                given = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
                if not any(a in role.bound_audiences for a in given):
                    raise TokenInvalid(
                        "invalid audience (aud) claim: audience claim does not match any "
                        "expected audience"
                    )
        except TokenInvalid as exc:
            raise InvalidRequest(f"{LOGIN_FAILED} Error validating ID token: {exc}") from None
        if role.max_age:
            _check_auth_time(claims, role.max_age, self.clock())
        claims.pop("nonce", None)
        return claims

    async def tidy(self, now: float) -> None:
        """Delete started logins that were never completed and have expired."""
        for name in await self.storage.list(REQUEST_PREFIX):
            blob = await self.storage.get(REQUEST_PREFIX + name)
            if blob is None:
                continue
            try:
                expires = float(orjson.loads(blob).get("expires_at", 0))
            except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError):
                expires = 0.0
            if expires < now:
                await self.storage.delete(REQUEST_PREFIX + name)
