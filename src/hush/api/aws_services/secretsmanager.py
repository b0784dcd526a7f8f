"""Secrets Manager (``secretsmanager.*`` targets) on an ``awssm`` mount.

Every action that names a secret becomes a logical request on ``secrets/<name>`` (an ARN is
reduced to its name here; the engine checks the ARN's random suffix), with the operation a Vault
policy grants it by: reads (``GetSecretValue``, ``DescribeSecret``, ...) need ``read``, changes need
``update``, ``CreateSecret`` needs ``create`` and ``DeleteSecret`` ``delete``; ``ListSecrets`` needs
``list`` on ``secrets/``. ``GetRandomPassword`` and ``ValidateResourcePolicy`` touch no secret and
need ``update`` on ``random-password`` and ``validate-resource-policy``. ``BatchGetSecretValue``
runs one ``GetSecretValue`` per secret, so each is authorised and audited on its own.
"""

from __future__ import annotations

from typing import Any, Final

from hush.api.aws_services.base import (
    ActionContext,
    AwsService,
    LogicalCall,
    Mapper,
    RunCall,
)
from hush.core.errors import HushError, InvalidRequest
from hush.core.request import Operation

__all__ = ["SECRETS_MANAGER", "secret_name"]

_ARN_PREFIX: Final = "arn:"
_READ: Final = (
    "GetSecretValue",
    "DescribeSecret",
    "ListSecretVersionIds",
    "GetResourcePolicy",
)
_UPDATE: Final = (
    "PutSecretValue",
    "UpdateSecret",
    "UpdateSecretVersionStage",
    "TagResource",
    "UntagResource",
    "RotateSecret",
    "CancelRotateSecret",
    "RestoreSecret",
    "PutResourcePolicy",
    "DeleteResourcePolicy",
)
_BATCH_MAX: Final = 20


def secret_name(secret_id: Any) -> str:
    """The secret name a ``SecretId`` (name or full ARN) refers to."""
    if not isinstance(secret_id, str) or not secret_id:
        raise InvalidRequest("You must provide a SecretId (the name or ARN of the secret).")
    if not secret_id.startswith(_ARN_PREFIX):
        return secret_id
    parts = secret_id.split(":", 6)
    if len(parts) != 7 or parts[2] != "secretsmanager" or parts[5] != "secret":
        raise InvalidRequest(f"Invalid ARN: {secret_id} is not a Secrets Manager secret ARN.")
    tail = parts[6]
    # A full ARN ends in "-" and six random characters that Secrets Manager appended.
    if len(tail) < 8 or tail[-7] != "-":
        raise InvalidRequest(f"Invalid ARN: {secret_id} is not a complete secret ARN.")
    return tail[:-7]


def _data(body: dict[str, Any], context: ActionContext) -> dict[str, Any]:
    return {"aws_action": context.action, "aws_region": context.region, "aws_request": body}


def _on_secret(operation: Operation, key: str = "SecretId") -> Mapper:
    def mapper(body: dict[str, Any], context: ActionContext) -> LogicalCall:
        name = secret_name(body.get(key))
        return LogicalCall(operation, f"secrets/{name}", _data(body, context), str(body.get(key)))

    return mapper


def _fixed(operation: Operation, path: str) -> Mapper:
    def mapper(body: dict[str, Any], context: ActionContext) -> LogicalCall:
        return LogicalCall(operation, path, _data(body, context))

    return mapper


def _create(body: dict[str, Any], context: ActionContext) -> LogicalCall:
    name = body.get("Name")
    if not isinstance(name, str) or not name:
        raise InvalidRequest("You must provide a Name for the secret.")
    if name.startswith(_ARN_PREFIX):
        raise InvalidRequest("The secret name must not be an ARN.")
    return LogicalCall(Operation.CREATE, f"secrets/{name}", _data(body, context), name)


async def _batch_get(body: dict[str, Any], context: ActionContext, run: RunCall) -> dict[str, Any]:
    """BatchGetSecretValue: one authorised, audited GetSecretValue per secret."""
    ids = body.get("SecretIdList")
    filters = body.get("Filters")
    if (ids is None) == (filters is None):
        raise InvalidRequest("Either 'SecretIdList' or 'Filters' must be provided, not both.")
    result: dict[str, Any] = {"SecretValues": [], "Errors": []}
    if filters is not None:
        listing: dict[str, Any] = {
            k: body[k] for k in ("Filters", "MaxResults", "NextToken") if k in body
        }
        listed = await run(
            LogicalCall(
                Operation.LIST,
                "secrets/",
                _data(listing, ActionContext("ListSecrets", context.region)),
            )
        )
        ids = [entry["ARN"] for entry in listed.get("SecretList", [])]
        if listed.get("NextToken"):
            result["NextToken"] = listed["NextToken"]
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise InvalidRequest("SecretIdList must be a list of secret names or ARNs.")
    if filters is None and not 1 <= len(ids) <= _BATCH_MAX:
        raise InvalidRequest(f"SecretIdList must contain between 1 and {_BATCH_MAX} entries.")
    get_context = ActionContext("GetSecretValue", context.region)
    for secret_id in ids:
        try:
            call = _on_secret(Operation.READ)({"SecretId": secret_id}, get_context)
            result["SecretValues"].append(await run(call))
        except HushError as exc:
            from hush.api.aws_errors import aws_error_type

            result["Errors"].append(
                {
                    "SecretId": secret_id,
                    "ErrorCode": aws_error_type(exc, SECRETS_MANAGER),
                    "Message": exc.message,
                }
            )
    return result


SECRETS_MANAGER: Final = AwsService(
    target_prefix="secretsmanager",
    signing_name="secretsmanager",
    mount_type="awssm",
    default_mount="awssm/",
    invalid_parameter_type="InvalidParameterException",
    invalid_request_type="InvalidRequestException",
    internal_error_type="InternalServiceError",
    actions={
        "CreateSecret": _create,
        **{action: _on_secret(Operation.READ) for action in _READ},
        **{action: _on_secret(Operation.UPDATE) for action in _UPDATE},
        "DeleteSecret": _on_secret(Operation.DELETE),
        "ListSecrets": _fixed(Operation.LIST, "secrets/"),
        "GetRandomPassword": _fixed(Operation.UPDATE, "random-password"),
        "ValidateResourcePolicy": _fixed(Operation.UPDATE, "validate-resource-policy"),
    },
    composite={"BatchGetSecretValue": _batch_get},
)
