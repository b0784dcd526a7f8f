"""Actions that change a secret's labels, tags, deletion state and resource policy."""

from __future__ import annotations

from typing import Any, Final

import orjson

from hush.engines.awssm.env import ActionEnv, Body, identity
from hush.engines.awssm.errors import (
    InvalidParameter,
    InvalidRequestState,
    MalformedPolicy,
    ResourceNotFound,
)
from hush.engines.awssm.model import AWSCURRENT
from hush.engines.awssm.validate import boolean, integer, string_list, tags, text

__all__ = [
    "delete_resource_policy",
    "delete_secret",
    "get_resource_policy",
    "policy_problems",
    "put_resource_policy",
    "restore_secret",
    "tag_resource",
    "untag_resource",
    "update_secret_version_stage",
    "validate_resource_policy",
]

_DAY: Final = 86400
_MAX_POLICY: Final = 20480


async def update_secret_version_stage(
    env: ActionEnv, secret_id: str, name: str, body: Body
) -> dict[str, Any]:
    """UpdateSecretVersionStage: move, attach or detach a staging label."""
    record = await env.secret(secret_id, name)
    stage = text(body, "VersionStage", required=True, max_len=256)
    remove_from = text(body, "RemoveFromVersionId", max_len=64, min_len=32)
    move_to = text(body, "MoveToVersionId", max_len=64, min_len=32)
    assert stage is not None
    for version_id in (remove_from, move_to):
        if version_id is not None and version_id not in record.versions:
            raise ResourceNotFound(
                f"Secrets Manager can't find the specified secret version: {version_id}"
            )
    holder = record.version_with(stage)
    moving_away = holder is not None and move_to is not None and holder.version_id != move_to
    if moving_away and holder is not None and remove_from != holder.version_id:
        raise InvalidParameter(
            f"The staging label {stage} is currently attached to version "
            f"{holder.version_id}, so you must explicitly reference that version in "
            "RemoveFromVersionId."
        )
    if stage == AWSCURRENT and remove_from is not None and move_to is None:
        raise InvalidParameter(
            "You can only move staging label AWSCURRENT to a different secret version. It "
            "can't be completely removed."
        )
    if remove_from is not None:
        if stage not in record.versions[remove_from].stages:
            raise InvalidParameter(
                f"The staging label {stage} is not attached to version {remove_from}."
            )
        if move_to is None:
            record.remove_stage(stage)
    if move_to is not None:
        record.move_stage(stage, move_to)
    record.last_changed = env.now
    dropped = record.prune()
    await env.store.save(record, dropped_versions=dropped)
    return identity(record)


async def tag_resource(env: ActionEnv, secret_id: str, name: str, body: Body) -> dict[str, Any]:
    """TagResource: add or overwrite tags."""
    record = await env.secret(secret_id, name)
    new = tags(body)
    if new is None:
        raise InvalidParameter("You must provide Tags.")
    merged = {t["Key"]: t["Value"] for t in record.tags}
    merged.update({t["Key"]: t["Value"] for t in new})
    if len(merged) > 50:
        raise InvalidParameter("A secret can have at most 50 tags.")
    record.tags = [{"Key": k, "Value": v} for k, v in merged.items()]
    record.last_changed = env.now
    await env.store.touch(record)
    return {}


async def untag_resource(env: ActionEnv, secret_id: str, name: str, body: Body) -> dict[str, Any]:
    """UntagResource: remove tags by key (unknown keys are ignored, as AWS does)."""
    record = await env.secret(secret_id, name)
    keys = string_list(body, "TagKeys", max_items=200)
    if keys is None:
        raise InvalidParameter("You must provide TagKeys.")
    record.tags = [t for t in record.tags if t["Key"] not in set(keys)]
    record.last_changed = env.now
    await env.store.touch(record)
    return {}


async def delete_secret(env: ActionEnv, secret_id: str, name: str, body: Body) -> dict[str, Any]:
    """DeleteSecret: schedule deletion after 7-30 days, or purge at once when forced."""
    record = await env.secret(secret_id, name, allow_deleted=True)
    force = boolean(body, "ForceDeleteWithoutRecovery", False)
    window = integer(body, "RecoveryWindowInDays", 7, 30, None)
    if force and window is not None:
        raise InvalidParameter(
            "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays."
        )
    if force:
        await env.store.purge(record)
        return {**identity(record), "DeletionDate": env.now}
    if record.deleted:
        raise InvalidRequestState(
            "You can't perform this operation on the secret because it was already scheduled "
            "for deletion."
        )
    record.deleted_date = env.now + (window or 30) * _DAY
    await env.store.touch(record)
    return {**identity(record), "DeletionDate": record.deleted_date}


async def restore_secret(env: ActionEnv, secret_id: str, name: str, body: Body) -> dict[str, Any]:
    """RestoreSecret: cancel a scheduled deletion."""
    record = await env.secret(secret_id, name, allow_deleted=True)
    record.deleted_date = 0.0
    record.last_changed = env.now
    await env.store.touch(record)
    return identity(record)


def policy_problems(document: str) -> list[dict[str, str]]:
    """Structural checks of an IAM policy document (Hush does not evaluate resource policies)."""
    try:
        policy = orjson.loads(document)
    except orjson.JSONDecodeError:
        return [{"CheckName": "JSON_VALIDATION", "ErrorMessage": "The policy is not valid JSON."}]
    problems: list[dict[str, str]] = []
    statements = policy.get("Statement") if isinstance(policy, dict) else None
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not statements:
        problems.append(
            {"CheckName": "JSON_VALIDATION", "ErrorMessage": "The policy has no Statement."}
        )
        return problems
    for index, statement in enumerate(statements):
        if not isinstance(statement, dict):
            problems.append(
                {
                    "CheckName": "JSON_VALIDATION",
                    "ErrorMessage": f"Statement {index} is not an object.",
                }
            )
            continue
        if statement.get("Effect") not in ("Allow", "Deny"):
            problems.append(
                {
                    "CheckName": "JSON_VALIDATION",
                    "ErrorMessage": f"Statement {index}: Effect must be Allow or Deny.",
                }
            )
        if "Action" not in statement and "NotAction" not in statement:
            problems.append(
                {
                    "CheckName": "JSON_VALIDATION",
                    "ErrorMessage": f"Statement {index} has no Action.",
                }
            )
        if statement.get("Principal") == "*" and statement.get("Effect") == "Allow":
            problems.append(
                {
                    "CheckName": "PUBLIC_ACCESS",
                    "ErrorMessage": f"Statement {index} grants access to every principal.",
                }
            )
    return problems


def _policy_text(body: Body) -> str:
    document = text(body, "ResourcePolicy", required=True, max_len=_MAX_POLICY)
    assert document is not None
    return document


async def put_resource_policy(
    env: ActionEnv, secret_id: str, name: str, body: Body
) -> dict[str, Any]:
    """PutResourcePolicy: stored and validated; BlockPublicPolicy (default true) refuses ``*``."""
    record = await env.secret(secret_id, name)
    document = _policy_text(body)
    block_public = boolean(body, "BlockPublicPolicy", True)
    problems = policy_problems(document)
    structural = [p for p in problems if p["CheckName"] != "PUBLIC_ACCESS"]
    if structural:
        raise MalformedPolicy(structural[0]["ErrorMessage"])
    if block_public and problems:
        raise InvalidParameter(
            "The BlockPublicPolicy parameter is set to true and the resource policy you are "
            "trying to attach grants broad access to your secret."
        )
    record.resource_policy = document
    await env.store.touch(record)
    return identity(record)


async def get_resource_policy(
    env: ActionEnv, secret_id: str, name: str, body: Body
) -> dict[str, Any]:
    """GetResourcePolicy."""
    record = await env.secret(secret_id, name)
    answer: dict[str, Any] = identity(record)
    if record.resource_policy:
        answer["ResourcePolicy"] = record.resource_policy
    return answer


async def delete_resource_policy(
    env: ActionEnv, secret_id: str, name: str, body: Body
) -> dict[str, Any]:
    """DeleteResourcePolicy."""
    record = await env.secret(secret_id, name)
    record.resource_policy = ""
    await env.store.touch(record)
    return identity(record)


def validate_resource_policy(body: Body) -> dict[str, Any]:
    """ValidateResourcePolicy: ``PolicyValidationPassed`` and the problems found."""
    problems = policy_problems(_policy_text(body))
    return {"PolicyValidationPassed": not problems, "ValidationErrors": problems}
