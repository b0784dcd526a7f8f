"""Identity records: entities, entity aliases, groups and group aliases (Vault's identity store).

Records are plain dataclasses serialised to JSON behind the barrier. Relations are stored once,
in the direction the API edits them (an alias names its entity, a group lists its members); the
reverse directions the request path needs are storage indexes kept by :mod:`.store`.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

import orjson

__all__ = [
    "GROUP_TYPES",
    "Entity",
    "EntityAlias",
    "Group",
    "GroupAlias",
    "Record",
    "decode",
    "encode",
]

GROUP_TYPES = ("internal", "external")


@dataclass(slots=True)
class Entity:
    """A person or machine, whatever auth methods it logs in with."""

    id: str
    name: str
    policies: list[str] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)
    disabled: bool = False
    merged_entity_ids: list[str] = field(default_factory=list)
    creation_time: float = field(default_factory=time.time)
    last_update_time: float = field(default_factory=time.time)


@dataclass(slots=True)
class EntityAlias:
    """One login identity (``name`` inside the auth mount ``mount_accessor``) of an entity."""

    id: str
    canonical_id: str
    mount_accessor: str
    name: str
    metadata: dict[str, str] = field(default_factory=dict)
    custom_metadata: dict[str, str] = field(default_factory=dict)
    merged_from_canonical_ids: list[str] = field(default_factory=list)
    creation_time: float = field(default_factory=time.time)
    last_update_time: float = field(default_factory=time.time)


@dataclass(slots=True)
class Group:
    """A set of entities and groups sharing policies; ``external`` groups are fed by logins."""

    id: str
    name: str
    type: str = "internal"
    policies: list[str] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)
    member_entity_ids: list[str] = field(default_factory=list)
    member_group_ids: list[str] = field(default_factory=list)
    alias_id: str = ""
    creation_time: float = field(default_factory=time.time)
    last_update_time: float = field(default_factory=time.time)
    modify_index: int = 0


@dataclass(slots=True)
class GroupAlias:
    """Maps a group name known to an auth method (a JWT ``groups`` value) to an external group."""

    id: str
    canonical_id: str
    mount_accessor: str
    name: str
    creation_time: float = field(default_factory=time.time)
    last_update_time: float = field(default_factory=time.time)


Record = TypeVar("Record", Entity, EntityAlias, Group, GroupAlias)


def encode(record: Entity | EntityAlias | Group | GroupAlias) -> bytes:
    """Serialise a record for storage."""
    return orjson.dumps(asdict(record))


def decode(kind: type[Record], blob: bytes) -> Record:
    """Inverse of :func:`encode`; keys a newer version added are ignored."""
    raw: dict[str, Any] = orjson.loads(blob)
    return kind(**{k: v for k, v in raw.items() if k in kind.__dataclass_fields__})
