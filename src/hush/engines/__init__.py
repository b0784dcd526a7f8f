"""Built-in secrets engines; :func:`register_builtin_engines` adds them to a registry."""

from __future__ import annotations

from hush.engines.kv.v1 import KVv1Backend
from hush.framework.registry import Registry

__all__ = ["register_builtin_engines"]


def register_builtin_engines(registry: Registry) -> None:
    """Register every engine shipped with Hush."""
    registry.register("kv", KVv1Backend)
