"""What the identity endpoints share: the store, the auth mounts, validation and rendering."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from hush.core.acl import ROOT_POLICY, canonical_policy_name
from hush.core.errors import InvalidRequest
from hush.core.identity.model import Entity, EntityAlias, Group, GroupAlias
from hush.core.identity.resolve import IdentityResolver
from hush.core.identity.store import TOKEN_MOUNT_ACCESSOR, IdentityStore
from hush.core.mounts import MountEntry
from hush.core.token_backend import rfc3339

__all__ = ["IdentityService", "identity_policies"]

_Alias = TypeVar("_Alias", EntityAlias, GroupAlias)

_TOKEN_MOUNT = MountEntry(path="token/", type="token", uuid="token", accessor=TOKEN_MOUNT_ACCESSOR)


def identity_policies(names: Iterable[str]) -> list[str]:
    """Validate policies given to an entity or group: canonical names, ``root`` refused.

    Vault's rule for logins applies here too: whoever may edit identity (no sudo needed) must
    not be able to hand out root through an entity or a group, in any spelling of ``root``.
    """
    found: list[str] = []
    for name in names:
        if not name.strip():
            continue
        canonical = canonical_policy_name(name)
        if canonical == ROOT_POLICY:
            raise InvalidRequest("policies cannot contain root")
        if canonical not in found:
            found.append(canonical)
    return found


class IdentityService:
    """The identity store plus what rendering needs from the core (auth mounts by accessor)."""

    def __init__(
        self,
        store: IdentityStore,
        resolver: IdentityResolver,
        auth_mounts: Callable[[], Iterable[MountEntry]],
    ) -> None:
        self.store = store
        self.resolver = resolver
        self._auth_mounts = auth_mounts

    def mount(self, accessor: str) -> MountEntry | None:
        """The auth mount with this accessor, if it is enabled (the token store always is)."""
        if accessor == TOKEN_MOUNT_ACCESSOR:
            return _TOKEN_MOUNT
        for entry in self._auth_mounts():
            if entry.accessor == accessor:
                return entry
        return None

    def require_mount(self, accessor: str) -> MountEntry:
        """The auth mount with this accessor, or a 400 naming the accessor."""
        if not accessor:
            raise InvalidRequest("missing mount_accessor")
        found = self.mount(accessor)
        if found is None:
            raise InvalidRequest(f'invalid mount accessor "{accessor}"')
        return found

    def _mount_fields(self, accessor: str) -> dict[str, str]:
        found = self.mount(accessor)
        return {
            "mount_accessor": accessor,
            "mount_path": f"auth/{found.path}" if found else "",
            "mount_type": found.type if found else "",
        }

    def describe_alias(self, alias: EntityAlias, *, nested: bool = False) -> dict[str, Any]:
        """An entity alias as Vault renders it (``nested``: inside its entity)."""
        body: dict[str, Any] = {
            "id": alias.id,
            "canonical_id": alias.canonical_id,
            "name": alias.name,
            **self._mount_fields(alias.mount_accessor),
            "metadata": alias.metadata or None,
            "custom_metadata": alias.custom_metadata or (None if nested else {}),
            "creation_time": rfc3339(alias.creation_time),
            "last_update_time": rfc3339(alias.last_update_time),
            "merged_from_canonical_ids": alias.merged_from_canonical_ids or None,
            "local": False,
        }
        if not nested:
            body["namespace_id"] = "root"
        return body

    def describe_group_alias(self, alias: GroupAlias, *, nested: bool = False) -> dict[str, Any]:
        """A group alias as Vault renders it (``nested``: inside its group)."""
        body: dict[str, Any] = {
            "id": alias.id,
            "canonical_id": alias.canonical_id,
            "name": alias.name,
            **self._mount_fields(alias.mount_accessor),
            "metadata": None,
            "creation_time": rfc3339(alias.creation_time),
            "last_update_time": rfc3339(alias.last_update_time),
            "merged_from_canonical_ids": None,
        }
        if not nested:
            body.update(custom_metadata=None, local=False, namespace_id="root")
        return body

    @staticmethod
    def list_info(described: dict[str, Any]) -> dict[str, Any]:
        """The ``key_info`` entry of an alias in a LIST answer."""
        keys = ("name", "canonical_id", "mount_accessor", "mount_path", "mount_type", "metadata")
        info = {k: described.get(k) for k in keys}
        info.update(custom_metadata=None, local=False)
        return info

    async def alias_key_info(
        self, kind: type[_Alias], describe: Callable[[_Alias], dict[str, Any]]
    ) -> dict[str, Any]:
        """The ``key_info`` of a LIST of aliases of one kind: every alias by id."""
        info: dict[str, Any] = {}
        for alias_id in await self.store.ids(kind):
            alias = await self.store.get(kind, alias_id)
            if alias is not None:
                info[alias.id] = self.list_info(describe(alias))
        return info

    async def describe_entity(self, entity: Entity) -> dict[str, Any]:
        """An entity with its aliases and group memberships, as Vault renders it."""
        aliases = sorted(await self.store.aliases_of(entity.id), key=lambda a: a.creation_time)
        resolved = await self.resolver.resolve(entity.id)
        direct = list(resolved.direct_group_ids)
        inherited = list(resolved.inherited_group_ids)
        return {
            "id": entity.id,
            "name": entity.name,
            "policies": list(entity.policies),
            "metadata": entity.metadata or None,
            "disabled": entity.disabled,
            "aliases": [self.describe_alias(a, nested=True) for a in aliases],
            "direct_group_ids": direct,
            "inherited_group_ids": inherited,
            "group_ids": sorted({*direct, *inherited}),
            "merged_entity_ids": entity.merged_entity_ids or None,
            "creation_time": rfc3339(entity.creation_time),
            "last_update_time": rfc3339(entity.last_update_time),
            "namespace_id": "root",
        }

    async def describe_group(self, group: Group) -> dict[str, Any]:
        """A group with its alias and parents, as Vault renders it."""
        alias = await self.store.get(GroupAlias, group.alias_id) if group.alias_id else None
        return {
            "id": group.id,
            "name": group.name,
            "type": group.type,
            "policies": list(group.policies) or None,
            "metadata": group.metadata or None,
            "member_entity_ids": list(group.member_entity_ids) or None,
            "member_group_ids": list(group.member_group_ids) or None,
            "parent_group_ids": sorted(await self.store.parents_of(group.id)) or None,
            "alias": self.describe_group_alias(alias, nested=True) if alias else {},
            "creation_time": rfc3339(group.creation_time),
            "last_update_time": rfc3339(group.last_update_time),
            "modify_index": group.modify_index,
            "namespace_id": "root",
        }
