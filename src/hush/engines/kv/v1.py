"""KV version 1: unversioned key/value secrets (Vault's ``kv`` engine with ``version=1``).

Each secret is one JSON object stored under its path in the mount's storage view (paths checked by
:func:`hush.engines.kv.common.secret_path`, which the v1 → v2 upgrade relies on).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import orjson

from hush.core.errors import InvalidRequest
from hush.core.request import Operation, Request, Response, list_response
from hush.core.ttl import parse_ttl
from hush.engines.kv.common import secret_path
from hush.framework.backend import Backend
from hush.framework.fields import Field, FieldData, FieldType
from hush.framework.path import OperationSpec, Path

__all__ = ["KVv1Backend"]

DEFAULT_LEASE_TTL = 32 * 24 * 3600


class KVv1Backend(Backend):
    """Unversioned secrets: write replaces the whole object; list shows one level."""

    type_name = "kv"
    synopsis = "Key/value secret storage (version 1, unversioned)."

    def paths(self) -> Sequence[Path]:
        """One catch-all path: every sub-path is a secret or a folder."""
        return [
            Path(
                "(?P<path>.*)",
                "Read, write, list or delete a secret.",
                {
                    Operation.READ: OperationSpec(self._read, "Read a secret."),
                    Operation.CREATE: OperationSpec(self._write, "Create a secret."),
                    Operation.UPDATE: OperationSpec(self._write, "Replace a secret."),
                    Operation.DELETE: OperationSpec(self._delete, "Delete a secret."),
                    Operation.LIST: OperationSpec(self._list, "List secrets under a folder."),
                },
                fields={"path": Field(FieldType.STRING, "Location of the secret.")},
                exists=self._exists,
                arbitrary_input=True,
            )
        ]

    async def _exists(self, request: Request, fields: FieldData) -> bool:
        # The path is validated here too: the existence check runs before the handler, and an
        # invalid path (empty, trailing '/', '..') must become the handler's 400, not a crash.
        try:
            path = secret_path(fields.string("path"))
        except InvalidRequest:
            return False
        return await self.storage.get(path) is not None

    async def _read(self, request: Request, fields: FieldData) -> Response | None:
        blob = await self.storage.get(secret_path(fields.string("path")))
        if blob is None:
            return None
        data: dict[str, Any] = orjson.loads(blob)
        ttl = int(self.context.config.get("default_lease_ttl") or DEFAULT_LEASE_TTL)
        if "ttl" in data:
            with contextlib.suppress(ValueError, TypeError):
                ttl = parse_ttl(data["ttl"])
        return Response(data=data, lease_duration=ttl)

    async def _write(self, request: Request, fields: FieldData) -> None:
        key = secret_path(fields.string("path"))
        if not request.data:
            raise InvalidRequest("missing data fields: a secret needs at least one key")
        await self.storage.put(key, orjson.dumps(request.data))

    async def _delete(self, request: Request, fields: FieldData) -> None:
        await self.storage.delete(secret_path(fields.string("path")))

    async def _list(self, request: Request, fields: FieldData) -> Response:
        prefix = fields.string("path")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        return list_response(await self.storage.list(prefix))
