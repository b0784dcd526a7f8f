"""``cubbyhole/``: private storage of each token, destroyed with the token.

Every token sees only its own folder, ``sys/cubbyhole/<token hash>/``; not even root can read
another token's cubbyhole. Response wrapping keeps the wrapped response in the wrapping token's
cubbyhole. Batch tokens have no storage entry and so no cubbyhole (as in Vault).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import orjson

from hush.barrier.view import StorageView
from hush.core.errors import InvalidRequest, PermissionDenied
from hush.core.request import Operation, Request, Response, list_response
from hush.framework.backend import Backend, BackendContext
from hush.framework.fields import Field, FieldData, FieldType
from hush.framework.path import OperationSpec, Path

if TYPE_CHECKING:
    from hush.core.core import Core

__all__ = ["CUBBYHOLE_PREFIX", "CubbyholeBackend"]

CUBBYHOLE_PREFIX = "sys/cubbyhole/"


def _key(path: str) -> str:
    if not path or path.endswith("/") or any(s in ("", ".", "..") for s in path.split("/")):
        raise InvalidRequest("a cubbyhole path must not be empty, end with '/' or hold '..'")
    return path


class CubbyholeBackend(Backend):
    """Per-token key/value storage with KV version 1 semantics."""

    type_name = "cubbyhole"
    synopsis = "Per-token private secret storage."

    def __init__(self, core: Core) -> None:
        self._core = core
        super().__init__(
            BackendContext(
                StorageView(core.barrier, CUBBYHOLE_PREFIX),
                mount_path="cubbyhole/",
                mount_uuid="cubbyhole",
            )
        )

    def view_for(self, token_hash: str) -> StorageView:
        """The cubbyhole of the token with this hash."""
        return StorageView(self._core.barrier, f"{CUBBYHOLE_PREFIX}{token_hash}/")

    def _view(self, request: Request) -> StorageView:
        entry = request.token_entry
        if entry is None:
            raise PermissionDenied
        if entry.type == "batch" or not entry.token_hash:
            raise InvalidRequest("batch tokens have no cubbyhole")
        return self.view_for(entry.token_hash)

    def paths(self) -> Sequence[Path]:
        """One catch-all path, as KV version 1."""
        return [
            Path(
                "(?P<path>.*)",
                "Read, write, list or delete a secret in the caller's cubbyhole.",
                {
                    Operation.READ: OperationSpec(self._read, "Read a secret."),
                    Operation.CREATE: OperationSpec(self._write, "Create a secret."),
                    Operation.UPDATE: OperationSpec(self._write, "Replace a secret."),
                    Operation.DELETE: OperationSpec(self._delete, "Delete a secret."),
                    Operation.LIST: OperationSpec(self._list, "List secrets."),
                },
                fields={"path": Field(FieldType.STRING, "Location of the secret.")},
                arbitrary_input=True,
            )
        ]

    async def _read(self, request: Request, fields: FieldData) -> Response | None:
        blob = await self._view(request).get(_key(fields.string("path")))
        return Response(data=orjson.loads(blob)) if blob is not None else None

    async def _write(self, request: Request, fields: FieldData) -> None:
        if not request.data:
            raise InvalidRequest("missing data fields: a secret needs at least one key")
        await self._view(request).put(_key(fields.string("path")), orjson.dumps(request.data))

    async def _delete(self, request: Request, fields: FieldData) -> None:
        await self._view(request).delete(_key(fields.string("path")))

    async def _list(self, request: Request, fields: FieldData) -> Response:
        prefix = fields.string("path")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        return list_response(await self._view(request).list(prefix))

    async def destroy(self, token_hashes: Sequence[str]) -> None:
        """Delete the cubbyholes of revoked tokens."""
        for token_hash in token_hashes:
            await self.view_for(token_hash).clear()
