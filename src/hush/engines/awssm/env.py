"""What every Secrets Manager action handler is given, and the lookups they share."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from hush.engines.awssm.errors import (
    ResourceExists,
    deleted_secret,
    secret_not_found,
)
from hush.engines.awssm.model import SecretRecord, VersionInfo
from hush.engines.awssm.store import SecretStore, SecretValue

__all__ = ["ActionEnv", "Body", "add_version", "identity"]

Body = dict[str, Any]


@dataclass(frozen=True, slots=True)
class ActionEnv:
    """One call's surroundings: the mount's store, the signed region, the account and the time."""

    store: SecretStore
    region: str
    account: str
    now: float
    #: The transit KMS key id the request's ``KmsKeyId`` resolved to ("" = default key);
    #: ``None`` when the request names no key. Resolved before the secret's lock is taken.
    kms_key: str | None = None

    async def secret(
        self, secret_id: str, name: str, *, allow_deleted: bool = False
    ) -> SecretRecord:
        """The record ``secret_id`` (name or ARN) names; deleted secrets refuse unless allowed."""
        record = await self.store.get(name)
        if record is None or (secret_id.startswith("arn:") and secret_id != record.arn):
            raise secret_not_found()
        if record.deleted and not allow_deleted:
            raise deleted_secret()
        return record


def identity(record: SecretRecord) -> dict[str, str]:
    """``ARN`` and ``Name``, the start of most answers."""
    return {"ARN": record.arn, "Name": record.name}


async def add_version(
    env: ActionEnv,
    record: SecretRecord,
    value: SecretValue,
    token: str | None,
    stages: list[str],
) -> tuple[str, bool]:
    """Add a version (id = ``ClientRequestToken``) with ``stages``; returns (id, is_new).

    Idempotency as Secrets Manager: the same token with the same value is a no-op that answers
    the existing version; the same token with a different value is ``ResourceExistsException``.
    """
    version_id = token or str(uuid.uuid4())
    if version_id in record.versions:
        existing = await env.store.value(record, version_id)
        if value.same_as(existing):
            return version_id, False
        raise ResourceExists(
            "You can't modify an existing version, you can only create a new version."
        )
    record.versions[version_id] = VersionInfo(
        version_id=version_id,
        stages=[],
        created=env.now,
        kms_key_ids=[record.kms_key_id or "DefaultEncryptionKey"],
    )
    for stage in stages:
        record.move_stage(stage, version_id)
    record.last_changed = env.now
    return version_id, True
