"""The lease entry: what the expiration manager remembers about one lease, and lease ids.

A lease id is the request path that created the secret followed by a random part
(``database/creds/app/AbCd...``), as in Vault, so ``revoke-prefix database/creds/app`` can find
every lease of a role. A token's lease id is its creation path followed by ``h`` and the token's
salted hash (``auth/token/create/h9358...``), which is how OpenBao names token leases.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

from hush.crypto import random_token_string

__all__ = ["LeaseEntry", "LeaseKind", "index_name", "new_lease_id", "token_lease_id"]

_RANDOM_LENGTH = 24


class LeaseKind(enum.StrEnum):
    """What a lease stands for: a backend's dynamic secret, or a service token."""

    SECRET = "secret"
    TOKEN = "token"


def new_lease_id(request_path: str) -> str:
    """A fresh lease id under ``request_path`` (trailing slashes dropped)."""
    return f"{request_path.strip('/')}/{random_token_string(_RANDOM_LENGTH)}"


def token_lease_id(token_path: str, token_hash: str) -> str:
    """The lease id of the service token stored under ``token_hash``, created at ``token_path``."""
    return f"{token_path.strip('/')}/h{token_hash}"


def index_name(lease_id: str) -> str:
    """A slash-free, fixed-length name for ``lease_id`` in the by-token and irrevocable indexes."""
    return hashlib.sha256(lease_id.encode("utf-8")).hexdigest()


@dataclass(slots=True)
class LeaseEntry:
    """One lease. Stored behind the barrier; ``internal_data`` never leaves the server.

    Times are Unix seconds; ``expire_time`` 0 means the lease never expires (root tokens).
    ``token_hash`` is the issuing token of a secret lease, or the token itself for a token lease.
    ``max_ttl`` is the lease's own cap from the backend (0: only the mount's and the system's).
    """

    lease_id: str
    kind: LeaseKind
    path: str
    issue_time: float
    expire_time: float = 0.0
    last_renewal: float = 0.0
    token_hash: str = ""
    mount_uuid: str = ""
    mount_accessor: str = ""
    secret_type: str = ""
    internal_data: dict[str, Any] = field(default_factory=dict)
    max_ttl: int = 0
    renewable: bool = False
    revoke_attempts: int = 0
    revocation_error: str = ""
    irrevocable: bool = False

    def ttl(self, now: float) -> int:
        """Whole seconds left (0 when expired or never expiring)."""
        return 0 if not self.expire_time else max(0, int(self.expire_time - now))

    def to_json(self) -> bytes:
        """Serialise for storage (behind the barrier)."""
        return orjson.dumps(asdict(self))

    @classmethod
    def from_json(cls, blob: bytes) -> LeaseEntry:
        """Inverse of :meth:`to_json`; unknown keys from newer versions are ignored."""
        raw: dict[str, Any] = orjson.loads(blob)
        known = {k: v for k, v in raw.items() if k in cls.__dataclass_fields__}
        known["kind"] = LeaseKind(known.get("kind", LeaseKind.SECRET))
        return cls(**known)
