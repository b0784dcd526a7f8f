"""The one plug-in point: engines and auth methods register a factory under their type name."""

from __future__ import annotations

from collections.abc import Callable

from hush.framework.backend import Backend, BackendContext

__all__ = ["BackendFactory", "Registry"]

BackendFactory = Callable[[BackendContext], Backend]


class Registry:
    """Type name → factory, for one kind of plug-in (secrets engines or auth methods)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._factories: dict[str, BackendFactory] = {}

    def register(self, type_name: str, factory: BackendFactory) -> None:
        """Register ``factory`` for ``type_name``; a second registration is a programming error."""
        if type_name in self._factories:
            raise ValueError(f"{self.kind} type {type_name!r} registered twice")
        self._factories[type_name] = factory

    def get(self, type_name: str) -> BackendFactory | None:
        """The factory for ``type_name``, if any."""
        return self._factories.get(type_name)

    def names(self) -> list[str]:
        """Registered type names, sorted."""
        return sorted(self._factories)
