"""KMS keys on a transit mount: create, list, describe (also by alias), description, public key
and tags (``kms/keys``, ``kms/keys/<id>``, ``.../tags``, ``.../untag``, ``.../public-key``,
``kms/describe/<reference>``); the key lifecycle is :mod:`hush.engines.transit.kms_state_paths`.

Responses use AWS KMS's member names, so the AWS front end passes them through. The transit key of
the same name holds the material.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import Any, Final

from hush.core.errors import InvalidRequest
from hush.core.request import Operation, Request, Response
from hush.engines.transit import kms_crypto
from hush.engines.transit.keys import KeyPolicy
from hush.engines.transit.kms_common import KEY_ID, KEY_ID_FIELD, KmsSettings, encode_blob
from hush.engines.transit.kms_errors import (
    InvalidMarker,
    KeyNotFound,
    UnsupportedOperation,
)
from hush.engines.transit.kms_model import (
    KmsKey,
    check_tags,
    new_key_settings,
)
from hush.engines.transit.store import generate_version
from hush.framework.fields import Field, FieldData, FieldType
from hush.framework.path import OperationSpec, Path

__all__ = ["AWS_MANAGED_SERVICES", "KmsKeyPaths"]

#: Services whose ``alias/aws/<service>`` key is created on first use, as AWS does.
AWS_MANAGED_SERVICES: Final = frozenset({"ssm", "secretsmanager", "ebs", "s3", "lambda", "rds"})
_MAX_DESCRIPTION: Final = 8192


def _limit(fields: FieldData, maximum: int = 1000) -> int:
    limit = fields.integer("Limit") if fields.has("Limit") else 100
    if not 1 <= limit <= maximum:
        raise InvalidRequest(
            "1 validation error detected: Value at 'limit' failed to satisfy constraint: "
            f"Member must have value between 1 and {maximum}"
        )
    return limit


def page(items: Sequence[str], fields: FieldData) -> tuple[list[str], str]:
    """AWS's Limit/Marker paging over sorted names; the marker is the next name to return."""
    limit = _limit(fields)
    start = 0
    if fields.string("Marker"):
        marker = fields.string("Marker")
        if marker not in items:
            raise InvalidMarker("Invalid marker")
        start = items.index(marker)
    chunk = list(items[start : start + limit])
    following = items[start + limit] if start + limit < len(items) else ""
    return chunk, following


_PAGE_FIELDS: Final = {
    "Limit": Field(FieldType.INT, "Maximum number of items to return (1-1000)."),
    "Marker": Field(FieldType.STRING, "NextMarker of the previous page."),
}


class KmsKeyPaths:
    """The key management endpoints of the KMS layer."""

    def __init__(self, settings: KmsSettings) -> None:
        self.settings = settings
        self.store = settings.store

    def paths(self) -> list[Path]:
        """The declared paths (KMS actions in parentheses in each synopsis)."""
        key_fields = {"KeyId": KEY_ID_FIELD}
        return [
            Path(
                r"kms/keys",
                "KMS keys of this mount (ListKeys, CreateKey).",
                {
                    Operation.LIST: OperationSpec(self.list_keys, "List KMS keys."),
                    Operation.UPDATE: OperationSpec(self.create_key, "Create a KMS key."),
                },
                fields={
                    **_PAGE_FIELDS,
                    "KeySpec": Field(FieldType.STRING, "Key spec.", default="SYMMETRIC_DEFAULT"),
                    "CustomerMasterKeySpec": Field(FieldType.STRING, "Deprecated KeySpec."),
                    "KeyUsage": Field(FieldType.STRING, "Key usage.", default="ENCRYPT_DECRYPT"),
                    "Description": Field(FieldType.STRING, "Description.", default=""),
                    "Tags": Field(FieldType.RAW, "TagKey/TagValue list."),
                    "Origin": Field(FieldType.STRING, "Only AWS_KMS.", default="AWS_KMS"),
                    "MultiRegion": Field(FieldType.BOOL, "Only false.", default=False),
                    "Policy": Field(FieldType.STRING, "Key policy (not supported, ignored)."),
                    "BypassPolicyLockoutSafetyCheck": Field(FieldType.BOOL, "Ignored."),
                },
            ),
            Path(
                rf"kms/keys/{KEY_ID}",
                "One KMS key (DescribeKey, UpdateKeyDescription).",
                {
                    Operation.READ: OperationSpec(self.describe, "Describe the key."),
                    Operation.UPDATE: OperationSpec(self.update_description, "Set description."),
                },
                fields={**key_fields, "Description": Field(FieldType.STRING, "Description.")},
            ),
            Path(
                rf"kms/keys/{KEY_ID}/tags",
                "Key tags (ListResourceTags, TagResource).",
                {
                    Operation.READ: OperationSpec(self.list_tags, "List tags."),
                    Operation.UPDATE: OperationSpec(self.tag, "Add or replace tags."),
                },
                fields={**key_fields, "Tags": Field(FieldType.RAW, "TagKey/TagValue list.")},
            ),
            Path(
                rf"kms/keys/{KEY_ID}/untag",
                "Remove tags (UntagResource).",
                {Operation.UPDATE: OperationSpec(self.untag, "Remove tags.")},
                fields={**key_fields, "TagKeys": Field(FieldType.STRING_LIST, "Tag keys.")},
            ),
            Path(
                rf"kms/keys/{KEY_ID}/public-key",
                "The public half of an asymmetric key (GetPublicKey).",
                {Operation.READ: OperationSpec(self.public_key, "Public key.")},
                fields=key_fields,
            ),
            Path(
                r"kms/describe/(?P<KeyRef>.+)",
                "Describe a key named by id, key ARN, alias or alias ARN (DescribeKey).",
                {Operation.READ: OperationSpec(self.describe_reference, "Describe a key.")},
                fields={"KeyRef": Field(FieldType.STRING, "Key id, ARN, alias or alias ARN.")},
            ),
        ]

    # ---- create, list, describe ---------------------------------------------------------------

    async def create_key(self, request: Request, fields: FieldData) -> Response:
        """CreateKey."""
        spec_name = fields.string("CustomerMasterKeySpec") or fields.string("KeySpec")
        usage = fields.string("KeyUsage")
        spec = new_key_settings(spec_name, usage)
        if fields.string("Origin") != "AWS_KMS":
            raise UnsupportedOperation("Only Origin AWS_KMS is supported by Hush")
        if fields.boolean("MultiRegion"):
            raise UnsupportedOperation("Multi-Region keys are not supported by Hush")
        description = fields.string("Description")
        if len(description) > _MAX_DESCRIPTION:
            raise InvalidRequest("Description must be at most 8192 characters")
        tags = check_tags(fields.raw("Tags")) if fields.has("Tags") else {}
        key = KmsKey(str(uuid.uuid4()), spec.name, usage, time.time(), description, tags=tags)
        await self._create(key)
        return Response(data={"KeyMetadata": self.settings.metadata(key)})

    async def _create(self, key: KmsKey) -> None:
        spec = key.key_spec
        first = await generate_version(spec.transit_type, spec.key_size)
        settings: dict[str, Any] = {"key_size": spec.key_size} if spec.key_size else {}
        policy = KeyPolicy.create(key.key_id, spec.transit_type, first, **settings)
        await self.store.create(key, policy)

    async def list_keys(self, request: Request, fields: FieldData) -> Response:
        """ListKeys, paged by Limit/Marker."""
        chunk, following = page(await self.store.ids(), fields)
        data: dict[str, Any] = {
            "Keys": [{"KeyId": k, "KeyArn": self._arn(k)} for k in chunk],
            "Truncated": bool(following),
        }
        if following:
            data["NextMarker"] = following
        return Response(data=data)

    def _arn(self, key_id: str) -> str:
        return f"arn:aws:kms:{self.settings.region}:{self.settings.account}:key/{key_id}"

    async def describe(self, request: Request, fields: FieldData) -> Response:
        """DescribeKey by key id."""
        key = await self.store.require(fields.string("KeyId"))
        return Response(data={"KeyMetadata": self.settings.metadata(key)})

    async def describe_reference(self, request: Request, fields: FieldData) -> Response:
        """DescribeKey by any reference; ``alias/aws/<service>`` is created on first use."""
        reference = fields.string("KeyRef")
        try:
            key = await self.store.resolve(reference)
        except KeyNotFound:
            key = await self._aws_managed(reference)
        return Response(data={"KeyMetadata": self.settings.metadata(key)})

    async def _aws_managed(self, reference: str) -> KmsKey:
        service = reference.split("alias/aws/", 1)[1] if "alias/aws/" in reference else ""
        if service not in AWS_MANAGED_SERVICES:
            raise KeyNotFound(f"Alias {reference[:256]} is not found.")
        alias = f"alias/aws/{service}"
        async with self.store.keys.lock(alias):
            target = await self.store.alias_target(alias)
            if target is not None:
                return await self.store.require(target)
            key = KmsKey(
                str(uuid.uuid4()),
                "SYMMETRIC_DEFAULT",
                "ENCRYPT_DECRYPT",
                time.time(),
                f"Default key that protects my {service.upper()} data when no other key is defined",
                manager="AWS",
            )
            await self._create(key)
            await self.store.put_alias(alias, key.key_id)
            return key

    async def update_description(self, request: Request, fields: FieldData) -> None:
        """UpdateKeyDescription."""
        description = fields.string("Description")
        if len(description) > _MAX_DESCRIPTION:
            raise InvalidRequest("Description must be at most 8192 characters")
        await self.store.change(
            fields.string("KeyId"), lambda k: k.replace(description=description)
        )

    async def public_key(self, request: Request, fields: FieldData) -> Response:
        """GetPublicKey: DER SubjectPublicKeyInfo of an asymmetric key."""
        key = await self.store.require(fields.string("KeyId"))
        key.require_usable()
        if not key.key_spec.transit_type.is_asymmetric:
            raise UnsupportedOperation(
                f"{self._arn(key.key_id)} key usage is not valid for this operation."
            )
        der = kms_crypto.public_key_der(await self.store.material(key))
        return Response(
            data={
                "KeyId": self._arn(key.key_id),
                "PublicKey": encode_blob(der),
                "CustomerMasterKeySpec": key.spec,
                "KeySpec": key.spec,
                "KeyUsage": key.usage,
                **key.key_spec.algorithms(key.usage),
            }
        )

    # ---- tags ---------------------------------------------------------------------------------

    async def list_tags(self, request: Request, fields: FieldData) -> Response:
        """ListResourceTags (all tags on one page)."""
        key = await self.store.require(fields.string("KeyId"))
        tags = [{"TagKey": k, "TagValue": v} for k, v in sorted(key.tags.items())]
        return Response(data={"Tags": tags, "Truncated": False})

    async def tag(self, request: Request, fields: FieldData) -> None:
        """TagResource (existing keys get the new value)."""
        new = check_tags(fields.raw("Tags"))
        await self.store.change(
            fields.string("KeyId"),
            lambda k: k.replace(tags=check_tags(_as_list({**k.tags, **new}))),
        )

    async def untag(self, request: Request, fields: FieldData) -> None:
        """UntagResource."""
        drop = set(fields.strings("TagKeys"))
        await self.store.change(
            fields.string("KeyId"),
            lambda k: k.replace(tags={t: v for t, v in k.tags.items() if t not in drop}),
        )


def _as_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"TagKey": k, "TagValue": v} for k, v in tags.items()]
