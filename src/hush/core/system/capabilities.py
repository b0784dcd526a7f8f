"""``sys/capabilities``, ``sys/capabilities-self``, ``sys/capabilities-accessor``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hush.core.errors import InvalidRequest, PermissionDenied
from hush.core.request import Request, Response
from hush.core.system.common import ops
from hush.core.tokens import TokenEntry
from hush.crypto import SecretBytes
from hush.framework.fields import Field, FieldData, FieldType
from hush.framework.path import Path

if TYPE_CHECKING:
    from hush.core.core import Core

__all__ = ["capability_paths"]

_PATHS = {
    "paths": Field(FieldType.COMMA_STRING_LIST, "Paths to report capabilities on."),
    "path": Field(FieldType.COMMA_STRING_LIST, "Deprecated alias of paths."),
}


def capability_paths(core: Core) -> list[Path]:
    """The capability-report endpoints of the system backend."""

    async def report(entry: TokenEntry, fields: FieldData) -> Response:
        paths = fields.strings("paths") or fields.strings("path")
        if not paths:
            raise InvalidRequest('"paths" must be given')
        acl = await core.acl_for(entry)
        data: dict[str, Any] = {p: acl.capabilities(p.lstrip("/")) for p in paths}
        if len(paths) == 1:
            data["capabilities"] = data[paths[0]]
        return Response(data=data, flatten=True)

    async def for_token(request: Request, fields: FieldData) -> Response:
        """Capabilities of a given token on paths."""
        token = fields.string("token")
        if not token:
            raise InvalidRequest('"token" must be given')
        entry = await core.tokens.lookup(SecretBytes(token.encode()))
        if entry is None:
            raise InvalidRequest("invalid token")
        return await report(entry, fields)

    async def for_self(request: Request, fields: FieldData) -> Response:
        """Capabilities of the calling token on paths."""
        if request.token_entry is None:
            raise PermissionDenied
        return await report(request.token_entry, fields)

    async def for_accessor(request: Request, fields: FieldData) -> Response:
        """Capabilities of the token an accessor names."""
        entry = await core.tokens.lookup_accessor(fields.string("accessor"))
        if entry is None:
            raise InvalidRequest("invalid accessor")
        return await report(entry, fields)

    return [
        Path(
            "capabilities",
            "Capabilities of a token on paths.",
            ops(update=for_token),
            fields={**_PATHS, "token": Field(FieldType.STRING, "The token.", sensitive=True)},
        ),
        Path(
            "capabilities-self",
            "Capabilities of the calling token on paths.",
            ops(update=for_self),
            fields=_PATHS,
        ),
        Path(
            "capabilities-accessor",
            "Capabilities of a token, by accessor, on paths.",
            ops(update=for_accessor),
            fields={**_PATHS, "accessor": Field(FieldType.STRING, "Token accessor.")},
        ),
    ]
