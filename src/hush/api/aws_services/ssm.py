"""Systems Manager Parameter Store (``AmazonSSM.*`` targets) on an ``ssm`` mount, with
SecureStrings under KMS keys on the ``transit`` mount.

Logical paths use the parameter name without its leading ``/`` (as its ARN does):
``parameter/<name>`` is read by GetParameter, updated by PutParameter and deleted by
DeleteParameter; ``history/``, ``labels/`` and ``tags/<name>``; ``parameters`` (list) for
DescribeParameters; ``by-path/<path>`` (list) for GetParametersByPath.

SecureStrings follow AWS: PutParameter first asks the engine to check the request (``DryRun``),
then encrypts the value with the KMS key named by ``KeyId`` (``alias/aws/ssm`` by default, created
on first use) under the caller's own identity, with the parameter ARN as encryption context, and
stores the ciphertext. Reading ``WithDecryption`` decrypts with the caller's permission on
``transit/kms/decrypt/<key id>``: without it the caller still gets metadata, and
``AccessDeniedException`` for the value, as in AWS. Batch actions (GetParameters,
GetParametersByPath, DeleteParameters) run one logical request per parameter, each authorised and
audited on its own.
"""

from __future__ import annotations

import base64
from typing import Any, Final

from hush.api.aws_services.base import ActionContext, AwsService, LogicalCall, RunCall
from hush.api.aws_services.kms import KMS, resolve_key
from hush.core.errors import HushError
from hush.core.request import Operation
from hush.engines.ssm.errors import (
    InvalidKeyId,
    InvalidResourceId,
    InvalidResourceType,
    SsmValidation,
)
from hush.engines.ssm.names import check_name, check_path, logical_name, parse_selector

__all__ = ["SSM"]

_SECURE: Final = "SecureString"
_DEFAULT_KEY: Final = "alias/aws/ssm"
_KMS_LIMIT: Final = 4096
_ENGINE_MEMBERS: Final = frozenset({"DryRun", "Encrypted", "KmsKeyId", "ValueLength"})
_INTERNAL: Final = ("KmsKeyId",)
_MISSING: Final = frozenset({"ParameterNotFound", "ParameterVersionNotFound"})
_OTHER_RESOURCE_TYPES: Final = frozenset(
    {
        "Document",
        "ManagedInstance",
        "MaintenanceWindow",
        "PatchBaseline",
        "OpsItem",
        "OpsMetadata",
        "Automation",
        "Association",
    }
)


def _on(kind: str, name: str) -> str:
    return f"{kind}/{logical_name(name)}"


def _names(body: dict[str, Any], low: int = 1, high: int = 10) -> list[str]:
    names = body.get("Names")
    if not isinstance(names, list) or not low <= len(names) <= high:
        raise SsmValidation(
            "1 validation error detected: Value at 'names' failed to satisfy constraint: "
            f"Member must have length less than or equal to {high}"
        )
    return list(dict.fromkeys(str(n) for n in names))


async def _open(run: RunCall, item: dict[str, Any], decrypt: bool, arn: str) -> dict[str, Any]:
    """Drop internal members; decrypt a SecureString's value when asked."""
    key_id = item.get("KmsKeyId")
    result = {k: v for k, v in item.items() if k not in _INTERNAL}
    if decrypt and item.get("Type") == _SECURE and key_id:
        opened = await run(
            LogicalCall(
                Operation.UPDATE,
                f"kms/decrypt/{key_id}",
                {"CiphertextBlob": item["Value"], "EncryptionContext": {"PARAMETER_ARN": arn}},
                str(item.get("Name", "*")),
                service=KMS,
            )
        )
        result["Value"] = base64.b64decode(opened["Plaintext"]).decode("utf-8")
    return result


async def _get_one(run: RunCall, reference: str, decrypt: bool) -> dict[str, Any]:
    selector = parse_selector(reference)
    found = await run(
        LogicalCall(Operation.READ, _on("parameter", selector.name), {"Name": reference}, reference)
    )
    parameter = found["Parameter"]
    return await _open(run, parameter, decrypt, parameter["ARN"])


async def _get_parameter(
    body: dict[str, Any], context: ActionContext, run: RunCall
) -> dict[str, Any]:
    """GetParameter."""
    return {
        "Parameter": await _get_one(run, body.get("Name", ""), bool(body.get("WithDecryption")))
    }


async def _get_parameters(
    body: dict[str, Any], context: ActionContext, run: RunCall
) -> dict[str, Any]:
    """GetParameters: missing names and versions are listed in InvalidParameters."""
    found: list[dict[str, Any]] = []
    invalid: list[str] = []
    for reference in _names(body):
        try:
            found.append(await _get_one(run, reference, bool(body.get("WithDecryption"))))
        except HushError as exc:
            if exc.aws_type not in _MISSING:
                raise
            invalid.append(reference)
    return {"Parameters": found, "InvalidParameters": invalid}


async def _by_path(body: dict[str, Any], context: ActionContext, run: RunCall) -> dict[str, Any]:
    """GetParametersByPath: one page of names, then each parameter read on its own."""
    path = check_path(body.get("Path"))
    members = ("Recursive", "ParameterFilters", "MaxResults", "NextToken")
    query: dict[str, Any] = {k: body[k] for k in members if k in body}
    page = await run(LogicalCall(Operation.LIST, "by-path" + path, query, path))
    # With a Label filter AWS returns the labelled version, not the latest.
    labels = _label_filter(body.get("ParameterFilters"))
    found: list[dict[str, Any]] = []
    for name in page.get("Names", []):
        for selector in [f"{name}:{label}" for label in labels] or [name]:
            try:
                found.append(await _get_one(run, selector, bool(body.get("WithDecryption"))))
                break
            except HushError as exc:  # deleted since the listing, or another label's version
                if exc.aws_type not in _MISSING:
                    raise
    result: dict[str, Any] = {"Parameters": found}
    if page.get("NextToken"):
        result["NextToken"] = page["NextToken"]
    return result


def _label_filter(filters: Any) -> list[str]:
    """The values of a (validated by the engine) ``Label`` ParameterFilter."""
    labels: list[str] = []
    for item in filters if isinstance(filters, list) else []:
        if isinstance(item, dict) and item.get("Key") == "Label":
            labels += [v for v in item.get("Values", []) if isinstance(v, str)]
    return labels


async def _history(body: dict[str, Any], context: ActionContext, run: RunCall) -> dict[str, Any]:
    """GetParameterHistory (SecureStrings decrypted per version when asked)."""
    name = check_name(body.get("Name"))
    query: dict[str, Any] = {k: body[k] for k in ("MaxResults", "NextToken") if k in body}
    page = await run(
        LogicalCall(Operation.READ, _on("history", name), {**query, "Name": name}, name)
    )
    decrypt = bool(body.get("WithDecryption"))
    entries = []
    for item in page.get("Parameters", []):
        arn = item.pop("ARN", "")
        entries.append(await _open(run, item, decrypt, arn))
    result: dict[str, Any] = {"Parameters": entries}
    if page.get("NextToken"):
        result["NextToken"] = page["NextToken"]
    return result


async def _put(body: dict[str, Any], context: ActionContext, run: RunCall) -> dict[str, Any]:
    """PutParameter; SecureStrings are checked, encrypted under the KMS key, then stored."""
    name = check_name(body.get("Name"))
    path = _on("parameter", name)
    # The engine's own members (dry run, ciphertext marking) are never taken from the caller.
    data = {k: v for k, v in body.items() if k not in _ENGINE_MEMBERS}
    data["Name"] = name
    checked = await run(LogicalCall(Operation.UPDATE, path, {**data, "DryRun": True}, name))
    if checked["Type"] != _SECURE:
        return await run(LogicalCall(Operation.UPDATE, path, data, name))
    value = body.get("Value")
    if not isinstance(value, str):
        raise SsmValidation("Value is required")
    plaintext = value.encode("utf-8")
    reference = body.get("KeyId") or _DEFAULT_KEY
    try:
        key_id = await _kms_key(run, reference)
    except HushError as exc:
        if exc.aws_type == "NotFoundException":
            raise InvalidKeyId(f"Invalid KeyId: {str(reference)[:256]}") from None
        raise
    sealed = await run(
        LogicalCall(
            Operation.UPDATE,
            f"kms/encrypt/{key_id}",
            {
                "Plaintext": base64.b64encode(plaintext).decode("ascii"),
                "EncryptionContext": {"PARAMETER_ARN": checked["ARN"]},
                # Above KMS's 4096 bytes (advanced tier), envelope encryption, as AWS does.
                "Envelope": len(plaintext) > _KMS_LIMIT,
            },
            str(reference),
            service=KMS,
        )
    )
    stored = {
        **data,
        "Value": sealed["CiphertextBlob"],
        "Encrypted": True,
        "KmsKeyId": key_id,
        "KeyId": reference,
        "ValueLength": len(value),
    }
    return await run(LogicalCall(Operation.UPDATE, path, stored, name))


async def _kms_key(run: RunCall, reference: str) -> str:
    async def on_transit(call: LogicalCall) -> dict[str, Any]:
        return await run(
            LogicalCall(call.operation, call.path, call.data, call.resource, service=KMS)
        )

    return await resolve_key(reference, on_transit)


async def _delete_many(
    body: dict[str, Any], context: ActionContext, run: RunCall
) -> dict[str, Any]:
    """DeleteParameters: missing names are listed in InvalidParameters."""
    deleted: list[str] = []
    invalid: list[str] = []
    for reference in _names(body):
        name = check_name(reference)
        try:
            await run(LogicalCall(Operation.DELETE, _on("parameter", name), {"Name": name}, name))
            deleted.append(reference)
        except HushError as exc:
            if exc.aws_type not in _MISSING:
                raise
            invalid.append(reference)
    return {"DeletedParameters": deleted, "InvalidParameters": invalid}


def _named(operation: Operation, kind: str, extra: dict[str, Any] | None = None) -> Any:
    async def action(body: dict[str, Any], context: ActionContext, run: RunCall) -> dict[str, Any]:
        name = check_name(body.get("Name"))
        data = {**body, **(extra or {}), "Name": name}
        return await run(LogicalCall(operation, _on(kind, name), data, name))

    return action


def _tagging(operation: Operation, extra: dict[str, Any] | None = None) -> Any:
    async def action(body: dict[str, Any], context: ActionContext, run: RunCall) -> dict[str, Any]:
        kind = body.get("ResourceType")
        if isinstance(kind, str) and kind in _OTHER_RESOURCE_TYPES:
            # A real SSM resource type, but Hush stores parameters only: no such resource.
            raise InvalidResourceId("Invalid Resource Id")
        if kind != "Parameter":
            raise InvalidResourceType("Invalid Resource Type")
        name = check_name(body.get("ResourceId"))
        data = {**body, **(extra or {}), "Name": name}
        return await run(LogicalCall(operation, _on("tags", name), data, name))

    return action


def _describe(body: dict[str, Any], context: ActionContext) -> LogicalCall:
    return LogicalCall(Operation.LIST, "parameters", dict(body))


SSM: Final = AwsService(
    target_prefix="AmazonSSM",
    signing_name="ssm",
    mount_type="ssm",
    default_mount="ssm/",
    invalid_parameter_type="ValidationException",
    invalid_request_type="ValidationException",
    internal_error_type="InternalServerError",
    actions={"DescribeParameters": _describe},
    composite={
        "PutParameter": _put,
        "GetParameter": _get_parameter,
        "GetParameters": _get_parameters,
        "GetParametersByPath": _by_path,
        "GetParameterHistory": _history,
        "DeleteParameter": _named(Operation.DELETE, "parameter"),
        "DeleteParameters": _delete_many,
        "LabelParameterVersion": _named(Operation.UPDATE, "labels"),
        "UnlabelParameterVersion": _named(Operation.UPDATE, "labels", {"Remove": True}),
        "AddTagsToResource": _tagging(Operation.UPDATE),
        "RemoveTagsFromResource": _tagging(Operation.UPDATE, {"Remove": True}),
        "ListTagsForResource": _tagging(Operation.READ),
    },
)
