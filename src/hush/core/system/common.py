"""Helpers shared by the system backend's path modules."""

from __future__ import annotations

from hush import __version__
from hush.framework.path import ops

__all__ = ["VAULT_API_VERSION", "ops", "version_string"]

# The Vault API level Hush follows; build metadata names Hush's own version.
VAULT_API_VERSION = "1.15.0"


def version_string() -> str:
    """The ``version`` reported by status endpoints (semver build metadata keeps comparisons)."""
    return f"{VAULT_API_VERSION}+hush.{__version__}"
