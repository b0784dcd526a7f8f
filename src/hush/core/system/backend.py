"""The system backend mounted at ``sys/``: seal lifecycle, keys, mounts, specs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from hush.barrier.view import StorageView
from hush.core.system.audit import audit_paths
from hush.core.system.auth import auth_paths
from hush.core.system.capabilities import capability_paths
from hush.core.system.cluster import cluster_paths
from hush.core.system.keys import KeyOperations
from hush.core.system.leases import lease_paths
from hush.core.system.lockout import lockout_paths
from hush.core.system.mounts import mount_paths
from hush.core.system.observability import observability_paths
from hush.core.system.password_policies import password_policy_paths
from hush.core.system.policies import policy_paths
from hush.core.system.seal import seal_paths
from hush.core.system.snapshot import snapshot_paths
from hush.core.system.wrapping import wrapping_paths
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
        "rekey-recovery-key/*",
        "generate-root/*",
        "internal/ui/mounts",
        "internal/ui/mounts/*",
        "wrapping/lookup",
        "wrapping/unwrap",
    )
    # Vault's root-protected system paths: they need sudo on top of the operation's capability.
    sudo_paths: ClassVar[tuple[str, ...]] = (
        "seal",
        "step-down",
        "rotate",
        "rotate/*",
        "remount",
        "audit",
        "audit/*",
        "raw",
        "raw/*",
        "auth/*",
        "config/*",
        "leases/revoke-prefix/*",
        "leases/revoke-force/*",
        "leases/lookup/*",
        "revoke-prefix/*",
        "revoke-force/*",
        "storage/*",
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
        return [
            *seal_paths(self._core),
            *cluster_paths(self._core),
            *self.keys.paths(),
            *mount_paths(self._core),
            *capability_paths(self._core),
            *password_policy_paths(lambda: self._core.password_policies),
            *policy_paths(lambda: self._core.policies),
            *audit_paths(lambda: self._core.audit),
            *auth_paths(self._core),
            *wrapping_paths(self._core),
            *lease_paths(self._core),
            *lockout_paths(self._core),
            *observability_paths(self._core),
            *snapshot_paths(self._core),
        ]

    def is_unauthenticated(self, mount_path: str) -> bool:
        """As declared, plus ``metrics`` when the listener allows unauthenticated scraping."""
        if mount_path == "metrics" and self._core.unauthenticated_metrics:
            return True
        return super().is_unauthenticated(mount_path)
