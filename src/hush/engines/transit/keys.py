"""Named transit keys: the versioned key ring and its policy (Vault's ``keysutil.Policy``).

A :class:`KeyPolicy` is an immutable value: every change (rotate, configure, trim) returns a new
one, which the store persists whole under ``policy/<name>`` in the mount's storage view, so the
barrier encrypts all key material at rest. Secrets stay in :class:`~hush.crypto.SecretBytes`
everywhere, so a policy's ``repr`` never shows them.
"""

from __future__ import annotations

import base64
import dataclasses
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from hush.core.errors import InvalidRequest
from hush.crypto import SecretBytes, random_bytes
from hush.engines.transit import material
from hush.engines.transit.key_types import KeyType

__all__ = [
    "ERR_TOO_OLD",
    "MIN_AUTO_ROTATE_PERIOD",
    "KeyPolicy",
    "KeyType",
    "KeyVersion",
    "check_rotate_period",
    "rfc3339",
]

ERR_TOO_OLD = "ciphertext or signature version is disallowed by policy (too old)"
MIN_AUTO_ROTATE_PERIOD = 3600
_MISSING_CONTEXT = (
    "missing 'context' for key derivation; the key was created using a derived key, which means "
    "additional, per-request information must be included in order to perform operations with "
    "the key"
)
_CURVE_NAMES = {
    KeyType.ECDSA_P256: "P-256",
    KeyType.ECDSA_P384: "P-384",
    KeyType.ECDSA_P521: "P-521",
}


@dataclass(frozen=True, slots=True)
class KeyVersion:
    """One version of a key: its secret, its HMAC key, its creation time and public half."""

    key: SecretBytes
    hmac_key: SecretBytes
    created: float
    public_key: str = ""

    @classmethod
    def generate(cls, key_type: KeyType, key_size: int = 0) -> KeyVersion:
        """A fresh random version (Vault's ``RotateInMemory``)."""
        secret, public = material.generate(key_type, key_size)
        return cls(secret, SecretBytes(random_bytes(material.HMAC_KEY_SIZE)), time.time(), public)

    @classmethod
    def from_import(cls, key_type: KeyType, raw: bytes) -> KeyVersion:
        """A version holding imported key bytes (checked against ``key_type``)."""
        secret, public = material.import_material(key_type, raw)
        return cls(secret, SecretBytes(random_bytes(material.HMAC_KEY_SIZE)), time.time(), public)

    def hmac_secret(self, key_type: KeyType) -> SecretBytes:
        """The key HMACs use: the key itself for ``hmac`` keys, the version's HMAC key otherwise."""
        return self.key if key_type is KeyType.HMAC else self.hmac_key

    def to_json(self) -> dict[str, Any]:
        """The stored form (secrets base64-encoded; storage is the barrier, which encrypts)."""
        return {
            "key": base64.b64encode(self.key.reveal()).decode("ascii"),
            "hmac_key": base64.b64encode(self.hmac_key.reveal()).decode("ascii"),
            "created": self.created,
            "public_key": self.public_key,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> KeyVersion:
        """Inverse of :meth:`to_json`."""
        return cls(
            SecretBytes(base64.b64decode(raw["key"])),
            SecretBytes(base64.b64decode(raw["hmac_key"])),
            float(raw["created"]),
            str(raw.get("public_key", "")),
        )


@dataclass(frozen=True, slots=True)
class KeyPolicy:
    """A named key ring and its settings, with Vault's version rules."""

    name: str
    type: KeyType
    versions: Mapping[int, KeyVersion]
    latest_version: int
    min_decryption_version: int = 1
    min_encryption_version: int = 0
    min_available_version: int = 0
    deletion_allowed: bool = False
    derived: bool = False
    convergent_encryption: bool = False
    exportable: bool = False
    allow_plaintext_backup: bool = False
    auto_rotate_period: int = 0
    key_size: int = 0
    imported: bool = False
    allow_imported_key_rotation: bool = False
    backup_info: Mapping[str, Any] | None = None
    restore_info: Mapping[str, Any] | None = None

    # ---- construction and changes -------------------------------------------------------------

    @classmethod
    def create(cls, name: str, key_type: KeyType, first: KeyVersion, **settings: Any) -> KeyPolicy:
        """A new key whose version 1 is ``first``; ``settings`` are field values."""
        cls.validate_settings(key_type, settings)
        return cls(name, key_type, {1: first}, 1, **settings)

    @staticmethod
    def validate_settings(key_type: KeyType, settings: Mapping[str, Any]) -> None:
        """Vault's checks on a new key's settings (run before a slow key generation)."""
        if settings.get("convergent_encryption") and not settings.get("derived"):
            raise InvalidRequest("convergent encryption requires derivation to be enabled")
        if settings.get("derived") and not key_type.supports_derivation:
            raise InvalidRequest(
                "key derivation and convergent encryption not supported for keys of type "
                f"{key_type}"
            )
        check_rotate_period(int(settings.get("auto_rotate_period", 0)))

    @staticmethod
    def check_type_settings(key_type: KeyType, key_size: int) -> int:
        """Validate ``key_size`` (HMAC keys only, 32..512 bytes) and return the size to use."""
        if key_size and key_type is not KeyType.HMAC:
            raise InvalidRequest(f"key_size is not valid for algorithm {key_type}")
        if key_size and not 32 <= key_size <= 512:
            raise InvalidRequest(f"invalid key_size {key_size}")
        return key_size or (32 if key_type is KeyType.HMAC else 0)

    def ensure_rotatable(self) -> None:
        """Vault rotates an imported key only if it was imported with ``allow_rotation``."""
        if self.imported and not self.allow_imported_key_rotation:
            raise InvalidRequest(f"imported key {self.name} does not allow rotation within Vault")

    def rotated(self, new: KeyVersion) -> KeyPolicy:
        """This key with ``new`` as its next (and latest) version."""
        latest = self.latest_version + 1
        return dataclasses.replace(
            self, versions={**self.versions, latest: new}, latest_version=latest
        )

    def configured(self, **changes: Any) -> KeyPolicy:
        """This key with some settings replaced (callers validate the values)."""
        return dataclasses.replace(self, **changes)

    def trimmed(self, min_available: int) -> KeyPolicy:
        """Drop every version below ``min_available`` (Vault's ``keys/:name/trim`` rules)."""
        if min_available < 1:
            raise InvalidRequest("minimum available version should be positive")
        if min_available > self.min_decryption_version:
            raise InvalidRequest(
                "minimum available version should not be greater than minimum decryption version"
            )
        if self.min_encryption_version and min_available > self.min_encryption_version:
            raise InvalidRequest(
                "minimum available version should not be greater than minimum encryption version"
            )
        if min_available < self.min_available_version:
            raise InvalidRequest("minimum available version cannot be decremented")
        kept = {v: entry for v, entry in self.versions.items() if v >= min_available}
        return dataclasses.replace(self, versions=kept, min_available_version=min_available)

    # ---- version rules ------------------------------------------------------------------------

    def version(self, number: int) -> KeyVersion:
        """A stored version, or Vault's "no such key version"."""
        entry = self.versions.get(number)
        if entry is None:
            raise InvalidRequest("no such key version")
        return entry

    def version_for_use(self, requested: int, operation: str = "encryption") -> int:
        """Resolve ``key_version`` for encrypting or signing (0 = latest), with Vault's checks."""
        if requested == 0:
            return self.latest_version
        if requested < 0:
            raise InvalidRequest(f"requested version for {operation} is negative")
        if requested > self.latest_version:
            raise InvalidRequest(
                f"requested version for {operation} is higher than the latest key version"
            )
        if requested < self.min_encryption_version:
            raise InvalidRequest(
                f"requested version for {operation} is less than the minimum encryption key version"
            )
        return requested

    def check_readable(self, number: int, kind: str = "ciphertext") -> KeyVersion:
        """A version that may still decrypt or verify: not too new, not below the policy minimum."""
        if number > self.latest_version:
            raise InvalidRequest(f"invalid {kind}: version is too new")
        if self.min_decryption_version > 0 and number < self.min_decryption_version:
            raise InvalidRequest(ERR_TOO_OLD)
        return self.version(number)

    def derived_key(self, number: int, context: bytes, length: int) -> bytes:
        """The per-context key of a derived key's version (HKDF-SHA256, as Vault)."""
        if not context:
            raise InvalidRequest(_MISSING_CONTEXT)
        return material.derive(self.version(number).key, context, length)

    def require_context(self, context: bytes) -> None:
        """Raise Vault's error when a derived key is used without a context."""
        if self.derived and not context:
            raise InvalidRequest(_MISSING_CONTEXT)

    # ---- rendering ----------------------------------------------------------------------------

    def read_data(self, context: bytes = b"") -> dict[str, Any]:
        """The ``keys/:name`` read response, in Vault's shape."""
        kt = self.type
        data: dict[str, Any] = {
            "name": self.name,
            "type": str(kt),
            "derived": self.derived,
            "deletion_allowed": self.deletion_allowed,
            "min_available_version": self.min_available_version,
            "min_decryption_version": self.min_decryption_version,
            "min_encryption_version": self.min_encryption_version,
            "latest_version": self.latest_version,
            "exportable": self.exportable,
            "allow_plaintext_backup": self.allow_plaintext_backup,
            "supports_encryption": kt.supports_encryption,
            "supports_decryption": kt.supports_encryption,
            "supports_signing": kt.supports_signing,
            "supports_derivation": kt.supports_derivation,
            "auto_rotate_period": self.auto_rotate_period,
            "imported_key": self.imported,
        }
        if kt is KeyType.HMAC:
            data["key_size"] = self.key_size
        if self.imported:
            data["imported_key_allow_rotation"] = self.allow_imported_key_rotation
        if self.backup_info is not None:
            data["backup_info"] = dict(self.backup_info)
        if self.restore_info is not None:
            data["restore_info"] = dict(self.restore_info)
        if self.derived:
            data["kdf"] = "hkdf_sha256"
            data["convergent_encryption"] = self.convergent_encryption
            if self.convergent_encryption:
                data["convergent_encryption_version"] = 3
        if kt.is_asymmetric:
            data["keys"] = {
                str(v): self._public_entry(v, e, context) for v, e in self.versions.items()
            }
        else:
            data["keys"] = {str(v): int(e.created) for v, e in self.versions.items()}
        return data

    def _public_entry(self, number: int, entry: KeyVersion, context: bytes) -> dict[str, Any]:
        public = entry.public_key
        if self.type.is_rsa:
            public = material.export_public_key(self.type, public, entry.key)
        elif self.derived:  # ed25519: the public key depends on the context
            public = material.derived_ed25519_public(entry.key, context) if context else ""
        return {
            "name": _CURVE_NAMES.get(self.type, str(self.type)),
            "public_key": public,
            "certificate_chain": "",
            "creation_time": rfc3339(entry.created),
        }

    # ---- storage form -------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The stored form of the whole key ring."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["type"] = str(self.type)
        data["versions"] = {str(v): e.to_json() for v, e in self.versions.items()}
        data["backup_info"] = dict(self.backup_info) if self.backup_info else None
        data["restore_info"] = dict(self.restore_info) if self.restore_info else None
        return data

    def to_bytes(self) -> bytes:
        """JSON bytes for storage."""
        return orjson.dumps(self.to_json())

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> KeyPolicy:
        """Inverse of :meth:`to_json`; raises ``KeyError``/``ValueError``/``TypeError`` when the
        document is malformed (a restore feeds it client data)."""
        values: dict[str, Any] = {}
        for spec in dataclasses.fields(cls):
            if spec.name in raw and spec.name not in ("type", "versions"):
                values[spec.name] = raw[spec.name]
        values["type"] = KeyType(raw["type"])
        values["versions"] = {int(v): KeyVersion.from_json(e) for v, e in raw["versions"].items()}
        policy = cls(**values)
        numbers = (
            policy.latest_version,
            policy.min_decryption_version,
            policy.min_encryption_version,
            policy.min_available_version,
            policy.auto_rotate_period,
            policy.key_size,
        )
        if not isinstance(policy.name, str) or not all(
            isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in numbers
        ):
            raise ValueError("malformed key policy")
        if policy.latest_version not in policy.versions:
            raise ValueError("malformed key policy: the latest version is missing")
        return policy

    @classmethod
    def from_bytes(cls, blob: bytes) -> KeyPolicy:
        """Parse the stored JSON form."""
        return cls.from_json(orjson.loads(blob))


def check_rotate_period(seconds: int) -> int:
    """Validate ``auto_rotate_period`` (0, or at least an hour, as Vault) and return it."""
    if seconds != 0 and seconds < MIN_AUTO_ROTATE_PERIOD:
        raise InvalidRequest("auto rotate period must be 0 to disable or at least an hour")
    return seconds


def rfc3339(timestamp: float) -> str:
    """A Unix time as Go's ``time.Time`` JSON (RFC 3339, UTC, fractional seconds)."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
