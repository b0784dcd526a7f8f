"""The KV secrets engine: version 1 (unversioned) and version 2 (versioned), one mount type."""

from __future__ import annotations

from hush.engines.kv.v1 import KVv1Backend
from hush.engines.kv.v2 import KVv2Backend
from hush.framework.backend import Backend, BackendContext

__all__ = ["KVv1Backend", "KVv2Backend", "kv_backend"]


def kv_backend(context: BackendContext) -> Backend:
    """The ``kv`` factory: the mount option ``version`` of ``"2"`` selects v2, anything else v1."""
    if context.options.get("version") == "2":
        return KVv2Backend(context)
    return KVv1Backend(context)
