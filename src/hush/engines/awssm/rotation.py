"""RotateSecret and CancelRotateSecret for the ``awssm`` engine (scheduling: core.rotation)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hush.core.errors import Unsupported
from hush.core.rotation.due import DueEntry, DueIndex
from hush.engines.awssm.env import ActionEnv, Body
from hush.engines.awssm.store import SecretStore

__all__ = ["RotationRunner"]


class RotationRunner:
    """Runs the four rotation steps for secrets of one mount."""

    def __init__(self, store: SecretStore, due: DueIndex, env: Callable[..., ActionEnv]) -> None:
        self._store = store
        self._due = due
        self._env = env

    async def rotate_secret(
        self, env: ActionEnv, secret_id: str, name: str, body: Body
    ) -> dict[str, Any]:
        """RotateSecret."""
        raise Unsupported("RotateSecret is not supported yet")

    async def cancel_rotate_secret(
        self, env: ActionEnv, secret_id: str, name: str, body: Body
    ) -> dict[str, Any]:
        """CancelRotateSecret."""
        raise Unsupported("CancelRotateSecret is not supported yet")

    async def run_due(self, entry: DueEntry, now: float) -> None:
        """Run one due rotation."""
        await self._due.cancel(entry)
