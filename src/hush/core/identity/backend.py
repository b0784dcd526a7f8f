"""The identity backend mounted at ``identity/``, always present like Vault's."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from hush.barrier.view import StorageView
from hush.core.identity.alias_paths import alias_paths
from hush.core.identity.entity_paths import entity_paths
from hush.core.identity.group_alias_paths import group_alias_paths
from hush.core.identity.group_paths import group_paths
from hush.core.identity.lookup_paths import lookup_paths
from hush.core.identity.resolve import IdentityResolver
from hush.core.identity.service import IdentityService
from hush.core.identity.store import IdentityStore
from hush.core.mounts import MountEntry
from hush.framework.backend import Backend, BackendContext
from hush.framework.path import Path

__all__ = ["IdentityBackend"]


class IdentityBackend(Backend):
    """Entities, entity aliases, groups, group aliases and lookups."""

    type_name = "identity"
    synopsis = "Identity store: entities, aliases and groups shared by every auth method."

    def __init__(
        self,
        view: StorageView,
        store: IdentityStore,
        resolver: IdentityResolver,
        auth_mounts: Callable[[], Iterable[MountEntry]],
    ) -> None:
        self.service = IdentityService(store, resolver, auth_mounts)
        super().__init__(BackendContext(view, mount_path="identity/", mount_uuid="identity"))

    def paths(self) -> Sequence[Path]:
        """Every ``identity/`` endpoint."""
        return [
            *entity_paths(self.service),
            *alias_paths(self.service),
            *group_paths(self.service),
            *group_alias_paths(self.service),
            *lookup_paths(self.service),
        ]
