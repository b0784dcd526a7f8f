"""The ``aws`` auth method's endpoints: create, list, read and delete access key pairs.

``auth/aws/keys`` (write) creates a pair bound to policies and answers the secret access key once;
``auth/aws/keys/`` lists ids; ``auth/aws/keys/<id>`` reads (without the secret) or deletes one.
The AWS front end (:mod:`hush.api.aws`) finds a pair with :meth:`AwsAuthBackend.access_key`, checks
the SigV4 signature with its secret and then runs the request as the pair's identity. Deleting a
pair takes effect at once: every request reads the record afresh.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Final

from hush.auth.aws.keys import (
    ACCESS_KEY_ID_RE,
    AccessKey,
    new_access_key_id,
    new_secret_access_key,
    pair_problem,
)
from hush.auth.token_fields import sanitize_policies
from hush.core.errors import InvalidRequest
from hush.core.request import Operation, Request, Response
from hush.crypto import SecretBytes
from hush.framework.backend import Backend
from hush.framework.fields import Field, FieldData, FieldType
from hush.framework.path import OperationSpec, Path

__all__ = ["KEY_PREFIX", "AwsAuthBackend"]

KEY_PREFIX: Final = "key/"
_ID_FIELD: Final = Field(FieldType.STRING, "The access key id (AKIA...).")


class AwsAuthBackend(Backend):
    """Access key pairs bound to policies, verified by the AWS front end with SigV4."""

    type_name = "aws"
    synopsis = "Access key pairs for SigV4-signed AWS API calls (Secrets Manager, SSM, KMS)."

    def paths(self) -> Sequence[Path]:
        """The key management endpoints."""
        return [
            Path(
                "keys/?",
                "Create an access key pair, or list the access key ids.",
                {
                    Operation.UPDATE: OperationSpec(self._create, "Create an access key pair."),
                    Operation.LIST: OperationSpec(self._list, "List access key ids."),
                },
                {
                    "policies": Field(
                        FieldType.COMMA_STRING_LIST, "Policies requests signed with the key get."
                    ),
                    "display_name": Field(FieldType.STRING, "A name shown in audit entries."),
                    "description": Field(FieldType.STRING, "What the key is for."),
                },
                description="The secret access key is returned once, by the create call only.",
            ),
            Path(
                r"keys/(?P<access_key_id>[A-Za-z0-9]+)",
                "Read or delete an access key pair.",
                {
                    Operation.READ: OperationSpec(self._read, "Read a key (never its secret)."),
                    Operation.DELETE: OperationSpec(self._delete, "Delete a key pair."),
                },
                {"access_key_id": _ID_FIELD},
            ),
        ]

    async def access_key(self, access_key_id: str) -> AccessKey | None:
        """The stored pair for ``access_key_id``, or ``None``."""
        if not ACCESS_KEY_ID_RE.fullmatch(access_key_id):
            return None
        blob = await self.storage.get(KEY_PREFIX + access_key_id)
        return AccessKey.from_bytes(blob) if blob is not None else None

    async def create_key(
        self,
        policies: Sequence[str],
        *,
        display_name: str = "",
        description: str = "",
        access_key_id: str | None = None,
        secret_access_key: SecretBytes | None = None,
        allow_root: bool = False,
    ) -> AccessKey:
        """Store a new pair (dev mode fixes id and secret and may bind ``root``)."""
        cleaned = sanitize_policies(policies)
        if "root" in cleaned and not allow_root:
            raise InvalidRequest("access keys cannot be bound to the root policy")
        key_id = access_key_id or new_access_key_id()
        secret = secret_access_key or new_secret_access_key()
        problem = pair_problem(key_id, secret.reveal().decode())
        if problem:
            raise InvalidRequest(problem)
        if await self.storage.get(KEY_PREFIX + key_id) is not None:
            raise InvalidRequest(f"access key {key_id} already exists")
        key = AccessKey(
            access_key_id=key_id,
            secret_access_key=secret,
            policies=cleaned if "root" in cleaned else tuple(sorted({*cleaned, "default"})),
            display_name=display_name or key_id,
            description=description,
            entity_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"hush-aws-key:{key_id}")),
        )
        await self.storage.put(KEY_PREFIX + key_id, key.to_bytes())
        return key

    async def _create(self, request: Request, fields: FieldData) -> Response:
        key = await self.create_key(
            fields.strings("policies"),
            display_name=fields.string("display_name"),
            description=fields.string("description"),
        )
        data = key.render()
        data["secret_access_key"] = key.secret_access_key.reveal().decode()
        return Response(data=data)

    async def _list(self, request: Request, fields: FieldData) -> Response | None:
        ids = sorted(await self.storage.list(KEY_PREFIX))
        return Response(data={"keys": ids}) if ids else None

    async def _read(self, request: Request, fields: FieldData) -> Response | None:
        key = await self.access_key(fields.string("access_key_id"))
        return Response(data=key.render()) if key is not None else None

    async def _delete(self, request: Request, fields: FieldData) -> None:
        key_id = fields.string("access_key_id")
        if ACCESS_KEY_ID_RE.fullmatch(key_id):
            await self.storage.delete(KEY_PREFIX + key_id)
