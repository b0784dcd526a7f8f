"""``sys/revoke-prefix/<prefix>``: revoke every token created under a path prefix (sudo).

Vault's older name of ``sys/leases/revoke-prefix``; in Hush it revokes the tokens (with their
children) that logins or token creation under ``prefix`` minted, e.g. ``auth/userpass/``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hush.core.errors import InvalidRequest
from hush.core.request import Request
from hush.core.system.common import ops
from hush.framework.fields import Field, FieldData, FieldType
from hush.framework.path import Path

if TYPE_CHECKING:
    from hush.core.core import Core

__all__ = ["revoke_prefix_paths"]


def revoke_prefix_paths(core: Core) -> list[Path]:
    """The revoke-prefix endpoint of the system backend."""

    async def revoke_prefix(request: Request, fields: FieldData) -> None:
        """Revoke the tokens created under a prefix, and their children."""
        prefix = fields.string("prefix").strip("/")
        if not prefix or any(s in (".", "..") for s in prefix.split("/")):
            raise InvalidRequest("a non-empty prefix without '.' or '..' segments is required")
        await core.tokens.revoke_prefix(prefix)

    return [
        Path(
            "revoke-prefix/(?P<prefix>.+)",
            "Revoke every token created under a path prefix.",
            ops(update=revoke_prefix),
            fields={"prefix": Field(FieldType.STRING, "Path prefix, e.g. auth/userpass/.")},
        )
    ]
