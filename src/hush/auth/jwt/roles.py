"""Roles of a jwt/oidc mount: ``role/`` (list) and ``role/:name`` (CRUD), as in Vault.

A role says which tokens may log in (``bound_*``), how the caller is named (``user_claim``) and
grouped (``groups_claim``), which claims become token metadata (``claim_mappings``), the clock
leeways, the OIDC redirect URIs and scopes, and the ``token_*`` settings of what it earns.
Updates change only the fields sent, like Vault's ``pathRoleCreateUpdate``; storage and the
endpoints themselves are :mod:`hush.auth.named_roles`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Final

import orjson

from hush.auth.jwt.claims import RESERVED_METADATA, ClaimError, validate_bound_claims_config
from hush.auth.token_fields import TokenSettings, token_fields
from hush.core.errors import InvalidRequest
from hush.core.ttl import parse_ttl
from hush.framework.fields import Field, FieldData, FieldType

__all__ = ["ROLE_FIELDS", "JWTRole", "apply_role_fields", "write_role"]


ROLE_FIELDS: Final[Mapping[str, Field]] = {
    "name": Field(FieldType.LOWER_STRING, "Name of the role."),
    "role_type": Field(FieldType.STRING, "Type of the role, either 'jwt' or 'oidc' (default)."),
    "bound_audiences": Field(
        FieldType.COMMA_STRING_LIST, "Comma-separated list of 'aud' claims that are valid."
    ),
    "bound_subject": Field(FieldType.STRING, "The 'sub' claim that is valid for login."),
    "bound_claims_type": Field(
        FieldType.STRING,
        "How to interpret values in bound_claims: 'string' (default) or 'glob'.",
        default="string",
        allowed=("string", "glob"),
    ),
    "bound_claims": Field(
        FieldType.MAP,
        "Map of claims/values which must match for login; a list value matches any of its items.",
    ),
    "claim_mappings": Field(FieldType.KV_PAIRS, "Mappings of claims (key) to metadata (value)."),
    "user_claim": Field(
        FieldType.STRING, "The claim to use for the identity alias name (and display name)."
    ),
    "user_claim_json_pointer": Field(
        FieldType.BOOL, "If true, user_claim is a JSON pointer into nested claims."
    ),
    "groups_claim": Field(FieldType.STRING, "The claim to use for the identity group alias names."),
    "clock_skew_leeway": Field(
        FieldType.RAW, "Leeway for all time claims, in seconds or a duration (0: 60s, -1: none)."
    ),
    "expiration_leeway": Field(
        FieldType.RAW, "Leeway on the 'exp' claim, in seconds or a duration (0: 150s, -1: none)."
    ),
    "not_before_leeway": Field(
        FieldType.RAW, "Leeway on the 'nbf' claim, in seconds or a duration (0: 150s, -1: none)."
    ),
    "allowed_redirect_uris": Field(
        FieldType.COMMA_STRING_LIST, "Comma-separated list of allowed OIDC redirect URIs."
    ),
    "oidc_scopes": Field(
        FieldType.COMMA_STRING_LIST, "Comma-separated list of OIDC scopes besides 'openid'."
    ),
    "verbose_oidc_logging": Field(
        FieldType.BOOL, "Accepted for compatibility; Hush never logs tokens or claims."
    ),
    "max_age": Field(
        FieldType.DURATION, "Allowed elapsed time since the user last authenticated (OIDC)."
    ),
    **token_fields("policies", "ttl", "max_ttl", "period", "bound_cidrs"),
    "num_uses": Field(FieldType.INT, 'Use "token_num_uses" instead.'),
}

_LEEWAYS: Final = ("clock_skew_leeway", "expiration_leeway", "not_before_leeway")


@dataclass(frozen=True, slots=True)
class JWTRole:
    """One stored role."""

    name: str
    role_type: str = "oidc"
    bound_audiences: tuple[str, ...] = ()
    bound_subject: str = ""
    bound_claims_type: str = "string"
    bound_claims: dict[str, Any] = field(default_factory=dict)
    claim_mappings: dict[str, str] = field(default_factory=dict)
    user_claim: str = ""
    user_claim_json_pointer: bool = False
    groups_claim: str = ""
    clock_skew_leeway: int = 0
    expiration_leeway: int = 0
    not_before_leeway: int = 0
    allowed_redirect_uris: tuple[str, ...] = ()
    oidc_scopes: tuple[str, ...] = ()
    verbose_oidc_logging: bool = False
    max_age: int = 0
    token: TokenSettings = field(default_factory=TokenSettings)

    def to_bytes(self) -> bytes:
        """The storage form."""
        raw = asdict(self)
        raw["token"] = self.token.to_dict()
        return orjson.dumps(raw)

    @classmethod
    def from_bytes(cls, blob: bytes) -> JWTRole:
        """The inverse of :meth:`to_bytes`."""
        raw: dict[str, Any] = orjson.loads(blob)
        known = {k: v for k, v in raw.items() if k in cls.__dataclass_fields__}
        for name in ("bound_audiences", "allowed_redirect_uris", "oidc_scopes"):
            known[name] = tuple(known.get(name) or ())
        known["token"] = TokenSettings.from_dict(raw.get("token") or {})
        return cls(**known)

    def render(self) -> dict[str, Any]:
        """A read of the role, in Vault's shape."""
        data = {k: v for k, v in asdict(self).items() if k not in ("name", "token")}
        for name in ("bound_audiences", "allowed_redirect_uris", "oidc_scopes"):
            data[name] = list(data[name])
        data.update(self.token.render())
        return data


def _leeway(name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise InvalidRequest(f'error converting input for field "{name}": expected a duration')
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        return parse_ttl(text)
    except ValueError as exc:
        raise InvalidRequest(f'error converting input for field "{name}": {exc}') from None


def apply_role_fields(current: JWTRole, fields: FieldData) -> JWTRole:
    """``current`` with the fields the client sent; raises :class:`InvalidRequest`."""
    changes: dict[str, Any] = {}
    for name in ("role_type", "bound_subject", "bound_claims_type", "user_claim", "groups_claim"):
        if fields.has(name):
            changes[name] = fields.string(name)
    for name in ("bound_audiences", "allowed_redirect_uris", "oidc_scopes"):
        if fields.has(name):
            changes[name] = tuple(v for v in fields.strings(name) if v)
    for name in ("user_claim_json_pointer", "verbose_oidc_logging"):
        if fields.has(name):
            changes[name] = fields.boolean(name)
    if fields.has("max_age"):
        changes["max_age"] = fields.integer("max_age")
    if fields.has("bound_claims"):
        changes["bound_claims"] = fields.mapping("bound_claims")
    if fields.has("claim_mappings"):
        changes["claim_mappings"] = dict(fields.mapping("claim_mappings"))
    for name in _LEEWAYS:
        if fields.has(name):
            changes[name] = _leeway(name, fields.raw(name))
    token = TokenSettings.parse(fields, current.token)
    if fields.has("num_uses") and not fields.has("token_num_uses"):
        token = replace(token, num_uses=fields.integer("num_uses"))
    role = replace(current, **changes, token=token)
    _check(role)
    return role


def _check(role: JWTRole) -> None:
    if role.role_type not in ("jwt", "oidc"):
        raise InvalidRequest(f"invalid 'role_type': {role.role_type}")
    try:
        validate_bound_claims_config(role.bound_claims, role.bound_claims_type == "glob")
    except ClaimError as exc:
        raise InvalidRequest(str(exc)) from None
    targets: set[str] = set()
    for key in role.claim_mappings.values():
        if key in RESERVED_METADATA:
            raise InvalidRequest(
                f'metadata key "{key}" is reserved and may not be a mapping destination'
            )
        if key in targets:
            raise InvalidRequest(f'multiple keys are mapped to metadata key "{key}"')
        targets.add(key)
    if not role.user_claim:
        raise InvalidRequest("a user claim must be defined on the role")
    if role.role_type == "jwt" and not (
        role.bound_audiences or role.token.bound_cidrs or role.bound_subject or role.bound_claims
    ):
        raise InvalidRequest(
            "must have at least one bound constraint when creating/updating a role"
        )
    if role.role_type == "oidc" and not role.allowed_redirect_uris:
        raise InvalidRequest(
            "'allowed_redirect_uris' must be set if 'role_type' is 'oidc' or unspecified."
        )


async def write_role(
    current: JWTRole | None, name: str, fields: FieldData
) -> tuple[JWTRole, list[str]]:
    """The role a write produces (see :class:`hush.auth.named_roles.RolePaths`)."""
    return apply_role_fields(current or JWTRole(name=name), fields), []
