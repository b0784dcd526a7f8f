"""AppRole's stored objects: roles and secret IDs, with Vault's read shapes.

A secret ID itself is never stored: only its HMAC under the role's random ``hmac_key`` names its
entry (see :mod:`hush.auth.approle.store`). Times are Unix seconds in storage and Go-style
RFC 3339 strings in responses (``0001-01-01T00:00:00Z`` for "never", as Vault's zero time).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from hush.auth.token_fields import TokenSettings
from hush.core.errors import InvalidRequest

__all__ = [
    "Role",
    "SecretIdEntry",
    "cidr_blocks",
    "cidrs_subset",
    "go_time",
    "parse_metadata",
]

_ZERO_TIME = "0001-01-01T00:00:00Z"


def go_time(moment: float) -> str:
    """A Unix time as Go's ``time.Time`` marshals it (UTC, fraction without trailing zeros)."""
    if moment <= 0:
        return _ZERO_TIME
    when = datetime.fromtimestamp(moment, UTC)
    fraction = f".{when.microsecond:06d}".rstrip("0") if when.microsecond else ""
    return when.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z"


def cidr_blocks(values: Iterable[str], message: str) -> tuple[str, ...]:
    """Validate a list of CIDR blocks (a bare address counts as one); ``message`` if one fails."""
    blocks = tuple(value.strip() for value in values if value.strip())
    for block in blocks:
        try:
            ipaddress.ip_network(block, strict=False)
        except ValueError:
            raise InvalidRequest(message) from None
    return blocks


def cidrs_subset(inner: Iterable[str], outer: Iterable[str]) -> bool:
    """Whether every block of ``inner`` lies inside some block of ``outer`` (empty outer: yes)."""
    outer_networks = [ipaddress.ip_network(block, strict=False) for block in outer]
    if not outer_networks:
        return True
    for block in inner:
        network = ipaddress.ip_network(block, strict=False)
        if not any(
            network.version == candidate.version and network.subnet_of(candidate)  # type: ignore[arg-type]
            for candidate in outer_networks
        ):
            return False
    return True


def parse_metadata(raw: Any) -> dict[str, str]:
    """Vault's ``strutil.ParseArbitraryKeyValues``: a JSON object (maybe base64) or ``k=v,k=v``.

    A JSON object sent as such (not as a string) is accepted too.
    """
    if raw in (None, ""):
        return {}
    if isinstance(raw, Mapping):
        return _string_map(raw)
    if not isinstance(raw, str):
        raise InvalidRequest("failed to parse metadata: expected a string")
    text = raw.strip()
    for candidate in (text, _maybe_base64(text)):
        if candidate is None:
            continue
        try:
            decoded = orjson.loads(candidate)
        except orjson.JSONDecodeError:
            continue
        if isinstance(decoded, dict):
            return _string_map(decoded)
    result: dict[str, str] = {}
    for item in text.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep or not key.strip():
            raise InvalidRequest("failed to parse metadata: invalid key/value pair")
        result[key.strip()] = value.strip()
    return result


def _maybe_base64(text: str) -> str | None:
    try:
        return base64.b64decode(text, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None


def _string_map(raw: Mapping[Any, Any]) -> dict[str, str]:
    if not all(isinstance(value, str) for value in raw.values()):
        raise InvalidRequest("failed to parse metadata: values must be strings")
    return {str(key): value for key, value in raw.items()}


@dataclass(frozen=True, slots=True)
class Role:
    """One AppRole role: how its secret IDs behave and what its logins' tokens get."""

    name: str
    role_id: str
    hmac_key: str
    bind_secret_id: bool = True
    secret_id_bound_cidrs: tuple[str, ...] = ()
    secret_id_num_uses: int = 0
    secret_id_ttl: int = 0
    local_secret_ids: bool = False
    token: TokenSettings = field(default_factory=TokenSettings)

    def has_constraint(self) -> bool:
        """Vault's ``validateRoleConstraints``: a role must demand a secret ID or an address."""
        return (
            self.bind_secret_id or bool(self.secret_id_bound_cidrs) or bool(self.token.bound_cidrs)
        )

    def render(self) -> dict[str, Any]:
        """The data of ``GET role/:role_name``."""
        return {
            "bind_secret_id": self.bind_secret_id,
            "secret_id_bound_cidrs": list(self.secret_id_bound_cidrs),
            "secret_id_num_uses": self.secret_id_num_uses,
            "secret_id_ttl": self.secret_id_ttl,
            "local_secret_ids": self.local_secret_ids,
            **self.token.render(),
        }

    def to_bytes(self) -> bytes:
        """The storage form."""
        return orjson.dumps(
            {
                "name": self.name,
                "role_id": self.role_id,
                "hmac_key": self.hmac_key,
                "bind_secret_id": self.bind_secret_id,
                "secret_id_bound_cidrs": list(self.secret_id_bound_cidrs),
                "secret_id_num_uses": self.secret_id_num_uses,
                "secret_id_ttl": self.secret_id_ttl,
                "local_secret_ids": self.local_secret_ids,
                "token": self.token.to_dict(),
            }
        )

    @classmethod
    def from_bytes(cls, blob: bytes) -> Role:
        """The inverse of :meth:`to_bytes`."""
        raw: dict[str, Any] = orjson.loads(blob)
        return cls(
            name=raw["name"],
            role_id=raw["role_id"],
            hmac_key=raw["hmac_key"],
            bind_secret_id=bool(raw.get("bind_secret_id", True)),
            secret_id_bound_cidrs=tuple(raw.get("secret_id_bound_cidrs") or ()),
            secret_id_num_uses=int(raw.get("secret_id_num_uses") or 0),
            secret_id_ttl=int(raw.get("secret_id_ttl") or 0),
            local_secret_ids=bool(raw.get("local_secret_ids")),
            token=TokenSettings.from_dict(raw.get("token") or {}),
        )


@dataclass(frozen=True, slots=True)
class SecretIdEntry:
    """What is known about one secret ID (never the secret ID itself)."""

    accessor: str
    num_uses: int
    ttl: int
    creation_time: float
    expiration_time: float
    last_updated_time: float
    metadata: dict[str, str] = field(default_factory=dict)
    cidr_list: tuple[str, ...] = ()
    token_bound_cidrs: tuple[str, ...] = ()

    def expired(self, now: float) -> bool:
        """Whether the secret ID's TTL has run out at ``now``."""
        return self.expiration_time > 0 and now >= self.expiration_time

    def render(self) -> dict[str, Any]:
        """Vault's ``secretIDStorageEntry.ToResponseData`` (lookup answers)."""
        return {
            "secret_id_accessor": self.accessor,
            "secret_id_num_uses": self.num_uses,
            "secret_id_ttl": self.ttl,
            "creation_time": go_time(self.creation_time),
            "expiration_time": go_time(self.expiration_time),
            "last_updated_time": go_time(self.last_updated_time),
            "metadata": dict(self.metadata),
            "cidr_list": list(self.cidr_list),
            "token_bound_cidrs": list(self.token_bound_cidrs),
        }

    def to_bytes(self) -> bytes:
        """The storage form."""
        return orjson.dumps(
            {
                "accessor": self.accessor,
                "num_uses": self.num_uses,
                "ttl": self.ttl,
                "creation_time": self.creation_time,
                "expiration_time": self.expiration_time,
                "last_updated_time": self.last_updated_time,
                "metadata": self.metadata,
                "cidr_list": list(self.cidr_list),
                "token_bound_cidrs": list(self.token_bound_cidrs),
            }
        )

    @classmethod
    def from_bytes(cls, blob: bytes) -> SecretIdEntry:
        """The inverse of :meth:`to_bytes`."""
        raw: dict[str, Any] = orjson.loads(blob)
        return cls(
            accessor=raw["accessor"],
            num_uses=int(raw["num_uses"]),
            ttl=int(raw["ttl"]),
            creation_time=float(raw["creation_time"]),
            expiration_time=float(raw["expiration_time"]),
            last_updated_time=float(raw["last_updated_time"]),
            metadata=dict(raw.get("metadata") or {}),
            cidr_list=tuple(raw.get("cidr_list") or ()),
            token_bound_cidrs=tuple(raw.get("token_bound_cidrs") or ()),
        )
