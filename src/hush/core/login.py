"""Turning an auth method's :class:`LoginResult` into a token (Vault's login flow).

Tokens from logins are orphans (the root of their own tree) whose path is the login path, so
``revoke-prefix auth/userpass/`` can find them later. TTLs: the method's choice, capped by the
method's max, the auth mount's tune settings and the system maximum.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from hush.core.acl import ROOT_POLICY, sanitize_policies
from hush.core.errors import InvalidRequest, PermissionDenied
from hush.core.identity import entity_for_login
from hush.core.mounts import MountEntry
from hush.core.request import LoginResult, Request
from hush.core.token_roles import DEFAULT_TOKEN_TTL, MAX_TOKEN_TTL
from hush.core.tokens import TokenEntry

if TYPE_CHECKING:
    from hush.core.core import Core

__all__ = ["issue_login_token"]


def _ttls(login: LoginResult, mount: MountEntry) -> tuple[int, int]:
    mount_default = int(mount.config.get("default_lease_ttl") or 0)
    mount_max = int(mount.config.get("max_lease_ttl") or 0)
    max_ttl = min(x for x in (login.max_ttl, mount_max, MAX_TOKEN_TTL) if x > 0)
    if login.explicit_max_ttl:
        max_ttl = min(max_ttl, login.explicit_max_ttl)
    if login.period:
        return login.period, max_ttl
    ttl = login.ttl or mount_default or DEFAULT_TOKEN_TTL
    return min(ttl, max_ttl), max_ttl


async def issue_login_token(
    core: Core, request: Request, mount: MountEntry, login: LoginResult
) -> dict[str, Any]:
    """Mint the token a successful login earned and return Vault's ``auth`` block."""
    token_type = {"default": "service", "default-service": "service", "default-batch": "batch"}.get(
        login.token_type, login.token_type
    )
    if token_type not in ("service", "batch"):
        raise InvalidRequest(f'invalid token type "{login.token_type}"')
    try:
        policies = sanitize_policies(login.policies, add_default=not login.no_default_policy)
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from None
    if ROOT_POLICY in policies:
        # Vault's rule: whoever may write a user's or role's policies (no sudo needed) must not
        # be able to mint root through a login, whatever spelling of "root" they stored.
        raise InvalidRequest("auth methods cannot create root tokens")
    ttl, max_ttl = _ttls(login, mount)
    entity_id = ""
    if login.alias_name:
        entity_id = await entity_for_login(
            core.identity, mount.accessor, login.alias_name, login.metadata, login.group_aliases
        )
    resolved = await core.identity_resolver.resolve(entity_id) if entity_id else None
    if resolved is not None and resolved.disabled:
        # Vault refuses the login itself when the entity is disabled.
        raise PermissionDenied
    now = time.time()
    entry = TokenEntry(
        accessor="",
        policies=policies,
        path=request.path,
        display_name="-".join(
            part for part in (mount.path.rstrip("/").replace("/", "-"), login.display_name) if part
        ),
        creation_time=now,
        creation_ttl=ttl,
        expire_time=now + ttl if ttl else 0.0,
        explicit_max_ttl=max_ttl,
        period=login.period,
        num_uses=login.num_uses,
        meta=dict(login.metadata),
        orphan=True,
        renewable=login.renewable and token_type == "service",
        type=token_type,
        bound_cidrs=list(login.bound_cidrs),
        entity_id=entity_id,
        mount_accessor=mount.accessor,
    )
    token = await core.tokens.create(entry)
    core.metrics.tokens_created.labels(entry.type).inc()
    block = core.token_backend.auth_block(token, entry)
    block["metadata"] = dict(login.metadata) or None
    if resolved is not None and resolved.policies:
        block["identity_policies"] = list(resolved.policies)
        block["policies"] = sorted({*policies, *resolved.policies})
    return block
