"""Built-in secrets engines; :func:`register_builtin_engines` adds them to a registry."""

from __future__ import annotations

from hush.engines.awssm import AwssmBackend
from hush.engines.database import DatabaseBackend
from hush.engines.kv import KVv2Backend, kv_backend
from hush.engines.ssm import SsmBackend
from hush.engines.totp import TotpBackend
from hush.engines.transit import TransitBackend
from hush.framework.registry import Registry

__all__ = ["register_builtin_engines"]


def register_builtin_engines(registry: Registry) -> None:
    """Register every engine shipped with Hush."""
    registry.register("kv", kv_backend)
    # Vault's shorthand type; sys/mounts normalises it to kv with version 2, so this only serves
    # callers that bypass that normalisation.
    registry.register("kv-v2", KVv2Backend)
    registry.register("transit", TransitBackend)
    registry.register("database", DatabaseBackend)
    registry.register("awssm", AwssmBackend)
    registry.register("ssm", SsmBackend)
    registry.register("totp", TotpBackend)
