"""The ``token_*`` fields every role-based auth method shares (Vault's ``sdk/helper/tokenutil``).

A userpass user or an AppRole role carries the settings of the tokens its logins earn. They are
declared once here (:data:`TOKEN_FIELDS`, plus the deprecated aliases of :data:`LEGACY_FIELDS`),
parsed into the frozen :class:`TokenSettings`, stored with the user or role, rendered in reads the
way Vault renders them, and turned into the :class:`~hush.core.request.LoginResult` the core
mints a token from. Address lists (``token_bound_cidrs``, AppRole's CIDR bindings) are checked
with :mod:`ipaddress` by the helpers at the bottom.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from hush.core.errors import InvalidRequest
from hush.core.request import LoginResult
from hush.framework.fields import Field, FieldData, FieldType

__all__ = [
    "LEGACY_FIELDS",
    "TOKEN_FIELDS",
    "TOKEN_TYPES",
    "TokenSettings",
    "address_allowed",
    "normalize_addresses",
    "sanitize_policies",
    "token_fields",
]

TOKEN_TYPES: Final = ("service", "batch", "default", "default-service", "default-batch")

TOKEN_FIELDS: Final[Mapping[str, Field]] = {
    "token_bound_cidrs": Field(
        FieldType.COMMA_STRING_LIST,
        "Comma separated string or JSON list of CIDR blocks. If set, specifies the blocks of IP "
        "addresses which are allowed to use the generated token.",
    ),
    "token_explicit_max_ttl": Field(
        FieldType.DURATION,
        "If set, tokens created via this role carry an explicit maximum TTL that renewals "
        "cannot exceed, whatever the role and mount say later.",
    ),
    "token_max_ttl": Field(FieldType.DURATION, "The maximum lifetime of the generated token."),
    "token_no_default_policy": Field(
        FieldType.BOOL,
        "If true, the 'default' policy will not automatically be added to generated tokens.",
    ),
    "token_num_uses": Field(
        FieldType.INT,
        "The maximum number of times a token may be used, a value of zero means unlimited.",
    ),
    "token_period": Field(
        FieldType.DURATION,
        "If set, tokens created via this role have no max lifetime; instead, their renewal "
        "period is fixed to this value.",
    ),
    "token_policies": Field(FieldType.COMMA_STRING_LIST, "Comma-separated list of policies."),
    "token_type": Field(
        FieldType.STRING,
        "The type of token to generate: service, batch, default, default-service or default-batch.",
        default="default-service",
    ),
    "token_ttl": Field(FieldType.DURATION, "The initial ttl of the token to generate."),
}


def _deprecated(name: str) -> str:
    # Vault's tokenutil.DeprecationText.
    return f'Use "{name}" instead. If this and "{name}" are both specified, only "{name}" is used.'


# Deprecated alias → (the token field it mirrors, its declaration).
LEGACY_FIELDS: Final[Mapping[str, tuple[str, Field]]] = {
    "policies": (
        "token_policies",
        Field(FieldType.COMMA_STRING_LIST, _deprecated("token_policies")),
    ),
    "ttl": ("token_ttl", Field(FieldType.DURATION, _deprecated("token_ttl"))),
    "max_ttl": ("token_max_ttl", Field(FieldType.DURATION, _deprecated("token_max_ttl"))),
    "period": ("token_period", Field(FieldType.DURATION, _deprecated("token_period"))),
    "bound_cidrs": (
        "token_bound_cidrs",
        Field(FieldType.COMMA_STRING_LIST, _deprecated("token_bound_cidrs")),
    ),
}

_ATTRIBUTES: Final[Mapping[str, str]] = {
    "token_bound_cidrs": "bound_cidrs",
    "token_explicit_max_ttl": "explicit_max_ttl",
    "token_max_ttl": "max_ttl",
    "token_no_default_policy": "no_default_policy",
    "token_num_uses": "num_uses",
    "token_period": "period",
    "token_policies": "policies",
    "token_type": "type",
    "token_ttl": "ttl",
}


def token_fields(*legacy: str) -> dict[str, Field]:
    """The token field declarations plus the named deprecated aliases, for a path's ``fields``."""
    return {**TOKEN_FIELDS, **{name: LEGACY_FIELDS[name][1] for name in legacy}}


def sanitize_policies(names: Iterable[str]) -> tuple[str, ...]:
    """Vault's ``policyutil.ParsePolicies``: trimmed, lowercased, sorted, unique; root alone."""
    cleaned = {name.strip().lower() for name in names} - {""}
    return ("root",) if "root" in cleaned else tuple(sorted(cleaned))


def _strings(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(value.strip() for value in values if value.strip())


def normalize_addresses(values: Iterable[str], field_name: str) -> tuple[str, ...]:
    """Validate IP addresses and CIDR blocks; a single address shows without its ``/32``.

    Host bits stay as written (``10.0.0.5/8``), as Vault's sockaddr rendering keeps them.
    """
    result: list[str] = []
    for value in _strings(values):
        try:
            interface = ipaddress.ip_interface(value)
        except ValueError:
            raise InvalidRequest(
                f'invalid IP address or CIDR block "{value}" in "{field_name}"'
            ) from None
        full = interface.network.prefixlen == interface.max_prefixlen
        result.append(str(interface.ip) if full else str(interface))
    return tuple(result)


def _parse_ip(remote_addr: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(remote_addr.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def address_allowed(remote_addr: str, cidrs: Iterable[str]) -> bool:
    """Whether ``remote_addr`` lies in one of ``cidrs`` (an empty list allows every address).

    An unparsable or missing address is refused whenever there is a binding to check.
    """
    blocks = tuple(cidrs)
    if not blocks:
        return True
    address = _parse_ip(remote_addr)
    if address is None:
        return False
    return any(address in ipaddress.ip_network(block, strict=False) for block in blocks)


@dataclass(frozen=True, slots=True)
class TokenSettings:
    """The token settings of one user or role (TTLs in seconds, 0 meaning "mount default").

    ``legacy`` names the deprecated aliases (``policies``, ``ttl``…) last written, which Vault
    keeps mirroring and shows in reads next to their ``token_*`` fields.
    """

    policies: tuple[str, ...] = ()
    ttl: int = 0
    max_ttl: int = 0
    explicit_max_ttl: int = 0
    period: int = 0
    num_uses: int = 0
    no_default_policy: bool = False
    bound_cidrs: tuple[str, ...] = ()
    type: str = "default"
    legacy: tuple[str, ...] = ()

    @classmethod
    def parse(cls, fields: FieldData, current: TokenSettings | None = None) -> TokenSettings:
        """``current`` (or the defaults) with every field the client sent applied and checked.

        Deprecated aliases follow Vault's ``tokenutil.UpgradeValue``: the ``token_*`` field wins;
        an alias sent alone sets both; an alias not sent stops being mirrored when its
        ``token_*`` field is written.
        """
        values = _as_dict(current or cls())
        legacy = set(values.pop("legacy"))
        for name, attribute in _ATTRIBUTES.items():
            if fields.has(name):
                values[attribute] = _field_value(fields, name)
        for alias, (target, _) in LEGACY_FIELDS.items():
            if fields.has(target):
                if fields.has(alias):
                    legacy.add(alias)
                else:
                    legacy.discard(alias)
            elif fields.has(alias):
                values[_ATTRIBUTES[target]] = _field_value(fields, alias, legacy_of=target)
                legacy.add(alias)
        settings = cls.from_dict({**values, "legacy": sorted(legacy)})
        settings.validate()
        return settings

    def validate(self) -> None:
        """Vault's checks, with its messages; raises :class:`InvalidRequest`."""
        if self.type not in TOKEN_TYPES:
            raise InvalidRequest(f"invalid 'token_type' value \"{self.type}\"")
        if self.num_uses < 0:
            raise InvalidRequest("'token_num_uses' cannot be negative")
        if self.type in ("batch", "default-batch"):
            if self.period:
                raise InvalidRequest(
                    "'token_type' cannot be 'batch' or 'default_batch' when set to generate "
                    "periodic tokens"
                )
            if self.num_uses:
                raise InvalidRequest(
                    "'token_type' cannot be 'batch' or 'default_batch' when set to generate "
                    "tokens with limited use count"
                )
        if self.ttl > 0 and self.max_ttl > 0 and self.ttl > self.max_ttl:
            raise InvalidRequest("'token_ttl' cannot be greater than 'token_max_ttl'")

    def render(self) -> dict[str, Any]:
        """The ``token_*`` keys of a read, plus the mirrored deprecated aliases that are set."""
        data: dict[str, Any] = {
            "token_bound_cidrs": list(self.bound_cidrs),
            "token_explicit_max_ttl": self.explicit_max_ttl,
            "token_max_ttl": self.max_ttl,
            "token_no_default_policy": self.no_default_policy,
            "token_num_uses": self.num_uses,
            "token_period": self.period,
            "token_policies": list(self.policies),
            "token_type": self.type,
            "token_ttl": self.ttl,
        }
        for alias in self.legacy:
            value = data[LEGACY_FIELDS[alias][0]]
            if value:
                data[alias] = value
        return data

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form for storage."""
        return _as_dict(self)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> TokenSettings:
        """The inverse of :meth:`to_dict` (unknown keys ignored, so old entries keep loading)."""
        known = {name: raw[name] for name in _as_dict(cls()) if name in raw}
        for name in ("policies", "bound_cidrs", "legacy"):
            if name in known:
                known[name] = tuple(known[name])
        return cls(**known)

    def to_login(
        self, display_name: str, alias_name: str, metadata: Mapping[str, str]
    ) -> LoginResult:
        """What a successful login with these settings asks the core to mint."""
        return LoginResult(
            policies=self.policies,
            display_name=display_name,
            alias_name=alias_name,
            metadata=dict(metadata),
            ttl=self.ttl,
            max_ttl=self.max_ttl,
            period=self.period,
            explicit_max_ttl=self.explicit_max_ttl,
            num_uses=self.num_uses,
            renewable=True,
            token_type=self.type,
            no_default_policy=self.no_default_policy,
            bound_cidrs=self.bound_cidrs,
        )


def _as_dict(settings: TokenSettings) -> dict[str, Any]:
    return {
        "policies": list(settings.policies),
        "ttl": settings.ttl,
        "max_ttl": settings.max_ttl,
        "explicit_max_ttl": settings.explicit_max_ttl,
        "period": settings.period,
        "num_uses": settings.num_uses,
        "no_default_policy": settings.no_default_policy,
        "bound_cidrs": list(settings.bound_cidrs),
        "type": settings.type,
        "legacy": list(settings.legacy),
    }


def _field_value(fields: FieldData, name: str, legacy_of: str = "") -> Any:
    kind = legacy_of or name
    if kind == "token_policies":
        # The deprecated alias is sanitised (Vault runs it through ParsePolicies); the token
        # field keeps the caller's spelling and order.
        raw = fields.strings(name)
        return sanitize_policies(raw) if legacy_of else _strings(raw)
    if kind == "token_bound_cidrs":
        return normalize_addresses(fields.strings(name), name)
    if kind == "token_type":
        return fields.string(name)
    if kind == "token_no_default_policy":
        return fields.boolean(name)
    return fields.integer(name)
