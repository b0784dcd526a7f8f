"""Access key records of the ``aws`` auth method and how their ids and secrets are made.

A record lives at ``key/<access key id>`` in the mount's storage, that is behind the barrier: the
secret access key has to be kept (not hashed) because SigV4 verification recomputes the HMAC with
it. The secret travels in :class:`~hush.crypto.SecretBytes` everywhere else.
"""

from __future__ import annotations

import re
import secrets
import string
import time
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from hush.crypto import SecretBytes

__all__ = [
    "ACCESS_KEY_ID_RE",
    "AccessKey",
    "new_access_key_id",
    "new_secret_access_key",
    "pair_problem",
]

# AWS: 16-128 characters of [A-Z0-9]; Hush's keys start "AKIA" like long-term IAM user keys.
ACCESS_KEY_ID_RE: Final = re.compile(r"[A-Z0-9]{16,128}")
_ID_ALPHABET: Final = string.ascii_uppercase + string.digits
_SECRET_ALPHABET: Final = string.ascii_letters + string.digits + "+/"


def new_access_key_id() -> str:
    """A fresh access key id: ``AKIA`` and 16 random upper-case letters and digits."""
    return "AKIA" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(16))


def new_secret_access_key() -> SecretBytes:
    """A fresh 40-character secret access key (the length and alphabet AWS uses)."""
    return SecretBytes("".join(secrets.choice(_SECRET_ALPHABET) for _ in range(40)).encode())


def pair_problem(access_key_id: str | None, secret_access_key: str | None) -> str:
    """Why a chosen key id or secret cannot be used ("" when both are fine or absent)."""
    if access_key_id is not None and not ACCESS_KEY_ID_RE.fullmatch(access_key_id):
        return "the access key id must be 16 to 128 upper-case letters and digits"
    if secret_access_key is not None and not 16 <= len(secret_access_key) <= 128:
        return "the secret access key must be 16 to 128 characters"
    return ""


@dataclass(frozen=True, slots=True)
class AccessKey:
    """One access key pair and the identity it signs in as."""

    access_key_id: str
    secret_access_key: SecretBytes
    policies: tuple[str, ...]
    display_name: str = ""
    description: str = ""
    entity_id: str = ""
    creation_time: float = field(default_factory=time.time)

    def to_bytes(self) -> bytes:
        """The storage form (written only behind the barrier)."""
        return orjson.dumps(
            {
                "access_key_id": self.access_key_id,
                "secret_access_key": self.secret_access_key.reveal().decode(),
                "policies": list(self.policies),
                "display_name": self.display_name,
                "description": self.description,
                "entity_id": self.entity_id,
                "creation_time": self.creation_time,
            }
        )

    @classmethod
    def from_bytes(cls, blob: bytes) -> AccessKey:
        """The inverse of :meth:`to_bytes`."""
        raw: dict[str, Any] = orjson.loads(blob)
        return cls(
            access_key_id=str(raw["access_key_id"]),
            secret_access_key=SecretBytes(str(raw["secret_access_key"]).encode()),
            policies=tuple(raw.get("policies") or ()),
            display_name=str(raw.get("display_name") or ""),
            description=str(raw.get("description") or ""),
            entity_id=str(raw.get("entity_id") or ""),
            creation_time=float(raw.get("creation_time") or 0.0),
        )

    def render(self) -> dict[str, Any]:
        """What a read shows: everything but the secret."""
        return {
            "access_key_id": self.access_key_id,
            "policies": list(self.policies),
            "display_name": self.display_name,
            "description": self.description,
            "entity_id": self.entity_id,
            "creation_time": int(self.creation_time),
        }
