"""A secret's record: metadata, tags, rotation settings and its versions with staging labels.

The record lives at ``secret/<quoted name>``; each version's value at
``value/<quoted name>/<version id>`` (both behind the barrier). Staging labels follow Secrets
Manager: a label is on at most one version; moving ``AWSCURRENT`` puts ``AWSPREVIOUS`` on the
version that had it; versions with no label are *deprecated* and pruned past 100 versions.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import asdict, dataclass, field
from typing import Any, Final

import orjson

__all__ = [
    "AWSCURRENT",
    "AWSPENDING",
    "AWSPREVIOUS",
    "MAX_VERSIONS",
    "RotationState",
    "SecretRecord",
    "VersionInfo",
    "arn_for",
]

AWSCURRENT: Final = "AWSCURRENT"
AWSPREVIOUS: Final = "AWSPREVIOUS"
AWSPENDING: Final = "AWSPENDING"
MAX_VERSIONS: Final = 100
_SUFFIX_ALPHABET: Final = string.ascii_letters + string.digits


def arn_for(region: str, account: str, name: str) -> str:
    """A fresh ARN: the name plus ``-`` and six random characters, as Secrets Manager makes."""
    suffix = "".join(secrets.choice(_SUFFIX_ALPHABET) for _ in range(6))
    return f"arn:aws:secretsmanager:{region}:{account}:secret:{name}-{suffix}"


@dataclass(slots=True)
class VersionInfo:
    """One version's metadata (its value is stored apart)."""

    version_id: str
    stages: list[str]
    created: float
    last_accessed: float = 0.0
    kms_key_ids: list[str] = field(default_factory=list)


@dataclass(slots=True)
class RotationState:
    """Rotation settings and the outcome of the last attempt."""

    enabled: bool = False
    rotator: str = ""
    rules: dict[str, Any] = field(default_factory=dict)
    last_rotated: float = 0.0
    next_rotation: float = 0.0
    pending_version: str = ""
    failures: int = 0
    last_error: str = ""


@dataclass(slots=True)
class SecretRecord:
    """Everything about one secret except its values."""

    name: str
    arn: str
    created: float
    last_changed: float
    description: str = ""
    kms_key_id: str = ""
    #: The transit KMS key id ``kms_key_id`` resolved to ("" = the default key, barrier only).
    kms_key: str = ""
    tags: list[dict[str, str]] = field(default_factory=list)
    versions: dict[str, VersionInfo] = field(default_factory=dict)
    deleted_date: float = 0.0
    last_accessed: float = 0.0
    resource_policy: str = ""
    rotation: RotationState = field(default_factory=RotationState)

    # -- storage form ------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """The storage form."""
        return orjson.dumps(asdict(self))

    @classmethod
    def from_bytes(cls, blob: bytes) -> SecretRecord:
        """The inverse of :meth:`to_bytes`."""
        raw: dict[str, Any] = orjson.loads(blob)
        raw["versions"] = {k: VersionInfo(**v) for k, v in (raw.get("versions") or {}).items()}
        raw["rotation"] = RotationState(**(raw.get("rotation") or {}))
        return cls(**raw)

    # -- staging labels ----------------------------------------------------------------------

    def version_with(self, stage: str) -> VersionInfo | None:
        """The version carrying ``stage``, if any."""
        for version in self.versions.values():
            if stage in version.stages:
                return version
        return None

    def stage_map(self, *, include_deprecated: bool = False) -> dict[str, list[str]]:
        """``VersionIdsToStages``: version id → labels (labelled versions only by default)."""
        return {
            vid: list(v.stages)
            for vid, v in self.versions.items()
            if v.stages or include_deprecated
        }

    def move_stage(self, stage: str, to_version: str) -> None:
        """Put ``stage`` on ``to_version`` (taking it off any other); AWSCURRENT drags PREVIOUS."""
        holder = self.version_with(stage)
        if holder is not None and holder.version_id == to_version:
            return
        if holder is not None:
            holder.stages.remove(stage)
        if stage == AWSCURRENT and holder is not None:
            previous = self.version_with(AWSPREVIOUS)
            if previous is not None:
                previous.stages.remove(AWSPREVIOUS)
            holder.stages.append(AWSPREVIOUS)
        target = self.versions[to_version]
        if stage == AWSCURRENT and AWSPREVIOUS in target.stages:
            target.stages.remove(AWSPREVIOUS)
        target.stages.append(stage)

    def remove_stage(self, stage: str) -> None:
        """Take ``stage`` off whichever version has it."""
        holder = self.version_with(stage)
        if holder is not None:
            holder.stages.remove(stage)

    def prune(self) -> list[str]:
        """Drop the oldest deprecated versions beyond :data:`MAX_VERSIONS`; returns their ids."""
        excess = len(self.versions) - MAX_VERSIONS
        if excess <= 0:
            return []
        unlabelled = sorted(
            (v for v in self.versions.values() if not v.stages), key=lambda v: v.created
        )
        dropped = [v.version_id for v in unlabelled[:excess]]
        for vid in dropped:
            del self.versions[vid]
        return dropped

    @property
    def deleted(self) -> bool:
        """Whether the secret is scheduled for deletion."""
        return self.deleted_date != 0.0
