"""The database engine sizes credentials with the TTLs the expiration manager will grant."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hush.barrier.view import StorageView
from hush.core.expiration.limits import LeaseLimits
from hush.engines.database import DatabaseBackend
from hush.framework.backend import BackendContext
from hush.storage.memory import MemoryStorage


class _System:
    """A system view whose server config caps leases at 10 minutes (max_lease_ttl = 10m)."""

    async def generate_password(self, policy_name: str) -> str:
        raise AssertionError("not used")

    def lease_ttls(self, config: Mapping[str, Any]) -> tuple[int, int]:
        limits = LeaseLimits.for_mount(config, system_default=300, system_max=600)
        return limits.default_ttl, limits.max_ttl


def _backend(config: dict[str, Any], system: _System | None) -> DatabaseBackend:
    storage = StorageView(MemoryStorage(), "logical/test/")  # type: ignore[arg-type]
    return DatabaseBackend(
        BackendContext(storage, "database/", "test", config=config, system=system)
    )


def test_mount_ttls_follow_the_system_limits() -> None:
    assert _backend({}, _System()).mount_ttls() == (300, 600)
    # A mount tune above the system max is cut to it; below it wins.
    assert _backend({"max_lease_ttl": 7200}, _System()).mount_ttls() == (300, 600)
    tuned = {"default_lease_ttl": 60, "max_lease_ttl": 120}
    assert _backend(tuned, _System()).mount_ttls() == (60, 120)


def test_mount_ttls_without_a_core_use_vaults_defaults() -> None:
    assert _backend({}, None).mount_ttls() == (768 * 3600, 768 * 3600)
