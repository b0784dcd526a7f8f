"""KMS (``TrentService.*`` targets) on a ``transit`` mount's KMS layer (``kms/...`` paths).

Every action that names a key first reduces the reference to the key id: a key id or key ARN
is parsed here; an alias or alias ARN is looked up with one ``read`` of
``kms/describe/<alias>``. The action then runs on a path that carries the key id, so a Vault
policy on ``transit/kms/decrypt/<key id>`` decides who may decrypt with that key whichever name
the caller used. Operations: ``read`` for DescribeKey, GetKeyRotationStatus, ListResourceTags and
GetPublicKey; ``list`` for ListKeys and ListAliases; ``delete`` for DeleteAlias and
CancelKeyDeletion; ``update`` for everything else. ReEncrypt is a Decrypt under the source key
followed by an Encrypt under the destination key, each authorised and audited on its own.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from typing import Any, Final

from hush.api.aws_services.base import ActionContext, AwsService, LogicalCall, Mapper, RunCall
from hush.core.errors import InvalidRequest
from hush.core.request import Operation
from hush.engines.transit.kms_crypto import blob_key_id
from hush.engines.transit.kms_errors import InvalidCiphertext, KeyNotFound
from hush.engines.transit.kms_model import parse_key_reference

__all__ = ["KMS", "resolve_key"]

Composite = Callable[[dict[str, Any], ActionContext, RunCall], Awaitable[dict[str, Any]]]


def _required(value: Any, member: str) -> str:
    """A required string member, or AWS's "must not be null" ValidationException."""
    if not isinstance(value, str) or not value:
        raise InvalidRequest(
            f"1 validation error detected: Value null at '{member[:1].lower() + member[1:]}' "
            "failed to satisfy constraint: Member must not be null"
        )
    return value


async def resolve_key(given: Any, run: RunCall, member: str = "KeyId") -> str:
    """The key id a ``KeyId`` member names (id, key ARN, alias name or alias ARN)."""
    reference = _required(given, member)
    kind, value = parse_key_reference(reference)
    if kind == "id":
        return value
    if kind == "invalid":
        raise KeyNotFound(f"Invalid keyId '{reference[:256]}'")
    described = await run(LogicalCall(Operation.READ, f"kms/describe/{value}", {}, reference))
    return str(described["KeyMetadata"]["KeyId"])


def _fixed(operation: Operation, path: str) -> Mapper:
    def mapper(body: dict[str, Any], context: ActionContext) -> LogicalCall:
        return LogicalCall(operation, path, dict(body))

    return mapper


def _describe(body: dict[str, Any], context: ActionContext) -> LogicalCall:
    reference = _required(body.get("KeyId"), "KeyId")
    return LogicalCall(Operation.READ, f"kms/describe/{reference}", {}, reference)


def _on_key(operation: Operation, template: str, extra: dict[str, Any] | None = None) -> Composite:
    """An action on one key: resolve ``KeyId``, then run on ``template`` with the key id."""

    async def action(body: dict[str, Any], context: ActionContext, run: RunCall) -> dict[str, Any]:
        key_id = await resolve_key(body.get("KeyId"), run)
        # Members AWS does not have never reach the engine (Envelope is Hush's own, for SSM).
        data = {k: v for k, v in body.items() if k != "Envelope"}
        data.update(extra or {})
        data["KeyId"] = key_id
        path = template.format(key_id=key_id)
        return await run(LogicalCall(operation, path, data, str(body.get("KeyId"))))

    return action


def _alias(overwrite: bool) -> Composite:
    async def action(body: dict[str, Any], context: ActionContext, run: RunCall) -> dict[str, Any]:
        name = _required(body.get("AliasName"), "AliasName")
        target = await resolve_key(body.get("TargetKeyId"), run, "TargetKeyId")
        data = {"TargetKeyId": target, "Overwrite": overwrite}
        await run(LogicalCall(Operation.UPDATE, f"kms/aliases/{name}", data, name))
        return {}

    return action


def _delete_alias(body: dict[str, Any], context: ActionContext) -> LogicalCall:
    name = _required(body.get("AliasName"), "AliasName")
    return LogicalCall(Operation.DELETE, f"kms/aliases/{name}", {}, name)


def _blob_owner(blob: Any) -> str:
    try:
        raw = base64.b64decode(blob, validate=True) if isinstance(blob, str) else b""
    except (binascii.Error, ValueError):
        raw = b""
    owner = blob_key_id(raw)
    if owner is None:
        raise InvalidCiphertext()
    return owner


async def _decrypt_with(
    run: RunCall, key_ref: Any, blob: Any, context: Any, algorithm: Any
) -> dict[str, Any]:
    key_id = await resolve_key(key_ref, run) if key_ref else _blob_owner(blob)
    data: dict[str, Any] = {"CiphertextBlob": blob}
    if context is not None:
        data["EncryptionContext"] = context
    if algorithm is not None:
        data["EncryptionAlgorithm"] = algorithm
    return await run(LogicalCall(Operation.UPDATE, f"kms/decrypt/{key_id}", data, key_id))


async def _decrypt(body: dict[str, Any], context: ActionContext, run: RunCall) -> dict[str, Any]:
    """Decrypt: the key comes from the blob unless the caller names one (then both must agree)."""
    return await _decrypt_with(
        run,
        body.get("KeyId"),
        body.get("CiphertextBlob"),
        body.get("EncryptionContext"),
        body.get("EncryptionAlgorithm"),
    )


async def _re_encrypt(body: dict[str, Any], context: ActionContext, run: RunCall) -> dict[str, Any]:
    """ReEncrypt: Decrypt under the source key, Encrypt under the destination key."""
    opened = await _decrypt_with(
        run,
        body.get("SourceKeyId"),
        body.get("CiphertextBlob"),
        body.get("SourceEncryptionContext"),
        body.get("SourceEncryptionAlgorithm"),
    )
    destination = await resolve_key(body.get("DestinationKeyId"), run, "DestinationKeyId")
    data: dict[str, Any] = {"Plaintext": opened["Plaintext"]}
    if body.get("DestinationEncryptionContext") is not None:
        data["EncryptionContext"] = body["DestinationEncryptionContext"]
    if body.get("DestinationEncryptionAlgorithm") is not None:
        data["EncryptionAlgorithm"] = body["DestinationEncryptionAlgorithm"]
    sealed = await run(
        LogicalCall(Operation.UPDATE, f"kms/encrypt/{destination}", data, destination)
    )
    return {
        "CiphertextBlob": sealed["CiphertextBlob"],
        "SourceKeyId": opened["KeyId"],
        "KeyId": sealed["KeyId"],
        "SourceEncryptionAlgorithm": opened["EncryptionAlgorithm"],
        "DestinationEncryptionAlgorithm": sealed["EncryptionAlgorithm"],
    }


_COMPOSITE: Final[dict[str, Composite]] = {
    "Encrypt": _on_key(Operation.UPDATE, "kms/encrypt/{key_id}"),
    "Decrypt": _decrypt,
    "ReEncrypt": _re_encrypt,
    "GenerateDataKey": _on_key(Operation.UPDATE, "kms/datakey/{key_id}"),
    "GenerateDataKeyWithoutPlaintext": _on_key(
        Operation.UPDATE, "kms/datakey/{key_id}", {"WithoutPlaintext": True}
    ),
    "GenerateDataKeyPair": _on_key(Operation.UPDATE, "kms/datakeypair/{key_id}"),
    "GenerateDataKeyPairWithoutPlaintext": _on_key(
        Operation.UPDATE, "kms/datakeypair/{key_id}", {"WithoutPlaintext": True}
    ),
    "Sign": _on_key(Operation.UPDATE, "kms/sign/{key_id}"),
    "Verify": _on_key(Operation.UPDATE, "kms/verify/{key_id}"),
    "GenerateMac": _on_key(Operation.UPDATE, "kms/mac/{key_id}"),
    "VerifyMac": _on_key(Operation.UPDATE, "kms/verify-mac/{key_id}"),
    "EnableKey": _on_key(Operation.UPDATE, "kms/keys/{key_id}/enabled", {"Enabled": True}),
    "DisableKey": _on_key(Operation.UPDATE, "kms/keys/{key_id}/enabled", {"Enabled": False}),
    "EnableKeyRotation": _on_key(Operation.UPDATE, "kms/keys/{key_id}/rotation", {"Enabled": True}),
    "DisableKeyRotation": _on_key(
        Operation.UPDATE, "kms/keys/{key_id}/rotation", {"Enabled": False}
    ),
    "GetKeyRotationStatus": _on_key(Operation.READ, "kms/keys/{key_id}/rotation"),
    "RotateKeyOnDemand": _on_key(Operation.UPDATE, "kms/keys/{key_id}/rotate"),
    "ScheduleKeyDeletion": _on_key(Operation.UPDATE, "kms/keys/{key_id}/deletion"),
    "CancelKeyDeletion": _on_key(Operation.DELETE, "kms/keys/{key_id}/deletion"),
    "TagResource": _on_key(Operation.UPDATE, "kms/keys/{key_id}/tags"),
    "UntagResource": _on_key(Operation.UPDATE, "kms/keys/{key_id}/untag"),
    "ListResourceTags": _on_key(Operation.READ, "kms/keys/{key_id}/tags"),
    "UpdateKeyDescription": _on_key(Operation.UPDATE, "kms/keys/{key_id}"),
    "GetPublicKey": _on_key(Operation.READ, "kms/keys/{key_id}/public-key"),
    "CreateAlias": _alias(overwrite=False),
    "UpdateAlias": _alias(overwrite=True),
}

KMS: Final = AwsService(
    target_prefix="TrentService",
    signing_name="kms",
    mount_type="transit",
    default_mount="transit/",
    invalid_parameter_type="ValidationException",
    invalid_request_type="UnsupportedOperationException",
    internal_error_type="KMSInternalException",
    actions={
        "CreateKey": _fixed(Operation.UPDATE, "kms/keys"),
        "ListKeys": _fixed(Operation.LIST, "kms/keys"),
        "DescribeKey": _describe,
        "ListAliases": _fixed(Operation.LIST, "kms/aliases"),
        "DeleteAlias": _delete_alias,
        "GenerateRandom": _fixed(Operation.UPDATE, "kms/random"),
    },
    composite=_COMPOSITE,
)
