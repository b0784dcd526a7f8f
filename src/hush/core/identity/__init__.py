"""Identity: entities, aliases and groups; the policies they add to tokens at request time.

The package exports what the token store and the login flow need; the ``identity/`` endpoints
are in :mod:`hush.core.identity.backend` (imported by the core only, which keeps the token
backend free of an import cycle through the endpoints' rendering helpers).
"""

from __future__ import annotations

from hush.core.identity.login import entity_for_login
from hush.core.identity.resolve import IdentityResolver, ResolvedIdentity
from hush.core.identity.store import TOKEN_MOUNT_ACCESSOR, IdentityStore

__all__ = [
    "TOKEN_MOUNT_ACCESSOR",
    "IdentityResolver",
    "IdentityStore",
    "ResolvedIdentity",
    "entity_for_login",
]
