"""Changing parameters: PutParameter (``parameter/<name>`` update), DeleteParameter (delete),
Label/UnlabelParameterVersion (``labels/<name>``) and tags (``tags/<name>``).

A SecureString reaches this engine already encrypted: the AWS front end first sends the
PutParameter with ``DryRun`` (every check runs on the clear value, nothing is stored), then
encrypts the value with the KMS key and sends it again with ``Encrypted``. Through the Vault API a
SecureString can only be checked, never stored in clear.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Final

from hush.core.request import Operation, Request, Response
from hush.engines.ssm.common import (
    NAME_FIELD,
    PATH,
    PATH_FIELD,
    SsmSettings,
    requested_name,
    require_path_matches,
    user_arn,
)
from hush.engines.ssm.errors import (
    InvalidResourceId,
    ParameterAlreadyExists,
    ParameterMaxVersionLimitExceeded,
    ParameterNotFound,
    ParameterVersionLabelLimitExceeded,
    ParameterVersionNotFound,
    SsmValidation,
)
from hush.engines.ssm.model import MAX_VERSIONS, SECURE, Parameter, ParameterVersion
from hush.engines.ssm.names import check_name, check_tags, label_problem
from hush.engines.ssm.values import (
    TYPES,
    check_data_type,
    check_pattern,
    check_value,
    parse_policies,
    resolve_tier,
)
from hush.framework.fields import Field, FieldData, FieldType
from hush.framework.path import OperationSpec, Path

__all__ = ["EXPIRE", "NOTIFY_EXPIRY", "NO_CHANGE", "WritePaths"]

EXPIRE: Final = "expire"
NOTIFY_EXPIRY: Final = "expiry-notice"
NO_CHANGE: Final = "no-change"
_MAX_CIPHERTEXT: Final = 65536

PUT_FIELDS: Final = {
    "Name": NAME_FIELD,
    "Path": PATH_FIELD,
    "Value": Field(
        FieldType.STRING, "The value (a SecureString's KMS ciphertext).", sensitive=True
    ),
    "Type": Field(FieldType.STRING, "String, StringList or SecureString."),
    "Description": Field(FieldType.STRING, "Up to 1024 characters."),
    "KeyId": Field(FieldType.STRING, "KMS key of a SecureString, as the caller named it."),
    "Overwrite": Field(FieldType.BOOL, "Replace an existing parameter.", False),
    "AllowedPattern": Field(FieldType.STRING, "Regular expression the value must match."),
    "Tags": Field(FieldType.RAW, "Key/Value list (new parameters only)."),
    "Tier": Field(FieldType.STRING, "Standard, Advanced or Intelligent-Tiering.", ""),
    "Policies": Field(FieldType.STRING, "JSON list of parameter policies.", ""),
    "DataType": Field(FieldType.STRING, "text, aws:ec2:image or aws:ssm:integration.", ""),
    "DryRun": Field(FieldType.BOOL, "Check everything, store nothing.", False),
    "Encrypted": Field(FieldType.BOOL, "Value is the KMS ciphertext of a SecureString.", False),
    "KmsKeyId": Field(FieldType.STRING, "Id of the KMS key that encrypted Value.", ""),
    "ValueLength": Field(FieldType.INT, "Length of the clear value (encrypted puts).", 0),
}


class WritePaths:
    """The endpoints that change parameters."""

    def __init__(self, settings: SsmSettings) -> None:
        self.settings = settings
        self.store = settings.store

    def paths(self) -> list[Path]:
        """``parameter/<name>`` (put, delete), ``labels/<name>``, ``tags/<name>``."""
        return [
            Path(
                rf"labels/{PATH}",
                "Move labels onto a version or remove them (Label/UnlabelParameterVersion).",
                {Operation.UPDATE: OperationSpec(self.label, "Label or unlabel a version.")},
                fields={
                    "Name": NAME_FIELD,
                    "Path": PATH_FIELD,
                    "Labels": Field(FieldType.STRING_LIST, "Labels (1-10)."),
                    "ParameterVersion": Field(FieldType.INT, "Version (default: latest)."),
                    "Remove": Field(FieldType.BOOL, "Unlabel instead of label.", False),
                },
            ),
            Path(
                rf"tags/{PATH}",
                "Parameter tags (ListTagsForResource, Add/RemoveTagsFromResource).",
                {
                    Operation.READ: OperationSpec(self.list_tags, "List tags."),
                    Operation.UPDATE: OperationSpec(self.change_tags, "Add or remove tags."),
                },
                fields={
                    "Name": NAME_FIELD,
                    "Path": PATH_FIELD,
                    "Tags": Field(FieldType.RAW, "Key/Value list to add."),
                    "TagKeys": Field(FieldType.STRING_LIST, "Tag keys to remove."),
                    "Remove": Field(FieldType.BOOL, "Remove TagKeys instead of adding.", False),
                },
            ),
        ]

    # ---- PutParameter -------------------------------------------------------------------------

    async def put(self, request: Request, fields: FieldData) -> Response:
        """PutParameter (or its dry run), serialised per name so versions never collide."""
        async with self.store.lock(check_name(requested_name(fields))):
            return await self._put(request, fields)

    async def _put(self, request: Request, fields: FieldData) -> Response:
        name = check_name(requested_name(fields))
        require_path_matches(fields.string("Path"), name)
        existing = await self.store.get(name)
        overwrite = fields.boolean("Overwrite")
        previous = existing.latest if existing is not None else None
        kind = fields.string("Type") or (previous.type if previous and overwrite else "")
        if not kind:
            raise SsmValidation("A parameter type is required when you create a parameter.")
        if kind not in TYPES:
            raise SsmValidation(
                f"1 validation error detected: Value '{kind[:40]}' at 'type' failed to satisfy "
                "constraint: Member must satisfy enum value set: [SecureString, StringList, String]"
            )
        if overwrite and fields.raw("Tags"):
            raise SsmValidation(
                "Invalid request: tags and overwrite can't be used together. To create a "
                "parameter with tags, please remove overwrite flag. To update tags for an "
                "existing parameter, please use AddTagsToResource or RemoveTagsFromResource."
            )
        if existing is not None and not overwrite:
            raise ParameterAlreadyExists(
                "The parameter already exists. To overwrite this value, set the overwrite "
                "option in the request to true."
            )
        if fields.string("KeyId") and kind != SECURE:
            raise SsmValidation("KeyId can be specified only for SecureString parameters.")
        description = _inherit(fields, "Description", previous.description if previous else "")
        if len(description) > 1024:
            raise SsmValidation("Description must be at most 1024 characters")
        pattern = _inherit(fields, "AllowedPattern", previous.allowed_pattern if previous else "")
        now = time.time()
        policies = parse_policies(fields.string("Policies"), now)
        encrypted = fields.boolean("Encrypted")
        value = fields.string("Value")
        length = fields.integer("ValueLength") if encrypted else len(value)
        tier = resolve_tier(
            fields.string("Tier"), previous.tier if previous else None, length, bool(policies)
        )
        tags = check_tags(fields.raw("Tags"))
        if encrypted:
            if kind != SECURE or not fields.string("KmsKeyId") or len(value) > _MAX_CIPHERTEXT:
                raise SsmValidation("Only a SecureString's KMS ciphertext may be marked Encrypted.")
            check_pattern(pattern, None)
            data_type = check_data_type(fields.string("DataType"), None)
        else:
            check_value(value, tier)
            check_pattern(pattern, value)
            data_type = check_data_type(fields.string("DataType"), value)
        if fields.boolean("DryRun"):
            return Response(data={"Tier": tier, "Type": kind, "ARN": self.settings.arn(name)})
        if kind == SECURE and not encrypted:
            raise SsmValidation(
                "SecureString values are encrypted by the AWS front end: use PutParameter."
            )
        version = ParameterVersion(
            version=(previous.version + 1) if previous else 1,
            value=value,
            type=kind,
            modified=now,
            user=user_arn(request, self.settings.account),
            description=description,
            allowed_pattern=pattern,
            data_type=data_type,
            tier=tier,
            key_id=fields.string("KeyId") or ("alias/aws/ssm" if kind == SECURE else ""),
            kms_key_id=fields.string("KmsKeyId") if kind == SECURE else "",
            policies=policies,
        )
        parameter = _with_version(existing, name, version, tags)
        await self.store.put(parameter)
        await self._schedule(parameter.name, version)
        return Response(data={"Version": version.version, "Tier": tier})

    async def _schedule(self, name: str, version: ParameterVersion) -> None:
        expiration = version.policy("Expiration")
        if expiration is not None:
            await self.settings.due.schedule(expiration.at, EXPIRE, name)
            notice = version.policy("ExpirationNotification")
            if notice is not None:
                await self.settings.due.schedule(expiration.at - notice.offset, NOTIFY_EXPIRY, name)
        no_change = version.policy("NoChangeNotification")
        if no_change is not None:
            await self.settings.due.schedule(version.modified + no_change.offset, NO_CHANGE, name)

    # ---- DeleteParameter ----------------------------------------------------------------------

    async def delete(self, request: Request, fields: FieldData) -> None:
        """DeleteParameter."""
        name = check_name(requested_name(fields))
        require_path_matches(fields.string("Path"), name)
        async with self.store.lock(name):
            if await self.store.get(name) is None:
                raise ParameterNotFound(f"Parameter {name} not found.")
            await self.store.delete(name)

    # ---- labels -------------------------------------------------------------------------------

    async def label(self, request: Request, fields: FieldData) -> Response:
        """LabelParameterVersion, or UnlabelParameterVersion with ``Remove``."""
        async with self.store.lock(check_name(requested_name(fields))):
            return await self._label(request, fields)

    async def _label(self, request: Request, fields: FieldData) -> Response:
        name = check_name(requested_name(fields))
        require_path_matches(fields.string("Path"), name)
        labels = fields.strings("Labels")
        if not 1 <= len(labels) <= 10:
            raise SsmValidation("Labels must contain 1 to 10 labels.")
        parameter = await self.store.get(name)
        if parameter is None:
            raise ParameterNotFound(f"Parameter {name} not found.")
        removing = fields.boolean("Remove")
        if removing and not fields.has("ParameterVersion"):
            raise SsmValidation(
                "1 validation error detected: Value 'null' at 'parameterVersion' failed to "
                "satisfy constraint: Member must not be null"
            )
        number = (
            fields.integer("ParameterVersion")
            if fields.has("ParameterVersion")
            else parameter.latest.version
        )
        target = next((v for v in parameter.versions if v.version == number), None)
        if target is None:
            raise ParameterVersionNotFound(
                f"Systems Manager could not find version {number} of {name}. Verify the version "
                "and try again."
            )
        if removing:
            removed = [label for label in labels if label in target.labels]
            kept = tuple(label for label in target.labels if label not in removed)
            await self.store.put(_relabel(parameter, {number: kept}))
            invalid = [label for label in labels if label not in removed]
            return Response(data={"RemovedLabels": removed, "InvalidLabels": invalid})
        for label in labels:
            if len(label) > 100:
                raise SsmValidation(
                    "1 validation error detected: Value at 'labels' failed to satisfy "
                    "constraint: Member must have length less than or equal to 100"
                )
        invalid = [label for label in labels if label_problem(label)]
        moving = [label for label in labels if label not in invalid]
        combined = tuple(dict.fromkeys([*target.labels, *moving]))
        if len(combined) > 10:
            raise ParameterVersionLabelLimitExceeded(
                "A parameter version can have maximum 10 labels. Move one or more labels to "
                "another version and try again."
            )
        changes = {
            v.version: tuple(label for label in v.labels if label not in moving)
            for v in parameter.versions
        }
        changes[number] = combined
        await self.store.put(_relabel(parameter, changes))
        return Response(data={"InvalidLabels": invalid, "ParameterVersion": number})

    # ---- tags ---------------------------------------------------------------------------------

    async def _tagged(self, fields: FieldData) -> Parameter:
        name = check_name(requested_name(fields))
        require_path_matches(fields.string("Path"), name)
        parameter = await self.store.get(name)
        if parameter is None:
            raise InvalidResourceId("Invalid Resource Id")
        return parameter

    async def list_tags(self, request: Request, fields: FieldData) -> Response:
        """ListTagsForResource."""
        parameter = await self._tagged(fields)
        tags = [{"Key": k, "Value": v} for k, v in sorted(parameter.tags.items())]
        return Response(data={"TagList": tags})

    async def change_tags(self, request: Request, fields: FieldData) -> Response:
        """AddTagsToResource, or RemoveTagsFromResource with ``Remove``."""
        async with self.store.lock(check_name(requested_name(fields))):
            return await self._change_tags(fields)

    async def _change_tags(self, fields: FieldData) -> Response:
        parameter = await self._tagged(fields)
        if fields.boolean("Remove"):
            drop = set(fields.strings("TagKeys"))
            tags = {k: v for k, v in parameter.tags.items() if k not in drop}
        else:
            added = check_tags(fields.raw("Tags"))
            merged = {**parameter.tags, **added}
            tags = check_tags([{"Key": k, "Value": v} for k, v in merged.items()])
        await self.store.put(parameter.replace(tags=tags))
        return Response(data={})


def _inherit(fields: FieldData, member: str, previous: str) -> str:
    # An overwrite that leaves Description/AllowedPattern out keeps the previous one (AWS).
    return fields.string(member) if fields.has(member) else previous


def _with_version(
    existing: Parameter | None, name: str, version: ParameterVersion, tags: dict[str, str]
) -> Parameter:
    if existing is None:
        return Parameter(name, (version,), tags)
    versions = [*existing.versions, version]
    if len(versions) > MAX_VERSIONS:
        oldest = versions[0]
        if oldest.labels:
            raise ParameterMaxVersionLimitExceeded(
                f"You attempted to create a new version of {name} by calling the PutParameter "
                f"API with the overwrite flag. Version {oldest.version}, the oldest version, "
                "can't be deleted because it has a label associated with it. Move the label to "
                "another version of the parameter, and try again."
            )
        versions = versions[1:]
    return existing.replace(versions=tuple(versions))


def _relabel(parameter: Parameter, labels: dict[int, tuple[str, ...]]) -> Parameter:
    versions = tuple(
        dataclasses.replace(v, labels=labels.get(v.version, v.labels)) for v in parameter.versions
    )
    return parameter.replace(versions=versions)
