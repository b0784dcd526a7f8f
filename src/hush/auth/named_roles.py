"""Named roles in a mount's storage and their ``role/`` + ``role/:name`` endpoints.

The jwt/oidc and kubernetes methods keep roles the same way: one JSON document per role at
``role/<lowercase name>``, listed, read, deleted and written (create or partial update) through
two declared paths. Each method supplies its role type (how it is stored and rendered), its field
declarations and the function that applies a write to the current role.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final, Generic, Protocol, Self, TypeVar

from hush.barrier.view import LogicalStorage
from hush.core.request import Operation, Request, Response
from hush.framework.fields import Field, FieldData
from hush.framework.path import OperationSpec, Path

__all__ = ["ROLE_NAME", "NamedRole", "RolePaths", "RoleStore", "RoleWriter"]

ROLE_PREFIX: Final = "role/"
#: Vault's role-name pattern for these methods: word characters, '.', '-', not at the ends.
ROLE_NAME: Final = r"(?P<name>\w(?:[\w.-]*\w)?)"


class NamedRole(Protocol):
    """What a stored role must offer."""

    @property
    def name(self) -> str:
        """The role's (lowercase) name."""

    def to_bytes(self) -> bytes:
        """The storage form."""

    @classmethod
    def from_bytes(cls, blob: bytes) -> Self:
        """The inverse of :meth:`to_bytes`."""

    def render(self) -> dict[str, Any]:
        """A read of the role, in Vault's shape."""


R = TypeVar("R", bound=NamedRole)

#: Applies a write to the current role (``None``: a new role named ``name``); returns the role
#: to store and the warnings for the caller, or raises ``InvalidRequest``.
RoleWriter = Callable[[R | None, str, FieldData], Awaitable[tuple[R, list[str]]]]


class RoleStore(Generic[R]):
    """Roles of one type at ``role/<name>`` in a mount's storage."""

    def __init__(self, storage: LogicalStorage, role_type: type[R]) -> None:
        self._storage = storage
        self._type = role_type

    async def get(self, name: str) -> R | None:
        """The role ``name`` (names are lowercase)."""
        blob = await self._storage.get(ROLE_PREFIX + name.lower())
        return self._type.from_bytes(blob) if blob is not None else None

    async def put(self, role: R) -> None:
        """Store ``role``."""
        await self._storage.put(ROLE_PREFIX + role.name, role.to_bytes())

    async def delete(self, name: str) -> None:
        """Delete the role ``name``."""
        await self._storage.delete(ROLE_PREFIX + name.lower())

    async def names(self) -> list[str]:
        """Every role name, sorted."""
        return sorted(await self._storage.list(ROLE_PREFIX))


class RolePaths(Generic[R]):
    """``role/`` (LIST) and ``role/:name`` (create, read, update, delete)."""

    def __init__(
        self, store: RoleStore[R], fields: Mapping[str, Field], writer: RoleWriter[R]
    ) -> None:
        self.store = store
        self.fields = fields
        self.writer = writer

    def paths(self) -> list[Path]:
        """Declared endpoints."""
        return [
            Path(
                "role/?",
                "Lists all the roles registered with the backend.",
                {Operation.LIST: OperationSpec(self._list, "List roles.")},
            ),
            Path(
                f"role/{ROLE_NAME}",
                "Register a role with the backend.",
                {
                    Operation.CREATE: OperationSpec(self._write, "Create a role."),
                    Operation.UPDATE: OperationSpec(self._write, "Update a role."),
                    Operation.READ: OperationSpec(self._read, "Read a role."),
                    Operation.DELETE: OperationSpec(self._delete, "Delete a role."),
                },
                self.fields,
                exists=self._exists,
            ),
        ]

    async def _exists(self, request: Request, fields: FieldData) -> bool:
        return await self.store.get(fields.string("name")) is not None

    async def _list(self, request: Request, fields: FieldData) -> Response | None:
        names = await self.store.names()
        return Response(data={"keys": names}) if names else None

    async def _read(self, request: Request, fields: FieldData) -> Response | None:
        role = await self.store.get(fields.string("name"))
        return Response(data=role.render()) if role is not None else None

    async def _delete(self, request: Request, fields: FieldData) -> None:
        await self.store.delete(fields.string("name"))

    async def _write(self, request: Request, fields: FieldData) -> Response | None:
        name = fields.string("name").lower()
        role, warnings = await self.writer(await self.store.get(name), name, fields)
        await self.store.put(role)
        return Response(warnings=warnings) if warnings else None
