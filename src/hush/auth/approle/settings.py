"""Vault's per-setting sub-paths of a role (``role/:role_name/policies``, ``…/secret-id-ttl``,
``…/token-ttl`` …): each reads, sets or resets one setting, with the messages of Vault's
``path_role.go``. Declared as data (:class:`RoleSetting`) so one set of handlers serves them all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

from hush.auth.approle.model import Role, cidr_blocks
from hush.auth.token_fields import (
    TOKEN_FIELDS,
    normalize_addresses,
    sanitize_policies,
    token_fields,
)
from hush.core.errors import InvalidRequest
from hush.framework.fields import Field, FieldData, FieldType

__all__ = [
    "BIND_FIELD",
    "NUM_USES_FIELD",
    "ROLE_NAME",
    "ROLE_NAME_FIELD",
    "SECRET_CIDRS_FIELD",
    "SECRET_TTL_FIELD",
    "RoleSetting",
    "role_settings",
    "token_with",
]

# Vault's GenericNameRegex, ASCII only and without nested groups (OpenAPI rendering).
ROLE_NAME: Final = r"(?P<role_name>[A-Za-z0-9_][A-Za-z0-9_.@-]*)"
ROLE_NAME_FIELD: Final = Field(
    FieldType.STRING, "Name of the role. Must be less than 4096 bytes.", max_length=4096
)
BIND_FIELD = Field(
    FieldType.BOOL, "Impose secret_id to be presented when logging in.", default=True
)
SECRET_CIDRS_FIELD = Field(
    FieldType.COMMA_STRING_LIST,
    "Comma separated string or list of CIDR blocks. If set, specifies the blocks of IP "
    "addresses which can perform the login operation.",
)
NUM_USES_FIELD = Field(
    FieldType.INT, "Number of times a SecretID can access the role (0: unlimited)."
)
SECRET_TTL_FIELD = Field(
    FieldType.DURATION, "Duration after which the issued SecretID expires (0: never)."
)


@dataclass(frozen=True, slots=True)
class RoleSetting:
    """One of Vault's per-setting sub-paths: how to read, set and reset it on a role."""

    suffix: str
    synopsis: str
    fields: Mapping[str, Field]
    read: Callable[[Role], dict[str, Any]]
    update: Callable[[Role, FieldData], Role] | None = None
    reset: Callable[[Role], Role] | None = None


def token_with(role: Role, **changes: Any) -> Role:
    """``role`` with its token settings changed (and checked)."""
    token = replace(role.token, **changes)
    token.validate()
    return replace(role, token=token)


def _legacy(role: Role, alias: str, keep: bool) -> tuple[str, ...]:
    names = set(role.token.legacy) - {alias}
    return tuple(sorted(names | {alias} if keep else names))


def _set_policies(role: Role, fields: FieldData) -> Role:
    if fields.has("token_policies"):
        policies = sanitize_policies(fields.strings("token_policies"))
        return token_with(
            role, policies=policies, legacy=_legacy(role, "policies", fields.has("policies"))
        )
    if fields.has("policies"):
        policies = sanitize_policies(fields.strings("policies"))
        return token_with(role, policies=policies, legacy=_legacy(role, "policies", True))
    raise InvalidRequest("missing token_policies")


def _set_period(role: Role, fields: FieldData) -> Role:
    if fields.has("token_period"):
        period = fields.integer("token_period")
        return token_with(role, period=period, legacy=_legacy(role, "period", fields.has("period")))
    if fields.has("period"):
        return token_with(
            role, period=fields.integer("period"), legacy=_legacy(role, "period", True)
        )
    raise InvalidRequest("missing period")


def _required(fields: FieldData, name: str) -> None:
    if not fields.has(name):
        raise InvalidRequest(f"missing {name}")


def _set_secret_cidrs(role: Role, fields: FieldData) -> Role:
    blocks = fields.strings("secret_id_bound_cidrs")
    if not blocks:
        raise InvalidRequest("missing bound_cidr_list")
    return replace(
        role, secret_id_bound_cidrs=cidr_blocks(blocks, "failed to validate CIDR blocks")
    )


def _set_token_cidrs(role: Role, fields: FieldData) -> Role:
    _required(fields, "token_bound_cidrs")
    cidrs = normalize_addresses(fields.strings("token_bound_cidrs"), "token_bound_cidrs")
    return token_with(role, bound_cidrs=cidrs)


def _set_bind(role: Role, fields: FieldData) -> Role:
    _required(fields, "bind_secret_id")
    return replace(role, bind_secret_id=fields.boolean("bind_secret_id"))


def _set_num_uses(role: Role, fields: FieldData) -> Role:
    _required(fields, "secret_id_num_uses")
    if fields.integer("secret_id_num_uses") < 0:
        raise InvalidRequest("secret_id_num_uses cannot be negative")
    return replace(role, secret_id_num_uses=fields.integer("secret_id_num_uses"))


def _set_secret_ttl(role: Role, fields: FieldData) -> Role:
    _required(fields, "secret_id_ttl")
    return replace(role, secret_id_ttl=fields.integer("secret_id_ttl"))


def _set_token_num_uses(role: Role, fields: FieldData) -> Role:
    _required(fields, "token_num_uses")
    return token_with(role, num_uses=fields.integer("token_num_uses"))


def _set_token_ttl(role: Role, fields: FieldData) -> Role:
    _required(fields, "token_ttl")
    ttl = fields.integer("token_ttl")
    if role.token.max_ttl > 0 and ttl > role.token.max_ttl:
        raise InvalidRequest("token_ttl should not be greater than token_max_ttl")
    return token_with(role, ttl=ttl)


def _set_token_max_ttl(role: Role, fields: FieldData) -> Role:
    _required(fields, "token_max_ttl")
    max_ttl = fields.integer("token_max_ttl")
    if max_ttl > 0 and role.token.ttl > max_ttl:
        raise InvalidRequest("token_max_ttl should be greater than or equal to token_ttl")
    return token_with(role, max_ttl=max_ttl)


def _read_policies(role: Role) -> dict[str, Any]:
    data: dict[str, Any] = {"token_policies": list(role.token.policies)}
    if "policies" in role.token.legacy and role.token.policies:
        data["policies"] = list(role.token.policies)
    return data


def _read_period(role: Role) -> dict[str, Any]:
    data: dict[str, Any] = {"token_period": role.token.period}
    if "period" in role.token.legacy and role.token.period:
        data["period"] = role.token.period
    return data


def role_settings() -> list[RoleSetting]:
    """Every per-setting sub-path, in Vault's order."""
    legacy = token_fields("policies", "period")
    return [
        RoleSetting(
            "policies",
            "Policies of the role.",
            {"token_policies": TOKEN_FIELDS["token_policies"], "policies": legacy["policies"]},
            _read_policies,
            _set_policies,
            lambda r: token_with(r, policies=(), legacy=_legacy(r, "policies", False)),
        ),
        RoleSetting(
            "secret-id-bound-cidrs",
            "CIDR blocks from which logins with a secret ID are allowed.",
            {"secret_id_bound_cidrs": SECRET_CIDRS_FIELD},
            lambda r: {"secret_id_bound_cidrs": list(r.secret_id_bound_cidrs)},
            _set_secret_cidrs,
            lambda r: replace(r, secret_id_bound_cidrs=()),
        ),
        RoleSetting(
            "token-bound-cidrs",
            "CIDR blocks from which the issued tokens may be used.",
            {"token_bound_cidrs": TOKEN_FIELDS["token_bound_cidrs"]},
            lambda r: {"token_bound_cidrs": list(r.token.bound_cidrs)},
            _set_token_cidrs,
            lambda r: token_with(r, bound_cidrs=()),
        ),
        RoleSetting(
            "bind-secret-id",
            "Impose secret_id to be presented during login using this role.",
            {"bind_secret_id": BIND_FIELD},
            lambda r: {"bind_secret_id": r.bind_secret_id},
            _set_bind,
            lambda r: replace(r, bind_secret_id=True),
        ),
        RoleSetting(
            "local-secret-ids",
            "Whether the role's secret IDs are cluster local (set at creation only).",
            {},
            lambda r: {"local_secret_ids": r.local_secret_ids},
        ),
        RoleSetting(
            "secret-id-num-uses",
            "Use limit of the SecretID generated against the role.",
            {"secret_id_num_uses": NUM_USES_FIELD},
            lambda r: {"secret_id_num_uses": r.secret_id_num_uses},
            _set_num_uses,
            lambda r: replace(r, secret_id_num_uses=0),
        ),
        RoleSetting(
            "secret-id-ttl",
            "Duration in seconds of the SecretID generated against the role.",
            {"secret_id_ttl": SECRET_TTL_FIELD},
            lambda r: {"secret_id_ttl": r.secret_id_ttl},
            _set_secret_ttl,
            lambda r: replace(r, secret_id_ttl=0),
        ),
        RoleSetting(
            "period",
            "Updates the value of 'period' on the role.",
            {"token_period": TOKEN_FIELDS["token_period"], "period": legacy["period"]},
            _read_period,
            _set_period,
            lambda r: token_with(r, period=0, legacy=_legacy(r, "period", False)),
        ),
        RoleSetting(
            "token-num-uses",
            "Number of times issued tokens can be used.",
            {"token_num_uses": TOKEN_FIELDS["token_num_uses"]},
            lambda r: {"token_num_uses": r.token.num_uses},
            _set_token_num_uses,
            lambda r: token_with(r, num_uses=0),
        ),
        RoleSetting(
            "token-ttl",
            "Lifetime of the tokens issued with this role, before they need renewing.",
            {"token_ttl": TOKEN_FIELDS["token_ttl"]},
            lambda r: {"token_ttl": r.token.ttl},
            _set_token_ttl,
            lambda r: token_with(r, ttl=0),
        ),
        RoleSetting(
            "token-max-ttl",
            "Maximum lifetime of the tokens issued with this role.",
            {"token_max_ttl": TOKEN_FIELDS["token_max_ttl"]},
            lambda r: {"token_max_ttl": r.token.max_ttl},
            _set_token_max_ttl,
            lambda r: token_with(r, max_ttl=0),
        ),
    ]
