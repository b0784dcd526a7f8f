"""Helpers shared by the system backend's path modules."""

from __future__ import annotations

from collections.abc import Mapping

from hush import __version__
from hush.core.request import Operation
from hush.framework.path import Handler, OperationSpec

__all__ = ["VAULT_API_VERSION", "ops", "version_string"]

# The Vault API level Hush follows; build metadata names Hush's own version.
VAULT_API_VERSION = "1.15.0"


def version_string() -> str:
    """The ``version`` reported by status endpoints (semver build metadata keeps comparisons)."""
    return f"{VAULT_API_VERSION}+hush.{__version__}"


def ops(**handlers: Handler) -> Mapping[Operation, OperationSpec]:
    """``ops(read=h1, update=h2)`` → an operations mapping with summaries from the docstrings."""
    return {
        Operation(name): OperationSpec(handler, (handler.__doc__ or "").strip().split("\n")[0])
        for name, handler in handlers.items()
    }
