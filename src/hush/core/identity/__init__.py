"""Identity: entities, aliases and groups; the policies they add to tokens at request time."""

from __future__ import annotations

from hush.core.identity.backend import IdentityBackend
from hush.core.identity.login import entity_for_login
from hush.core.identity.resolve import IdentityResolver, ResolvedIdentity
from hush.core.identity.store import IdentityStore

__all__ = [
    "IdentityBackend",
    "IdentityResolver",
    "IdentityStore",
    "ResolvedIdentity",
    "entity_for_login",
]
