"""``login``: a signed JWT and a role earn a token (Vault's ``path_login.go``).

The same authorisation step (:func:`authorize`) serves the OIDC callback: once a token's
signature and registered claims are checked, the role's user claim names the caller, its
``groups_claim`` lists their external groups, ``claim_mappings`` become metadata, and every
``bound_claims`` entry must match. Every refusal is a 400 whose text says which check failed
("error validating token: invalid audience (aud) claim ..."), never what the token contained.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Final

from hush.auth.jwt.claims import (
    ClaimError,
    check_bound_claims,
    group_names,
    mapped_metadata,
    user_name,
)
from hush.auth.jwt.config import JWTConfig
from hush.auth.jwt.keys import KeyFetchError
from hush.auth.jwt.provider import SourceCache
from hush.auth.jwt.roles import JWTRole
from hush.auth.jwt.validation import Expected, TokenInvalid, validate_token
from hush.auth.named_roles import RoleStore
from hush.auth.token_fields import address_allowed
from hush.barrier.view import LogicalStorage
from hush.core.errors import InvalidRequest, PermissionDenied
from hush.core.request import LoginResult, Operation, Request, Response
from hush.framework.fields import Field, FieldData, FieldType
from hush.framework.path import OperationSpec, Path

__all__ = ["CONFIG_KEY", "JWT_FIELD", "LoginPath", "authorize", "load_config"]

CONFIG_KEY: Final = "config"
JWT_FIELD: Final = Field(
    FieldType.STRING, "The signed JWT to validate.", sensitive=True, max_length=16 * 1024
)


async def load_config(storage: LogicalStorage) -> JWTConfig | None:
    """The mount's stored configuration, if any."""
    blob = await storage.get(CONFIG_KEY)
    return JWTConfig.from_bytes(blob) if blob is not None else None


def authorize(
    role: JWTRole, role_name: str, claims: dict[str, object], *, check_unbound_audience: bool
) -> LoginResult:
    """The token a role grants for verified ``claims``; raises :class:`InvalidRequest`."""
    aud = claims.get("aud")
    if check_unbound_audience and aud and not role.bound_audiences:
        raise InvalidRequest("audience claim found in JWT but no audiences bound to the role")
    try:
        alias = user_name(claims, role.user_claim, json_pointer=role.user_claim_json_pointer)
        metadata = mapped_metadata(claims, role.claim_mappings)
        groups = group_names(claims, role.groups_claim)
    except ClaimError as exc:
        raise InvalidRequest(str(exc)) from None
    try:
        check_bound_claims(role.bound_claims, claims, role.bound_claims_type == "glob")
    except ClaimError as exc:
        raise InvalidRequest(f"error validating claims: {exc}") from None
    metadata["role"] = role_name
    login = role.token.to_login(alias, alias, metadata)
    return replace(login, group_aliases=groups)


class LoginPath:
    """The unauthenticated ``login`` endpoint of a jwt mount."""

    def __init__(
        self, storage: LogicalStorage, roles: RoleStore[JWTRole], sources: SourceCache
    ) -> None:
        self.storage = storage
        self.roles = roles
        self.sources = sources

    def paths(self) -> list[Path]:
        """Declared endpoints."""
        return [
            Path(
                "login",
                "Authenticates to Hush using a JWT (or OIDC) token.",
                {Operation.UPDATE: OperationSpec(self._login, "Log in with a JWT.")},
                {
                    "role": Field(FieldType.LOWER_STRING, "The role to log in against."),
                    "jwt": JWT_FIELD,
                },
            )
        ]

    async def _login(self, request: Request, fields: FieldData) -> Response:
        config = await load_config(self.storage)
        if config is None:
            raise InvalidRequest("could not load configuration")
        role_name = fields.string("role") or config.default_role
        if not role_name:
            raise InvalidRequest("missing role")
        role = await self.roles.get(role_name)
        if role is None:
            raise InvalidRequest(f'role "{role_name}" could not be found')
        if role.role_type == "oidc":
            raise InvalidRequest("role with oidc role_type is not allowed")
        token = fields.string("jwt")
        if not token:
            raise InvalidRequest("missing token")
        if not address_allowed(request.remote_addr, role.token.bound_cidrs):
            raise PermissionDenied
        try:
            source, _ = await self.sources.get(config)
        except KeyFetchError as exc:
            raise InvalidRequest(f"error configuring token validator: {exc}") from None
        expected = Expected(
            algorithms=config.algorithms(oidc_flow=False),
            issuer=config.bound_issuer,
            subject=role.bound_subject,
            audiences=role.bound_audiences,
            clock_skew_leeway=role.clock_skew_leeway,
            expiration_leeway=role.expiration_leeway,
            not_before_leeway=role.not_before_leeway,
        )
        try:
            claims = await validate_token(token, source, expected)
        except TokenInvalid as exc:
            raise InvalidRequest(f"error validating token: {exc}") from None
        login = authorize(role, role_name, claims, check_unbound_audience=True)
        return Response(login=login)
