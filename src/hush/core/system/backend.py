"""The system backend mounted at ``sys/``: seal lifecycle, keys, mounts, specs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from hush.barrier.view import StorageView
from hush.core.system.keys import KeyOperations
from hush.core.system.mounts import mount_paths
from hush.core.system.seal import seal_paths
from hush.framework.backend import Backend, BackendContext
from hush.framework.path import Path

if TYPE_CHECKING:
    from hush.core.core import Core

__all__ = ["SystemBackend"]


class SystemBackend(Backend):
    """``sys/``: always mounted, partly usable while sealed and without a token."""

    type_name = "system"
    synopsis = "System endpoints used for control, policy and debugging."
    unauthenticated: ClassVar[tuple[str, ...]] = (
        "init",
        "seal-status",
        "unseal",
        "health",
        "leader",
        "rekey/*",
        "generate-root/*",
    )

    def __init__(self, core: Core) -> None:
        self._core = core
        self.keys = KeyOperations(core)
        super().__init__(
            BackendContext(
                StorageView(core.barrier, "sys/"), mount_path="sys/", mount_uuid="system"
            )
        )

    def paths(self) -> Sequence[Path]:
        """Every ``sys/`` endpoint, in routing order."""
        return [*seal_paths(self._core), *self.keys.paths(), *mount_paths(self._core)]
