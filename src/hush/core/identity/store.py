"""Identity storage: records, their indexes and the identity epoch, in one barrier view.

Layout inside the view (the core gives it ``sys/identity/``); names never appear in storage keys
(keys are not encrypted), only salted HMACs of them:

* ``entity/<id>``, ``entity-alias/<id>``, ``group/<id>``, ``group-alias/<id>`` — the records.
* ``entity-name/<h>``, ``group-name/<h>`` — unique names (case-insensitive, as in Vault) → id.
* ``alias-factor/<h>``, ``group-alias-factor/<h>`` — the unique (mount accessor, alias name)
  pair → alias id. Alias names are compared exactly: on case-sensitive auth methods ``Alice``
  and ``alice`` are two people.
* ``entity-aliases/<entity>/<alias>`` — the aliases of an entity.
* ``merged/<old entity>`` — the entity an entity was merged into (its tokens act for that one).
* ``entity-groups/<entity>/<group>``, ``group-parents/<group>/<parent>`` — the reverse of
  ``member_entity_ids``/``member_group_ids``, read when resolving a token's identity policies.
* ``epoch`` — moves in the same transaction as every write, so cached resolutions on every node
  are dropped by the next request (the authorisation-epoch scheme of the policy store).
"""

from __future__ import annotations

import asyncio
import re
import secrets
import uuid
from collections.abc import Sequence

from hush.barrier.view import LogicalStorage
from hush.core.identity.model import (
    Entity,
    EntityAlias,
    Group,
    GroupAlias,
    Record,
    decode,
    encode,
)
from hush.crypto import SecretBytes, hmac_sha256, random_bytes
from hush.storage.base import TxnOp

__all__ = ["TOKEN_MOUNT_ACCESSOR", "IdentityStore", "valid_id"]

#: The built-in token store's accessor (``sys/auth`` shows it): aliases of tokens created with
#: ``entity_alias`` live on it.
TOKEN_MOUNT_ACCESSOR = "auth_token_builtin"

_SALT = "salt"
_EPOCH = "epoch"
_EPOCH_JUMP = 2**32
_ID_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,128}")

_RECORD_PREFIX: dict[type[Entity | EntityAlias | Group | GroupAlias], str] = {
    Entity: "entity/",
    EntityAlias: "entity-alias/",
    Group: "group/",
    GroupAlias: "group-alias/",
}


def valid_id(value: str) -> bool:
    """Whether ``value`` can be a record id (ids come from URLs and bodies, keys must stay sane)."""
    return _ID_PATTERN.fullmatch(value) is not None


class IdentityStore:
    """Reads and writes identity records and their indexes; every write moves the epoch."""

    def __init__(self, storage: LogicalStorage) -> None:
        self._storage = storage
        self._salt: SecretBytes | None = None
        #: Serialises writers in this process (API handlers and logins); across processes,
        #: login-created records have deterministic ids, so racing writers write the same thing.
        self.lock = asyncio.Lock()

    async def setup(self) -> None:
        """Load (or create once) the salt of name hashes; called on unseal."""
        salt = await self._storage.get(_SALT)
        if salt is None:
            salt = random_bytes(32)
            await self._storage.put(_SALT, salt)
        self._salt = SecretBytes(salt)

    def teardown(self) -> None:
        """Forget the salt (on seal)."""
        self._salt = None

    # -- keys ------------------------------------------------------------------------------

    def _hash(self, *parts: str) -> str:
        if self._salt is None:
            raise RuntimeError("identity store is not set up")
        return hmac_sha256(self._salt.reveal(), "\x00".join(parts).encode()).hex()

    def derived_id(self, kind: str, mount_accessor: str, name: str) -> str:
        """A UUID-shaped id derived from a login identity: two racing first logins agree on it."""
        return str(uuid.UUID(self._hash("derived-id", kind, mount_accessor, name)[:32]))

    def entity_name_key(self, name: str) -> str:
        """Index key of an entity name (case-insensitive)."""
        return "entity-name/" + self._hash("entity", name.lower())

    def group_name_key(self, name: str) -> str:
        """Index key of a group name (case-insensitive)."""
        return "group-name/" + self._hash("group", name.lower())

    def alias_factor_key(self, mount_accessor: str, name: str) -> str:
        """Index key of an entity alias's (mount accessor, name) pair (exact match)."""
        return "alias-factor/" + self._hash("alias", mount_accessor, name)

    def group_alias_factor_key(self, mount_accessor: str, name: str) -> str:
        """Index key of a group alias's (mount accessor, name) pair (exact match)."""
        return "group-alias-factor/" + self._hash("group-alias", mount_accessor, name)

    @staticmethod
    def record_key(record: Entity | EntityAlias | Group | GroupAlias) -> str:
        """Where a record is stored."""
        return _RECORD_PREFIX[type(record)] + record.id

    @staticmethod
    def put(record: Entity | EntityAlias | Group | GroupAlias) -> TxnOp:
        """The operation that stores ``record``."""
        return TxnOp("put", IdentityStore.record_key(record), encode(record))

    @staticmethod
    def delete(record: Entity | EntityAlias | Group | GroupAlias) -> TxnOp:
        """The operation that deletes ``record``."""
        return TxnOp("delete", IdentityStore.record_key(record))

    # -- reads -----------------------------------------------------------------------------

    async def get(self, kind: type[Record], record_id: str) -> Record | None:
        """The record of type ``kind`` with this id, or ``None``."""
        if not valid_id(record_id):
            return None
        blob = await self._storage.get(_RECORD_PREFIX[kind] + record_id)
        return decode(kind, blob) if blob is not None else None

    async def get_indexed(self, kind: type[Record], index_key: str) -> Record | None:
        """The record an index key (name or alias factor) points at."""
        target = await self._storage.get(index_key)
        return await self.get(kind, target.decode()) if target is not None else None

    async def ids(self, kind: type[Entity | EntityAlias | Group | GroupAlias]) -> list[str]:
        """Every id of one record type."""
        return [k for k in await self._storage.list(_RECORD_PREFIX[kind]) if not k.endswith("/")]

    async def children(self, folder: str) -> list[str]:
        """The ids listed under an index folder (``entity-aliases/<id>/`` ...)."""
        return [k for k in await self._storage.list(folder) if not k.endswith("/")]

    async def aliases_of(self, entity_id: str) -> list[EntityAlias]:
        """The aliases of an entity."""
        found = []
        for alias_id in await self.children(f"entity-aliases/{entity_id}/"):
            alias = await self.get(EntityAlias, alias_id)
            if alias is not None:
                found.append(alias)
        return found

    async def groups_of(self, entity_id: str) -> list[str]:
        """Ids of the groups an entity is a direct member of."""
        return await self.children(f"entity-groups/{entity_id}/")

    async def parents_of(self, group_id: str) -> list[str]:
        """Ids of the groups that list ``group_id`` in their ``member_group_ids``."""
        return await self.children(f"group-parents/{group_id}/")

    async def epoch(self) -> int:
        """The identity epoch (0 before the first write)."""
        raw = await self._storage.get(_EPOCH)
        return int(raw.decode("ascii")) if raw else 0

    # -- writes ----------------------------------------------------------------------------

    async def commit(self, ops: Sequence[TxnOp]) -> None:
        """Apply ``ops`` and move the epoch, atomically.

        The epoch jumps by a random amount: storage has no compare-and-set, so two nodes
        bumping from the same value must still write different values.
        """
        new = await self.epoch() + 1 + secrets.randbelow(_EPOCH_JUMP)
        await self._storage.transaction([*ops, TxnOp("put", _EPOCH, str(new).encode())])

    @staticmethod
    def index(key: str, target: str = "") -> TxnOp:
        """Put an index entry."""
        return TxnOp("put", key, target.encode())

    @staticmethod
    def unindex(key: str) -> TxnOp:
        """Delete an index entry."""
        return TxnOp("delete", key)

    def group_membership_ops(self, old: Group | None, new: Group | None) -> list[TxnOp]:
        """Index changes for a group moving from ``old`` to ``new`` (``None``: absent)."""
        either = new or old
        if either is None:
            return []
        group_id = either.id
        before_entities = set(old.member_entity_ids) if old else set()
        after_entities = set(new.member_entity_ids) if new else set()
        before_groups = set(old.member_group_ids) if old else set()
        after_groups = set(new.member_group_ids) if new else set()
        ops = [
            self.unindex(f"entity-groups/{e}/{group_id}")
            for e in sorted(before_entities - after_entities)
        ]
        ops += [self.index(f"entity-groups/{e}/{group_id}") for e in sorted(after_entities)]
        ops += [
            self.unindex(f"group-parents/{g}/{group_id}")
            for g in sorted(before_groups - after_groups)
        ]
        ops += [self.index(f"group-parents/{g}/{group_id}") for g in sorted(after_groups)]
        return ops
