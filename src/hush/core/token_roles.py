"""Token roles (``auth/token/roles/:name``) and the rules for creating a token.

All of Vault's token-creation decisions live here, apart from HTTP: which policies a child may
have, what TTL it gets, whether it is an orphan. The backend only reads fields and renders.
"""

from __future__ import annotations

import fnmatch
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

from hush.core.acl import DEFAULT_POLICY, ROOT_POLICY, canonical_policy_name
from hush.core.errors import InvalidRequest, PermissionDenied
from hush.core.tokens import TokenEntry

__all__ = ["DEFAULT_TOKEN_TTL", "MAX_TOKEN_TTL", "CreateRequest", "TokenRole", "plan_token"]

DEFAULT_TOKEN_TTL = 768 * 3600
MAX_TOKEN_TTL = 768 * 3600


@dataclass(slots=True)
class TokenRole:
    """A named template for tokens created through ``auth/token/create/:role``."""

    name: str
    allowed_policies: list[str] = field(default_factory=list)
    disallowed_policies: list[str] = field(default_factory=list)
    allowed_policies_glob: list[str] = field(default_factory=list)
    disallowed_policies_glob: list[str] = field(default_factory=list)
    orphan: bool = False
    renewable: bool = True
    path_suffix: str = ""
    token_period: int = 0
    token_explicit_max_ttl: int = 0
    token_ttl: int = 0
    token_max_ttl: int = 0
    token_type: str = "default-service"
    token_no_default_policy: bool = False
    token_num_uses: int = 0
    token_bound_cidrs: list[str] = field(default_factory=list)
    allowed_entity_aliases: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        # Policy names have one normal form and the role compares only that form, so that
        # disallowing "Admin" also disallows "admin" (Vault lowercases role policy lists too).
        self.allowed_policies = _canonical(self.allowed_policies)
        self.disallowed_policies = _canonical(self.disallowed_policies)
        self.allowed_policies_glob = _canonical(self.allowed_policies_glob)
        self.disallowed_policies_glob = _canonical(self.disallowed_policies_glob)

    def to_json(self) -> bytes:
        """Serialise for storage."""
        return orjson.dumps(asdict(self))

    @classmethod
    def from_json(cls, blob: bytes) -> TokenRole:
        """Inverse of :meth:`to_json`."""
        raw: dict[str, Any] = orjson.loads(blob)
        return cls(**{k: v for k, v in raw.items() if k in cls.__dataclass_fields__})

    def describe(self) -> dict[str, Any]:
        """The role as ``GET auth/token/roles/:name`` shows it (with Vault's legacy aliases)."""
        body = asdict(self)
        body.update(
            period=self.token_period,
            explicit_max_ttl=self.token_explicit_max_ttl,
            bound_cidrs=self.token_bound_cidrs,
        )
        return body

    def permits(self, policy: str) -> bool:
        """Whether the role allows a token to carry ``policy``."""
        if policy in self.disallowed_policies or any(
            fnmatch.fnmatchcase(policy, g) for g in self.disallowed_policies_glob
        ):
            return False
        if not self.allowed_policies and not self.allowed_policies_glob:
            return True
        return policy in self.allowed_policies or any(
            fnmatch.fnmatchcase(policy, g) for g in self.allowed_policies_glob
        )


@dataclass(frozen=True, slots=True)
class CreateRequest:
    """The caller's wishes for a new token, already type-checked."""

    policies: list[str] | None
    meta: dict[str, str]
    display_name: str
    ttl: int
    explicit_max_ttl: int
    period: int
    num_uses: int
    renewable: bool
    no_default_policy: bool
    no_parent: bool
    token_type: str
    custom_id: str


def _canonical(policies: list[str]) -> list[str]:
    try:
        return sorted({canonical_policy_name(p) for p in policies if p.strip()})
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from None


def _choose_policies(parent: TokenEntry, wish: CreateRequest, role: TokenRole | None) -> list[str]:
    requested = _canonical(wish.policies) if wish.policies is not None else None
    if role is not None:
        if requested is None:
            requested = [p for p in _canonical(role.allowed_policies) if role.permits(p)]
        refused = [p for p in requested if p != DEFAULT_POLICY and not role.permits(p)]
        if refused:
            raise InvalidRequest(f"token policies {refused} are not allowed by role {role.name!r}")
        return requested
    if requested is None:
        return [p for p in parent.policies if p != DEFAULT_POLICY] or list(parent.policies)
    if not parent.is_root:
        allowed = set(parent.policies) | {DEFAULT_POLICY}
        extra = sorted(set(requested) - allowed)
        if extra:
            raise InvalidRequest(
                f"child policies must be subset of parent: {extra} are not in the parent token"
            )
    return requested


def plan_token(
    parent: TokenEntry, wish: CreateRequest, role: TokenRole | None, *, sudo: bool, orphan: bool
) -> TokenEntry:
    """Decide every property of a new token, or raise a 4xx naming the rule broken."""
    if parent.type == "batch":
        raise InvalidRequest("batch tokens cannot create child tokens")
    if wish.custom_id and not parent.is_root:
        raise PermissionDenied("root or sudo privileges required to specify token id")
    if wish.num_uses < 0:
        raise InvalidRequest("number of uses cannot be negative")
    if min(wish.ttl, wish.explicit_max_ttl, wish.period) < 0:
        raise InvalidRequest("ttl, explicit_max_ttl and period must not be negative")
    policies = _choose_policies(parent, wish, role)
    if ROOT_POLICY in policies and not parent.is_root:
        # Vault's rule, checked on the final list so that a role allowing "root" (in any
        # spelling that canonicalises to it) cannot mint root for a non-root caller.
        raise InvalidRequest("root tokens may not be created without parent token being root")
    no_default = wish.no_default_policy or (role is not None and role.token_no_default_policy)
    if not no_default and ROOT_POLICY not in policies and DEFAULT_POLICY not in policies:
        policies.append(DEFAULT_POLICY)
    if not policies:
        raise InvalidRequest("token must have at least one policy")
    token_type = wish.token_type
    if role is not None and token_type in ("", "default"):
        token_type = role.token_type
    token_type = {
        "default-service": "service",
        "default-batch": "batch",
        "": "service",
        "default": "service",
    }.get(token_type, token_type)
    if token_type not in ("service", "batch"):
        raise InvalidRequest(f'invalid token type "{wish.token_type}"; use service or batch')
    period = wish.period or (role.token_period if role else 0)
    explicit_max = wish.explicit_max_ttl or (role.token_explicit_max_ttl if role else 0)
    if token_type == "batch" and (ROOT_POLICY in policies or period or wish.num_uses):
        raise InvalidRequest("batch tokens cannot be root, periodic or limited-use tokens")
    if wish.no_parent and sudo:  # Vault honours no_parent only for root/sudo callers.
        orphan = True
    if role is not None and role.orphan:
        orphan = True

    ttl = period or wish.ttl or (role.token_ttl if role else 0)
    if ttl == 0 and not (ROOT_POLICY in policies and parent.is_root):
        ttl = DEFAULT_TOKEN_TTL
    if explicit_max and (ttl == 0 or ttl > explicit_max):
        ttl = explicit_max
    max_ttl = role.token_max_ttl if role and role.token_max_ttl else MAX_TOKEN_TTL
    if ttl > max_ttl and not period:
        ttl = max_ttl
    now = time.time()
    expire_time = now + ttl if ttl else 0.0
    # A child never outlives its parent: its expiry is capped at the parent's (see
    # docs/api-compatibility.md), so no background sweep is needed to enforce the hierarchy.
    if (
        not orphan
        and parent.expire_time
        and (expire_time == 0.0 or expire_time > parent.expire_time)
    ):
        expire_time = parent.expire_time
        ttl = max(0, int(parent.expire_time - now))
    name = wish.display_name.strip()
    return TokenEntry(
        accessor="",
        policies=policies,
        path="auth/token/create" + (f"/{role.name}" if role else ("-orphan" if orphan else "")),
        display_name=f"token-{name}" if name and not name.startswith("token") else name or "token",
        creation_time=now,
        creation_ttl=ttl,
        expire_time=expire_time,
        explicit_max_ttl=explicit_max,
        period=period,
        num_uses=wish.num_uses or (role.token_num_uses if role else 0),
        meta=dict(wish.meta),
        parent_hash="" if orphan else parent.token_hash,
        orphan=orphan,
        renewable=(wish.renewable and (role.renewable if role else True)) and bool(ttl),
        type=token_type,
        role=role.name if role else "",
        # Vault: a child token acts for the same entity as its parent.
        entity_id=parent.entity_id,
    )
