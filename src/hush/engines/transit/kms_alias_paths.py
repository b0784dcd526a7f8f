"""KMS aliases on a transit mount: ``kms/aliases`` (ListAliases) and ``kms/aliases/<name>``
(CreateAlias, UpdateAlias, DeleteAlias)."""

from __future__ import annotations

from typing import Any

from hush.core.errors import InvalidRequest
from hush.core.request import Operation, Request, Response
from hush.engines.transit.kms_common import KmsSettings
from hush.engines.transit.kms_errors import AliasExists, KeyNotFound
from hush.engines.transit.kms_key_paths import page
from hush.engines.transit.kms_model import alias_arn, check_alias_name
from hush.framework.fields import Field, FieldData, FieldType
from hush.framework.path import OperationSpec, Path

__all__ = ["KmsAliasPaths"]


class KmsAliasPaths:
    """The alias endpoints of the KMS layer."""

    def __init__(self, settings: KmsSettings) -> None:
        self.settings = settings
        self.store = settings.store

    def paths(self) -> list[Path]:
        """The declared paths."""
        return [
            Path(
                r"kms/aliases",
                "Aliases of this mount's KMS keys (ListAliases).",
                {Operation.LIST: OperationSpec(self.list_aliases, "List aliases.")},
                fields={
                    "KeyId": Field(FieldType.STRING, "Only aliases of this key id."),
                    "Limit": Field(FieldType.INT, "Maximum number of aliases (1-100)."),
                    "Marker": Field(FieldType.STRING, "NextMarker of the previous page."),
                },
            ),
            Path(
                r"kms/aliases/(?P<AliasName>alias/.*)",
                "One alias (CreateAlias, UpdateAlias, DeleteAlias).",
                {
                    Operation.UPDATE: OperationSpec(self.write_alias, "Create or move an alias."),
                    Operation.DELETE: OperationSpec(self.delete_alias, "Delete an alias."),
                },
                fields={
                    "AliasName": Field(FieldType.STRING, "alias/<name>."),
                    "TargetKeyId": Field(FieldType.STRING, "Key id the alias points to."),
                    "Overwrite": Field(
                        FieldType.BOOL, "true: UpdateAlias (must exist); false: CreateAlias.", False
                    ),
                },
            ),
        ]

    async def list_aliases(self, request: Request, fields: FieldData) -> Response:
        """ListAliases, optionally for one key id, paged by Limit/Marker."""
        aliases = await self.store.aliases()
        wanted = fields.string("KeyId")
        if wanted:
            key = await self.store.resolve(wanted)
            aliases = {n: t for n, t in aliases.items() if t == key.key_id}
        chunk, following = page(sorted(aliases), fields)
        region, account = self.settings.region, self.settings.account
        data: dict[str, Any] = {
            "Aliases": [
                {
                    "AliasName": name,
                    "AliasArn": alias_arn(region, account, name),
                    "TargetKeyId": aliases[name],
                }
                for name in chunk
            ],
            "Truncated": bool(following),
        }
        if following:
            data["NextMarker"] = following
        return Response(data=data)

    async def write_alias(self, request: Request, fields: FieldData) -> None:
        """CreateAlias (``Overwrite`` false) or UpdateAlias (``Overwrite`` true)."""
        alias = check_alias_name(fields.string("AliasName"))
        target = await self.store.resolve(fields.string("TargetKeyId"))
        target.require_not_pending_deletion()
        async with self.store.keys.lock(alias):
            current = await self.store.alias_target(alias)
            if fields.boolean("Overwrite"):
                if current is None:
                    raise KeyNotFound(f"Alias {alias} is not found.")
                old = await self.store.require(current)
                if old.usage != target.usage or old.spec != target.spec:
                    raise InvalidRequest(
                        "The new target key must have the same key spec and key usage"
                    )
            elif current is not None:
                arn = alias_arn(self.settings.region, self.settings.account, alias)
                raise AliasExists(f"An alias with the name {arn} already exists")
            await self.store.put_alias(alias, target.key_id)

    async def delete_alias(self, request: Request, fields: FieldData) -> None:
        """DeleteAlias."""
        alias = check_alias_name(fields.string("AliasName"), creating=False)
        async with self.store.keys.lock(alias):
            if await self.store.alias_target(alias) is None:
                raise KeyNotFound(f"Alias {alias} is not found.")
            await self.store.delete_alias(alias)
