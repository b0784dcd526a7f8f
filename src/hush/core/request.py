"""The logical request and response that every front end builds and every backend handles.

Both the Vault front end and the AWS front end turn wire requests into a :class:`Request`, so token
checks, ACL, audit and metrics are shared. Backends return a :class:`Response` (or ``None`` for
"no content").
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hush.core.errors import NotFound
from hush.crypto import SecretBytes

if TYPE_CHECKING:
    from hush.core.tokens import TokenEntry

__all__ = [
    "RAW_BODY_PATHS",
    "Auth",
    "LoginResult",
    "Operation",
    "Request",
    "Response",
    "SecretLease",
    "list_response",
]

# Endpoints whose write body is a file, not JSON: the front end passes it as ``Request.body``.
RAW_BODY_PATHS = frozenset({"sys/storage/snapshot"})


class Operation(enum.StrEnum):
    """Logical operations, the same names Vault policies use as capabilities."""

    CREATE = "create"
    READ = "read"
    UPDATE = "update"
    DELETE = "delete"
    LIST = "list"
    PATCH = "patch"
    HELP = "help"


@dataclass(slots=True)
class Auth:
    """The authenticated caller, filled in by the token check before a backend runs."""

    token_accessor: str
    policies: tuple[str, ...]
    display_name: str = ""
    entity_id: str = ""
    root: bool = False
    sudo: bool = False


@dataclass(frozen=True, slots=True)
class LoginResult:
    """What an auth method's login handler decides; the core turns it into a token.

    TTLs are seconds (0: use the mount's or the system's default). ``alias_name`` identifies the
    person or machine inside the auth method (the username, the role id) for identity.
    """

    policies: tuple[str, ...]
    display_name: str
    alias_name: str
    metadata: dict[str, str] = field(default_factory=dict)
    ttl: int = 0
    max_ttl: int = 0
    period: int = 0
    explicit_max_ttl: int = 0
    num_uses: int = 0
    renewable: bool = True
    token_type: str = "service"
    no_default_policy: bool = False
    bound_cidrs: tuple[str, ...] = ()
    #: Names of external groups the caller belongs to in the auth method's own terms (JWT/OIDC
    #: ``groups_claim`` values, LDAP groups); identity maps them to groups through group aliases.
    group_aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SecretLease:
    """A backend's request for a lease on the dynamic secret it returns.

    The expiration manager registers it, fills ``lease_id``/``lease_duration``/``renewable`` of the
    response, and hands ``internal_data`` (stored behind the barrier, never sent to the client)
    back to the backend's ``renew_secret``/``revoke_secret`` hooks. ``secret_type`` names the kind
    of secret inside the backend (``creds``, ``static`` ...), as Vault's ``framework.Secret`` does.
    """

    secret_type: str
    ttl: int
    max_ttl: int = 0
    renewable: bool = True
    internal_data: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Request:
    """A request after protocol translation; ``path`` is relative to ``/v1/``."""

    id: str
    operation: Operation
    path: str
    data: dict[str, Any] = field(default_factory=dict)
    client_token: SecretBytes | None = None
    remote_addr: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    mount_point: str = ""
    mount_path: str = ""
    auth: Auth | None = None
    token_entry: TokenEntry | None = None
    wrap_ttl: int | None = None
    # The raw request body, only for endpoints in RAW_BODY_PATHS (a snapshot file upload).
    body: bytes = b""

    def with_route(self, mount_point: str, mount_path: str) -> Request:
        """This request, bound to the mount that serves it."""
        self.mount_point = mount_point
        self.mount_path = mount_path
        return self


@dataclass(slots=True)
class Response:
    """What a backend returns; the front end renders it in its protocol's envelope.

    ``login`` (from an auth method's login handler) asks the core to mint a token; the core
    fills ``auth`` from it. ``flatten`` also copies ``data``'s keys to the top level of the
    envelope (Vault's older ``sys/`` endpoints answer both ways, and clients read either).
    ``raw_body`` replaces the whole envelope (``sys/health``, ``sys/init`` and friends answer with
    bare JSON); ``status`` overrides the HTTP status; ``content_type``/``body_bytes`` carry a
    non-JSON answer (metrics text). ``secret`` asks the expiration manager for a lease on a
    dynamic secret (the database engine's credentials).
    """

    data: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)
    auth: dict[str, Any] | None = None
    lease_id: str = ""
    lease_duration: int = 0
    renewable: bool = False
    raw_body: dict[str, Any] | None = None
    flatten: bool = False
    status: int | None = None
    login: LoginResult | None = None
    wrap_info: dict[str, Any] | None = None
    content_type: str | None = None
    body_bytes: bytes | None = None
    secret: SecretLease | None = None


def list_response(keys: Sequence[str]) -> Response:
    """A LIST answer: ``{"keys": [...]}``, or 404 when there are none (Vault's empty list)."""
    if not keys:
        raise NotFound
    return Response(data={"keys": list(keys)})
