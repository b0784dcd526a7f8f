"""Actions that create secrets and read or write their values.

CreateSecret, GetSecretValue, PutSecretValue and UpdateSecret, with Secrets Manager's
``ClientRequestToken`` idempotency (see :func:`~hush.engines.awssm.env.add_version`).
"""

from __future__ import annotations

from typing import Any

from hush.engines.awssm.env import ActionEnv, Body, add_version, identity
from hush.engines.awssm.errors import (
    InvalidRequestState,
    ResourceExists,
    ResourceNotFound,
    ValidationError,
)
from hush.engines.awssm.model import AWSCURRENT, SecretRecord, arn_for
from hush.engines.awssm.store import SecretValue
from hush.engines.awssm.validate import (
    client_token,
    require_value,
    secret_value,
    string_list,
    tags,
    text,
    validate_name,
)

__all__ = ["create_secret", "get_secret_value", "put_secret_value", "update_secret"]

_DAY = 86400


async def create_secret(env: ActionEnv, name: str, body: Body) -> dict[str, Any]:
    """CreateSecret."""
    validate_name(name)
    value = secret_value(body)
    token = client_token(body)
    description = text(body, "Description", max_len=2048, min_len=0) or ""
    kms_key_id = text(body, "KmsKeyId", max_len=2048) or ""
    tag_list = tags(body) or []
    existing = await env.store.get(name)
    if existing is not None:
        if existing.deleted:
            raise InvalidRequestState(
                "You can't create this secret because a secret with this name is already "
                "scheduled for deletion."
            )
        # A retried CreateSecret (same token, same value) answers as the first call did.
        if token is not None and value is not None and token in existing.versions:
            stored = await env.store.value(existing, token)
            if value.same_as(stored):
                return {**identity(existing), "VersionId": token}
        raise ResourceExists(f"The operation failed because the secret {name} already exists.")
    record = SecretRecord(
        name=name,
        arn=arn_for(env.region, env.account, name),
        created=env.now,
        last_changed=env.now,
        description=description,
        kms_key_id=kms_key_id,
        kms_key=env.kms_key or "",
        tags=tag_list,
    )
    answer: dict[str, Any] = identity(record)
    new_values = {}
    if value is not None:
        version_id, _ = await add_version(env, record, value, token, [AWSCURRENT])
        new_values[version_id] = value
        answer["VersionId"] = version_id
    await env.store.save(record, new_values=new_values)
    return answer


async def get_secret_value(env: ActionEnv, secret_id: str, name: str, body: Body) -> dict[str, Any]:
    """GetSecretValue, by ``VersionId`` and/or ``VersionStage`` (default AWSCURRENT)."""
    record = await env.secret(secret_id, name)
    version_id = text(body, "VersionId", max_len=64, min_len=32)
    stage = text(body, "VersionStage", max_len=256)
    if version_id is not None:
        version = record.versions.get(version_id)
        if version is None:
            raise ResourceNotFound(
                f"Secrets Manager can't find the specified secret value for VersionId: {version_id}"
            )
        if stage is not None and stage not in version.stages:
            raise ResourceNotFound(
                f"Secrets Manager can't find the specified secret value for staging label: {stage}"
            )
    else:
        stage = stage or AWSCURRENT
        found = record.version_with(stage)
        if found is None:
            raise ResourceNotFound(
                f"Secrets Manager can't find the specified secret value for staging label: {stage}"
            )
        version = found
    value = await env.store.value(record, version.version_id)
    if value is None:
        raise ResourceNotFound("Secrets Manager can't find the specified secret value.")
    # Secrets Manager records access to the day; writing once a day keeps reads read-only.
    today = env.now - env.now % _DAY
    if record.last_accessed != today or version.last_accessed != today:
        async with env.store.lock(record.name):
            fresh = await env.store.get(record.name)  # never write back a stale record
            if fresh is not None and version.version_id in fresh.versions:
                fresh.last_accessed = today
                fresh.versions[version.version_id].last_accessed = today
                await env.store.touch(fresh)
    return {
        **identity(record),
        "VersionId": version.version_id,
        **value.wire(),
        "VersionStages": list(version.stages),
        "CreatedDate": version.created,
    }


async def put_secret_value(env: ActionEnv, secret_id: str, name: str, body: Body) -> dict[str, Any]:
    """PutSecretValue: a new version, AWSCURRENT unless ``VersionStages`` says otherwise."""
    record = await env.secret(secret_id, name)
    value = require_value(secret_value(body))
    token = client_token(body)
    stages = string_list(body, "VersionStages", max_items=20)
    if stages is not None and not stages:
        raise ValidationError("versionStages", "Member must have length greater than or equal to 1")
    version_id, is_new = await add_version(
        env, record, value, token, stages if stages is not None else [AWSCURRENT]
    )
    if is_new:
        dropped = record.prune()
        await env.store.save(record, new_values={version_id: value}, dropped_versions=dropped)
    return {
        **identity(record),
        "VersionId": version_id,
        "VersionStages": list(record.versions[version_id].stages),
    }


async def update_secret(env: ActionEnv, secret_id: str, name: str, body: Body) -> dict[str, Any]:
    """UpdateSecret: description, KMS key and (optionally) a new AWSCURRENT value."""
    record = await env.secret(secret_id, name)
    value = secret_value(body)
    token = client_token(body)
    description = text(body, "Description", max_len=2048, min_len=0)
    kms_key_id = text(body, "KmsKeyId", max_len=2048)
    if description is not None:
        record.description = description
    new_values: dict[str, SecretValue] = {}
    if kms_key_id is not None:
        record.kms_key_id = kms_key_id
        if (env.kms_key or "") != record.kms_key:
            new_values = await _reencrypted(env, record, env.kms_key or "")
    record.last_changed = env.now
    answer: dict[str, Any] = identity(record)
    dropped: list[str] = []
    if value is not None:
        version_id, is_new = await add_version(env, record, value, token, [AWSCURRENT])
        answer["VersionId"] = version_id
        if is_new:
            new_values[version_id] = value
            dropped = record.prune()
    await env.store.save(record, new_values=new_values, dropped_versions=dropped)
    return answer


async def _reencrypted(
    env: ActionEnv, record: SecretRecord, kms_key: str
) -> dict[str, SecretValue]:
    """Move ``record`` to ``kms_key``; its labelled versions' values, to store again under it.

    As Secrets Manager: AWSCURRENT, AWSPENDING and AWSPREVIOUS are re-encrypted under the new
    key; versions without labels stay under the key they were written with.
    """
    labelled = {}
    for version_id, version in record.versions.items():
        if version.stages:
            value = await env.store.value(record, version_id)
            if value is not None:
                labelled[version_id] = value
                version.kms_key_ids = [record.kms_key_id or "DefaultEncryptionKey"]
    record.kms_key = kms_key
    return labelled
