"""Read-only metadata: DescribeSecret, ListSecretVersionIds and the ``SecretListEntry`` shape."""

from __future__ import annotations

from typing import Any

from hush.engines.awssm.env import ActionEnv, Body, identity
from hush.engines.awssm.errors import InvalidNextToken
from hush.engines.awssm.model import SecretRecord
from hush.engines.awssm.validate import boolean, integer, text

__all__ = ["describe", "describe_secret", "list_secret_version_ids"]


def describe(record: SecretRecord, *, list_entry: bool = False) -> dict[str, Any]:
    """DescribeSecret's answer (``list_entry``: ListSecrets' ``SecretListEntry`` naming)."""
    answer: dict[str, Any] = {
        **identity(record),
        "CreatedDate": record.created,
        "LastChangedDate": record.last_changed,
    }
    if record.description:
        answer["Description"] = record.description
    if record.kms_key_id:
        answer["KmsKeyId"] = record.kms_key_id
    if record.tags:
        answer["Tags"] = [dict(t) for t in record.tags]
    if record.last_accessed:
        answer["LastAccessedDate"] = record.last_accessed
    if record.deleted:
        answer["DeletedDate"] = record.deleted_date
    rotation = record.rotation
    if rotation.enabled or rotation.rules:
        answer["RotationEnabled"] = rotation.enabled
        if rotation.rotator:
            answer["RotationLambdaARN"] = rotation.rotator
        if rotation.rules:
            answer["RotationRules"] = dict(rotation.rules)
        if rotation.enabled and rotation.next_rotation:
            answer["NextRotationDate"] = rotation.next_rotation
    if rotation.last_rotated:
        answer["LastRotatedDate"] = rotation.last_rotated
    if rotation.failures and not list_entry:
        # Not in AWS's model (SDKs drop it); raw JSON clients and `aws --debug` see it.
        answer["HushRotationFailure"] = {
            "Failures": rotation.failures,
            "LastError": rotation.last_error,
            "NextAttemptDate": rotation.next_rotation,
        }
    stages = record.stage_map()
    answer["SecretVersionsToStages" if list_entry else "VersionIdsToStages"] = stages
    return answer


async def describe_secret(env: ActionEnv, secret_id: str, name: str, body: Body) -> dict[str, Any]:
    """DescribeSecret (also answers for secrets scheduled for deletion, as AWS does)."""
    return describe(await env.secret(secret_id, name, allow_deleted=True))


async def list_secret_version_ids(
    env: ActionEnv, secret_id: str, name: str, body: Body
) -> dict[str, Any]:
    """ListSecretVersionIds with MaxResults/NextToken and IncludeDeprecated."""
    record = await env.secret(secret_id, name, allow_deleted=True)
    limit = integer(body, "MaxResults", 1, 100, 100) or 100
    include_deprecated = boolean(body, "IncludeDeprecated", False)
    start = _offset(text(body, "NextToken", max_len=4096))
    versions = sorted(record.versions.values(), key=lambda v: (-v.created, v.version_id))
    if not include_deprecated:
        versions = [v for v in versions if v.stages]
    page = versions[start : start + limit]
    answer: dict[str, Any] = {
        "Versions": [
            {
                "VersionId": v.version_id,
                "VersionStages": list(v.stages),
                "CreatedDate": v.created,
                **({"LastAccessedDate": v.last_accessed} if v.last_accessed else {}),
                "KmsKeyIds": list(v.kms_key_ids),
            }
            for v in page
        ],
        **identity(record),
    }
    if start + limit < len(versions):
        answer["NextToken"] = str(start + limit)
    return answer


def _offset(token: str | None) -> int:
    if token is None:
        return 0
    if not token.isdigit():
        raise InvalidNextToken("The NextToken value is not valid.")
    return int(token)
