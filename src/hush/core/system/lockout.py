"""``sys/locked-users`` and ``sys/locked-users/:mount_accessor/unlock/:alias``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hush.core.errors import InvalidRequest
from hush.core.request import Request, Response
from hush.core.system.common import ops
from hush.framework.fields import Field, FieldData, FieldType
from hush.framework.path import Path

if TYPE_CHECKING:
    from hush.core.core import Core

__all__ = ["lockout_paths"]


def lockout_paths(core: Core) -> list[Path]:
    """User-lockout endpoints of the system backend."""

    async def list_locked(request: Request, fields: FieldData) -> Response:
        """Locked users of every auth method, in Vault's shape."""
        wanted = fields.string("mount_accessor")
        mounts: list[dict[str, Any]] = []
        total = 0
        for path, entry in sorted(core.auth_mounts.entries.items()):
            if wanted and entry.accessor != wanted:
                continue
            aliases = await core.auth_mounts.backends[path].locked_users()
            if aliases:
                total += len(aliases)
                mounts.append(
                    {
                        "mount_accessor": entry.accessor,
                        "counts": len(aliases),
                        "aliases": [{**a, "mount_accessor": entry.accessor} for a in aliases],
                    }
                )
        data = {
            "by_namespace": [
                {
                    "namespace_id": "root",
                    "namespace_path": "",
                    "counts": total,
                    "mount_accessors": mounts,
                }
            ]
            if mounts
            else [],
            "total": total,
        }
        return Response(data=data)

    async def unlock(request: Request, fields: FieldData) -> None:
        """Unlock one user of one auth method (by the method's accessor)."""
        accessor = fields.string("mount_accessor")
        for path, entry in core.auth_mounts.entries.items():
            if entry.accessor == accessor:
                await core.auth_mounts.backends[path].unlock(fields.string("alias"))
                return
        raise InvalidRequest(f'no auth method has accessor "{accessor}"')

    return [
        Path(
            "locked-users",
            "Users locked out after failed logins.",
            ops(read=list_locked),
            fields={"mount_accessor": Field(FieldType.STRING, "Only this auth method.")},
        ),
        Path(
            "locked-users/(?P<mount_accessor>[^/]+)/unlock/(?P<alias>.+)",
            "Unlock a locked user.",
            ops(update=unlock),
            fields={
                "mount_accessor": Field(FieldType.STRING, "Accessor of the auth method."),
                "alias": Field(FieldType.STRING, "The user (alias) to unlock."),
            },
        ),
    ]
