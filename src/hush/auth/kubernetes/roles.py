"""Roles of a kubernetes mount: which service accounts in which namespaces may log in.

``bound_service_account_names`` and ``bound_service_account_namespaces`` accept ``*`` alone
(anything) or globs (``ci-*``), as Vault's plugin does; ``audience`` is sent to the TokenReview
API and must come back among the token's audiences; ``alias_name_source`` picks the identity
alias name (the service account's UID, the default, or ``<namespace>/<name>``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final

import orjson

from hush.auth.globs import glob_match
from hush.auth.token_fields import TokenSettings, token_fields
from hush.core.errors import InvalidRequest
from hush.framework.fields import Field, FieldData, FieldType

__all__ = ["ALIAS_SOURCES", "ROLE_FIELDS", "KubernetesRole", "bound", "write_role"]

ALIAS_SOURCES: Final = ("serviceaccount_uid", "serviceaccount_name")

ROLE_FIELDS: Final[Mapping[str, Field]] = {
    "name": Field(FieldType.LOWER_STRING, "Name of the role."),
    "bound_service_account_names": Field(
        FieldType.COMMA_STRING_LIST,
        'List of service account names able to access this role. If set to "*" all names '
        'are allowed; globs like "ci-*" are accepted.',
    ),
    "bound_service_account_namespaces": Field(
        FieldType.COMMA_STRING_LIST,
        'List of namespaces allowed to access this role. If set to "*" all namespaces are '
        "allowed; globs are accepted.",
    ),
    "bound_service_account_namespace_selector": Field(
        FieldType.STRING, "Not supported by Hush yet (label selector for namespaces)."
    ),
    "audience": Field(FieldType.STRING, "Audience claim to verify in the JWT."),
    "alias_name_source": Field(
        FieldType.STRING,
        "Source to use when deriving the identity alias name: serviceaccount_uid (default) "
        "or serviceaccount_name.",
    ),
    **token_fields("policies", "ttl", "max_ttl", "period", "bound_cidrs"),
    "num_uses": Field(FieldType.INT, 'Use "token_num_uses" instead.'),
}


@dataclass(frozen=True, slots=True)
class KubernetesRole:
    """One stored role."""

    name: str
    bound_service_account_names: tuple[str, ...] = ()
    bound_service_account_namespaces: tuple[str, ...] = ()
    audience: str = ""
    alias_name_source: str = "serviceaccount_uid"
    token: TokenSettings = field(default_factory=TokenSettings)

    def to_bytes(self) -> bytes:
        """The storage form."""
        return orjson.dumps(
            {
                "name": self.name,
                "bound_service_account_names": list(self.bound_service_account_names),
                "bound_service_account_namespaces": list(self.bound_service_account_namespaces),
                "audience": self.audience,
                "alias_name_source": self.alias_name_source,
                "token": self.token.to_dict(),
            }
        )

    @classmethod
    def from_bytes(cls, blob: bytes) -> KubernetesRole:
        """The inverse of :meth:`to_bytes`."""
        raw: dict[str, Any] = orjson.loads(blob)
        return cls(
            name=raw["name"],
            bound_service_account_names=tuple(raw.get("bound_service_account_names") or ()),
            bound_service_account_namespaces=tuple(
                raw.get("bound_service_account_namespaces") or ()
            ),
            audience=raw.get("audience", ""),
            alias_name_source=raw.get("alias_name_source", "serviceaccount_uid"),
            token=TokenSettings.from_dict(raw.get("token") or {}),
        )

    def render(self) -> dict[str, Any]:
        """A read, in Vault's shape."""
        return {
            "bound_service_account_names": list(self.bound_service_account_names),
            "bound_service_account_namespaces": list(self.bound_service_account_namespaces),
            "bound_service_account_namespace_selector": "",
            "audience": self.audience,
            "alias_name_source": self.alias_name_source,
            **self.token.render(),
        }


def bound(patterns: tuple[str, ...], value: str) -> bool:
    """Whether ``value`` is allowed by a list of names or globs (``*`` alone allows all)."""
    return any(glob_match(pattern, value) for pattern in patterns)


def _names(fields: FieldData, name: str) -> tuple[str, ...]:
    values = tuple(v.strip() for v in fields.strings(name) if v.strip())
    if "*" in values and len(values) > 1:
        raise InvalidRequest('can not mix "*" with values')
    return values


async def write_role(
    current: KubernetesRole | None, name: str, fields: FieldData
) -> tuple[KubernetesRole, list[str]]:
    """The role a write produces, with Vault's checks (see :mod:`hush.auth.named_roles`)."""
    role = current or KubernetesRole(name=name)
    if fields.string("bound_service_account_namespace_selector"):
        raise InvalidRequest(
            "'bound_service_account_namespace_selector' is not supported by Hush yet"
        )
    changes: dict[str, Any] = {}
    for list_name in ("bound_service_account_names", "bound_service_account_namespaces"):
        if fields.has(list_name):
            changes[list_name] = _names(fields, list_name)
    for text in ("audience", "alias_name_source"):
        if fields.has(text):
            changes[text] = fields.string(text)
    token = TokenSettings.parse(fields, role.token)
    if fields.has("num_uses") and not fields.has("token_num_uses"):
        token = replace(token, num_uses=fields.integer("num_uses"))
    role = replace(role, **changes, token=token)
    if not role.bound_service_account_names:
        raise InvalidRequest('"bound_service_account_names" can not be empty')
    if not role.bound_service_account_namespaces:
        raise InvalidRequest('"bound_service_account_namespaces" can not be empty')
    if role.alias_name_source not in ALIAS_SOURCES:
        raise InvalidRequest(
            f'invalid alias_name_source "{role.alias_name_source}"; must be one of '
            + ", ".join(ALIAS_SOURCES)
        )
    # Vault warns too: without an audience any token of the account is accepted.
    warnings = (
        []
        if role.audience
        else [
            "This role does not have an audience: a token of a bound service account is "
            "accepted whatever it was issued for. Set 'audience' to restrict it."
        ]
    )
    return role, warnings
