"""KV v2 records and the pure rules on them: versions, pruning, timestamps, input parsing.

Nothing here touches storage, so every rule can be read (and unit-tested) on its own. The rules
follow Vault's ``vault-plugin-secrets-kv`` (``KeyMetadata.AddVersion``, ``deletionTime``,
``validateCustomMetadata``) so responses and edge cases match what Vault clients expect.
"""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from hush.core.errors import InvalidRequest
from hush.core.ttl import go_duration

__all__ = [
    "DEFAULT_MAX_VERSIONS",
    "KeyMetadata",
    "MountConfig",
    "VersionMetadata",
    "check_custom_metadata",
    "go_duration",
    "merge_patch",
    "parse_cas",
    "parse_versions",
    "rfc3339_nano",
    "subkeys",
]

DEFAULT_MAX_VERSIONS = 10
MAX_CUSTOM_METADATA_KEYS = 64
MAX_CUSTOM_METADATA_KEY_BYTES = 128
MAX_CUSTOM_METADATA_VALUE_BYTES = 512
_NS = 1_000_000_000


# Whole seconds already formatted: a secret's version times are rendered on every read, and
# strftime/gmtime cost more than the rest of the function. Bounded: emptied past _SECONDS_KEPT.
_SECONDS: dict[int, str] = {}
_SECONDS_KEPT = 4096


def rfc3339_nano(ns: int) -> str:
    """Go's ``time.RFC3339Nano`` in UTC (trailing zeros of the fraction dropped); ``""`` for 0."""
    if not ns:
        return ""
    seconds, nanos = divmod(ns, _NS)
    base = _SECONDS.get(seconds)
    if base is None:
        if len(_SECONDS) >= _SECONDS_KEPT:
            _SECONDS.clear()
        base = _SECONDS[seconds] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    fraction = f".{nanos:09d}".rstrip("0") if nanos else ""
    return f"{base}{fraction}Z"


@dataclass(frozen=True, slots=True)
class MountConfig:
    """The mount-wide settings of ``config`` (0 means "not set")."""

    max_versions: int = 0
    cas_required: bool = False
    delete_version_after: int = 0

    def to_json(self) -> bytes:
        """Serialise for storage."""
        return orjson.dumps(
            {
                "max_versions": self.max_versions,
                "cas_required": self.cas_required,
                "delete_version_after": self.delete_version_after,
            }
        )

    @classmethod
    def from_json(cls, blob: bytes | None) -> MountConfig:
        """Parse the stored form; ``None`` (never configured) gives the defaults."""
        if blob is None:
            return cls()
        raw = orjson.loads(blob)
        return cls(
            int(raw["max_versions"]), bool(raw["cas_required"]), int(raw["delete_version_after"])
        )

    def view(self) -> dict[str, Any]:
        """The ``config`` read response."""
        return {
            "max_versions": self.max_versions,
            "cas_required": self.cas_required,
            "delete_version_after": go_duration(self.delete_version_after),
        }


@dataclass(slots=True)
class VersionMetadata:
    """One version's bookkeeping; times are Unix nanoseconds, 0 meaning "not set"."""

    created: int
    deletion: int = 0
    destroyed: bool = False

    def is_deleted(self, now: int) -> bool:
        """Soft-deleted, or past a ``delete_version_after`` deadline (Vault: before ``now``)."""
        return 0 < self.deletion <= now

    def is_live(self, now: int) -> bool:
        """Readable: neither destroyed nor deleted."""
        return not self.destroyed and not self.is_deleted(now)

    def view(self) -> dict[str, Any]:
        """The ``versions`` entry of a metadata read."""
        return {
            "created_time": rfc3339_nano(self.created),
            "deletion_time": rfc3339_nano(self.deletion),
            "destroyed": self.destroyed,
        }


@dataclass(slots=True)
class KeyMetadata:
    """Everything Hush knows about one secret besides its versions' data."""

    current_version: int = 0
    oldest_version: int = 0
    created: int = 0
    updated: int = 0
    max_versions: int = 0
    cas_required: bool = False
    delete_version_after: int = 0
    custom_metadata: dict[str, str] | None = None
    versions: dict[int, VersionMetadata] = field(default_factory=dict)

    def to_json(self) -> bytes:
        """Serialise for storage."""
        return orjson.dumps(
            {
                "current_version": self.current_version,
                "oldest_version": self.oldest_version,
                "created": self.created,
                "updated": self.updated,
                "max_versions": self.max_versions,
                "cas_required": self.cas_required,
                "delete_version_after": self.delete_version_after,
                "custom_metadata": self.custom_metadata,
                "versions": {
                    str(n): [v.created, v.deletion, v.destroyed] for n, v in self.versions.items()
                },
            }
        )

    @classmethod
    def from_json(cls, blob: bytes) -> KeyMetadata:
        """Parse the stored form."""
        raw = orjson.loads(blob)
        versions = {
            int(n): VersionMetadata(int(c), int(d), bool(x))
            for n, (c, d, x) in raw["versions"].items()
        }
        return cls(
            int(raw["current_version"]),
            int(raw["oldest_version"]),
            int(raw["created"]),
            int(raw["updated"]),
            int(raw["max_versions"]),
            bool(raw["cas_required"]),
            int(raw["delete_version_after"]),
            raw["custom_metadata"],
            versions,
        )

    def add_version(self, now: int, config: MountConfig) -> tuple[VersionMetadata, list[int]]:
        """Record a new current version; returns it and the pruned version numbers.

        Vault's ``AddVersion``: the key's ``max_versions`` wins, then the mount's, then 10; once
        ``current - oldest >= max`` everything up to ``current - max`` is dropped.
        """
        dva = [s for s in (config.delete_version_after, self.delete_version_after) if s > 0]
        version = VersionMetadata(created=now, deletion=now + min(dva) * _NS if dva else 0)
        self.current_version += 1
        self.versions[self.current_version] = version
        self.updated = now
        self.created = self.created or now
        limit = self.max_versions or config.max_versions or DEFAULT_MAX_VERSIONS
        pruned: list[int] = []
        if self.current_version - self.oldest_version >= limit:
            last = self.current_version - limit
            pruned = [n for n in range(self.oldest_version, last + 1) if n > 0]
            for number in pruned:
                self.versions.pop(number, None)
            self.oldest_version = last + 1
        return version, pruned

    def version_view(self, number: int, version: VersionMetadata) -> dict[str, Any]:
        """The ``metadata`` object of data reads and the data of write responses."""
        return {"version": number, **version.view(), "custom_metadata": self.custom_metadata}

    def view(self) -> dict[str, Any]:
        """The ``metadata/:path`` read response."""
        return {
            "cas_required": self.cas_required,
            "created_time": rfc3339_nano(self.created),
            "current_version": self.current_version,
            "custom_metadata": self.custom_metadata,
            "delete_version_after": go_duration(self.delete_version_after),
            "max_versions": self.max_versions,
            "oldest_version": self.oldest_version,
            "updated_time": rfc3339_nano(self.updated),
            "versions": {str(n): v.view() for n, v in sorted(self.versions.items())},
        }


def parse_cas(options: Mapping[str, Any]) -> int | None:
    """The ``options.cas`` of a write, if given; a non-negative integer or a 400."""
    if "cas" not in options or options["cas"] is None:
        return None
    value = options["cas"]
    if isinstance(value, str) and value.strip().isascii() and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequest("error parsing check-and-set parameter")  # Vault's text
    if value < 0:
        raise InvalidRequest("check-and-set parameter must be a non-negative integer")
    return value


def parse_versions(raw: Any) -> list[int]:
    """The ``versions`` of delete/undelete/destroy: a list (or comma string) of positive ints."""
    items: list[Any]
    if isinstance(raw, str):
        items = [part.strip() for part in raw.split(",") if part.strip()]
    elif isinstance(raw, list):
        items = raw
    elif isinstance(raw, int) and not isinstance(raw, bool):
        items = [raw]
    elif raw is None:
        items = []
    else:
        raise InvalidRequest('"versions" must be a list of version numbers')
    numbers: list[int] = []
    for item in items:
        number = int(item) if isinstance(item, str) and item.isascii() and item.isdigit() else item
        if isinstance(number, bool) or not isinstance(number, int) or number < 1:
            raise InvalidRequest('"versions" must be a list of positive integer version numbers')
        numbers.append(number)
    if not numbers:
        raise InvalidRequest("no version number provided")  # Vault's text
    return numbers


def _printable(text: str) -> bool:
    # Go's strutil.Printable: unicode.IsPrint for every rune (letters, marks, numbers, punctuation,
    # symbols and the ASCII space).
    return all(c == " " or unicodedata.category(c)[0] in "LMNPS" for c in text)


def check_custom_metadata(custom: Mapping[str, str]) -> None:
    """Vault's ``validateCustomMetadata``: at most 64 keys, keys 1-128 bytes, values <= 512."""
    prefix = "custom_metadata validation failed"
    if len(custom) > MAX_CUSTOM_METADATA_KEYS:
        raise InvalidRequest(
            f"{prefix}: payload must contain at most {MAX_CUSTOM_METADATA_KEYS} keys, "
            f"provided {len(custom)}"
        )
    problems: list[str] = []
    for key, value in custom.items():
        quoted = orjson.dumps(key).decode()
        key_len, value_len = len(key.encode()), len(value.encode())
        if not 0 < key_len <= MAX_CUSTOM_METADATA_KEY_BYTES:
            problems.append(
                f"{prefix}: length of key {quoted} is {key_len} but must be "
                f"0 < len(key) <= {MAX_CUSTOM_METADATA_KEY_BYTES}"
            )
        if value_len > MAX_CUSTOM_METADATA_VALUE_BYTES:
            problems.append(
                f"{prefix}: length of value for key {quoted} is {value_len} but must be "
                f"<= {MAX_CUSTOM_METADATA_VALUE_BYTES}"
            )
        if not _printable(key):
            problems.append(f"{prefix}: key {quoted} contains unprintable characters")
        if not _printable(value):
            problems.append(f"{prefix}: value for key {quoted} contains unprintable characters")
    if problems:
        raise InvalidRequest("; ".join(problems), errors=problems)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: objects merge recursively, ``null`` removes a member."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def subkeys(data: Mapping[str, Any], depth: int, level: int = 1) -> dict[str, Any]:
    """The key structure of ``data`` with ``null`` leaves; ``depth`` 0 means unlimited."""
    return {
        key: subkeys(value, depth, level + 1)
        if isinstance(value, dict) and value and (depth == 0 or level < depth)
        else None
        for key, value in data.items()
    }
