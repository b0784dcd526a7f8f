"""``sys/wrapping/wrap|unwrap|lookup|rewrap``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hush.core import wrapping
from hush.core.errors import InvalidRequest
from hush.core.request import Request, Response
from hush.core.system.common import ops
from hush.framework.fields import Field, FieldData, FieldType
from hush.framework.path import Path

if TYPE_CHECKING:
    from hush.core.core import Core

__all__ = ["wrapping_paths"]

_TOKEN = {"token": Field(FieldType.STRING, "The wrapping token.", sensitive=True)}


def _token(request: Request, fields: FieldData) -> str:
    # Vault: the wrapping token comes in the body, or else as the request's own token.
    if fields.string("token"):
        return fields.string("token")
    return request.client_token.reveal().decode() if request.client_token else ""


def wrapping_paths(core: Core) -> list[Path]:
    """Response-wrapping endpoints of the system backend."""

    async def wrap(request: Request, fields: FieldData) -> Response:
        """Wrap arbitrary data (the request body) in a single-use token."""
        if request.wrap_ttl is None:
            raise InvalidRequest("sys/wrapping/wrap needs the X-Vault-Wrap-TTL header")
        if not request.data:
            raise InvalidRequest("missing data to wrap")
        return Response(data=dict(request.data))

    async def unwrap(request: Request, fields: FieldData) -> Response:
        """Return a wrapped response; the wrapping token is destroyed."""
        stored = await wrapping.unwrap(core, _token(request, fields))
        return Response(
            data=stored.get("data"),
            auth=stored.get("auth"),
            warnings=list(stored.get("warnings") or []),
            lease_id=str(stored.get("lease_id", "")),
            lease_duration=int(stored.get("lease_duration", 0)),
            renewable=bool(stored.get("renewable", False)),
        )

    async def lookup(request: Request, fields: FieldData) -> Response:
        """Creation facts of a wrapping token."""
        return Response(data=await wrapping.lookup(core, _token(request, fields)))

    async def rewrap(request: Request, fields: FieldData) -> Response:
        """Move a wrapped response to a fresh wrapping token with the same TTL."""
        token = _token(request, fields)
        facts = await wrapping.lookup(core, token)
        stored = await wrapping.unwrap(core, token)
        inner = Response(data=stored.get("data"), auth=stored.get("auth"))
        return await wrapping.wrap(core, request, inner, int(facts["creation_ttl"]))

    return [
        Path(
            "wrapping/wrap",
            "Wrap data in a single-use token.",
            ops(update=wrap),
            arbitrary_input=True,
        ),
        Path(
            "wrapping/unwrap",
            "Unwrap a wrapped response (once).",
            ops(update=unwrap),
            fields=_TOKEN,
        ),
        Path(
            "wrapping/lookup",
            "Look up a wrapping token's facts.",
            ops(update=lookup, read=lookup),
            fields=_TOKEN,
        ),
        Path(
            "wrapping/rewrap",
            "Rewrap a wrapped response in a new token.",
            ops(update=rewrap),
            fields=_TOKEN,
        ),
    ]
