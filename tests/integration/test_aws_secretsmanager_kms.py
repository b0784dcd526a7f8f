"""Secrets Manager ``KmsKeyId``: values encrypted under a KMS key of the transit KMS layer.

Driven with boto3 (secretsmanager and kms clients) against a dev server with a transit mount.
That a value really is under the key is observed through the key's state: disabling the key
makes reads fail with ``DecryptionFailure`` and writes with ``EncryptionFailure``; enabling it
restores both, while secrets without a key (the default key) keep working throughout.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import botocore.exceptions
import hvac.exceptions
import pytest

from tests.conftest import DEV_AWS_ACCESS_KEY_ID, DEV_AWS_SECRET_ACCESS_KEY
from tests.support.aws import client, describe_secret_raw, secretsmanager, wait_for
from tests.support.server import HushProcess


@pytest.fixture(scope="module")
def clients(aws_server: HushProcess) -> Iterator[tuple[Any, Any]]:
    aws_server.client().sys.enable_secrets_engine("transit", path="transit")
    sm = secretsmanager(aws_server.url, DEV_AWS_ACCESS_KEY_ID, DEV_AWS_SECRET_ACCESS_KEY)
    kms = client("kms", aws_server.url, DEV_AWS_ACCESS_KEY_ID, DEV_AWS_SECRET_ACCESS_KEY)
    yield sm, kms


def _name() -> str:
    return f"kms/{uuid.uuid4().hex[:10]}"


def _code(exc: pytest.ExceptionInfo[botocore.exceptions.ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def _new_key(kms: Any) -> dict[str, Any]:
    return dict(kms.create_key(Description="sm test")["KeyMetadata"])


def test_secret_under_key_by_id_alias_and_arn_round_trips(clients: tuple[Any, Any]) -> None:
    sm, kms = clients
    meta = _new_key(kms)
    alias = f"alias/sm-{uuid.uuid4().hex[:8]}"
    kms.create_alias(AliasName=alias, TargetKeyId=meta["KeyId"])
    for reference in (meta["KeyId"], alias, meta["Arn"]):
        name = _name()
        sm.create_secret(Name=name, SecretString=f"value-{reference}", KmsKeyId=reference)
        assert sm.get_secret_value(SecretId=name)["SecretString"] == f"value-{reference}"
        assert sm.describe_secret(SecretId=name)["KmsKeyId"] == reference
        binary = sm.create_secret(Name=name + "-b", SecretBinary=b"\x00\x01", KmsKeyId=reference)
        assert sm.get_secret_value(SecretId=binary["ARN"])["SecretBinary"] == b"\x00\x01"


def test_large_secret_under_key_round_trips(clients: tuple[Any, Any]) -> None:
    sm, kms = clients
    name = _name()
    big = "x" * 60000  # above KMS's 4096-byte Encrypt limit: envelope-encrypted
    sm.create_secret(Name=name, SecretString=big, KmsKeyId=_new_key(kms)["KeyId"])
    assert sm.get_secret_value(SecretId=name)["SecretString"] == big


def test_unknown_key_is_refused_and_creates_nothing(clients: tuple[Any, Any]) -> None:
    sm, _ = clients
    name = _name()
    for reference in ("alias/no-such-key", str(uuid.uuid4())):
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            sm.create_secret(Name=name, SecretString="v", KmsKeyId=reference)
        assert _code(exc) == "ResourceNotFoundException"
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.describe_secret(SecretId=name)
    assert _code(exc) == "ResourceNotFoundException"
    sm.create_secret(Name=name, SecretString="v")
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.update_secret(SecretId=name, KmsKeyId="alias/no-such-key")
    assert _code(exc) == "ResourceNotFoundException"
    assert "KmsKeyId" not in sm.describe_secret(SecretId=name)


def test_disabled_key_fails_reads_and_writes_until_enabled(
    clients: tuple[Any, Any], aws_server: HushProcess
) -> None:
    sm, kms = clients
    key_id = _new_key(kms)["KeyId"]
    name, plain = _name(), _name()
    sm.create_secret(Name=name, SecretString="under-key", KmsKeyId=key_id)
    sm.create_secret(Name=plain, SecretString="default-key")
    versions = sm.list_secret_version_ids(SecretId=name)["Versions"]
    kms.disable_key(KeyId=key_id)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.get_secret_value(SecretId=name)
    assert _code(exc) == "DecryptionFailure"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.put_secret_value(SecretId=name, SecretString="refused")
    assert _code(exc) == "EncryptionFailure"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.update_secret(SecretId=name, SecretString="refused")
    assert _code(exc) == "EncryptionFailure"
    with pytest.raises(hvac.exceptions.InvalidRequest) as vault_exc:
        aws_server.client().read(f"awssm/secrets/{name}")
    assert "decrypt" in str(vault_exc.value)
    # Nothing was half-written, and the default-key secret is unaffected.
    assert sm.list_secret_version_ids(SecretId=name)["Versions"] == versions
    assert sm.get_secret_value(SecretId=plain)["SecretString"] == "default-key"
    batch = sm.batch_get_secret_value(SecretIdList=[name, plain])
    assert [e["ErrorCode"] for e in batch["Errors"]] == ["DecryptionFailure"]
    assert [v["Name"] for v in batch["SecretValues"]] == [plain]

    kms.enable_key(KeyId=key_id)
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "under-key"
    sm.put_secret_value(SecretId=name, SecretString="after-enable")
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "after-enable"
    read = aws_server.client().read(f"awssm/secrets/{name}")
    assert read["data"]["secret_string"] == "after-enable"


def test_key_pending_deletion_refuses_with_encryption_failure(clients: tuple[Any, Any]) -> None:
    sm, kms = clients
    key_id = _new_key(kms)["KeyId"]
    name = _name()
    sm.create_secret(Name=name, SecretString="v1", KmsKeyId=key_id)
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.put_secret_value(SecretId=name, SecretString="v2")
    assert _code(exc) == "EncryptionFailure"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.get_secret_value(SecretId=name)
    assert _code(exc) == "DecryptionFailure"
    kms.cancel_key_deletion(KeyId=key_id)
    kms.enable_key(KeyId=key_id)
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "v1"


def test_changing_the_key_reencrypts_labelled_versions(clients: tuple[Any, Any]) -> None:
    sm, kms = clients
    first, second = _new_key(kms)["KeyId"], _new_key(kms)["KeyId"]
    name = _name()
    old = sm.create_secret(Name=name, SecretString="v1", KmsKeyId=first)["VersionId"]
    sm.put_secret_value(SecretId=name, SecretString="v2")
    sm.update_secret(SecretId=name, KmsKeyId=second)
    described = sm.describe_secret(SecretId=name)
    assert described["KmsKeyId"] == second
    kms.disable_key(KeyId=first)
    # AWSCURRENT and AWSPREVIOUS now live under the second key.
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "v2"
    assert sm.get_secret_value(SecretId=name, VersionId=old)["SecretString"] == "v1"
    sm.put_secret_value(SecretId=name, SecretString="v3")
    kms.enable_key(KeyId=first)
    kms.disable_key(KeyId=second)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.get_secret_value(SecretId=name)
    assert _code(exc) == "DecryptionFailure"
    kms.enable_key(KeyId=second)
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "v3"


def _wait_for_current(sm: Any, name: str, old_version: str, deadline: float = 30.0) -> str:
    """The AWSCURRENT version id once rotation has moved it off ``old_version``."""
    until = time.monotonic() + deadline
    while time.monotonic() < until:
        stages = sm.describe_secret(SecretId=name)["VersionIdsToStages"]
        current = [vid for vid, labels in stages.items() if "AWSCURRENT" in labels]
        if current and current[0] != old_version:
            return current[0]
        time.sleep(0.1)
    raise AssertionError(f"rotation of {name} did not finish within {deadline} s")


def test_rotation_writes_new_versions_under_the_key(clients: tuple[Any, Any]) -> None:
    sm, kms = clients
    key_id = _new_key(kms)["KeyId"]
    name = _name()
    first = sm.create_secret(
        Name=name, SecretString='{"username": "app", "password": "old"}', KmsKeyId=key_id
    )["VersionId"]
    rotated = sm.rotate_secret(SecretId=name)["VersionId"]
    assert _wait_for_current(sm, name, first) == rotated
    value = sm.get_secret_value(SecretId=name)["SecretString"]
    assert '"password"' in value and '"old"' not in value
    kms.disable_key(KeyId=key_id)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.get_secret_value(SecretId=name)
    assert _code(exc) == "DecryptionFailure"
    kms.enable_key(KeyId=key_id)
    assert sm.get_secret_value(SecretId=name)["SecretString"] == value


def test_default_key_alias_keeps_barrier_only_storage(clients: tuple[Any, Any]) -> None:
    sm, _ = clients
    name = _name()
    sm.create_secret(Name=name, SecretString="v", KmsKeyId="alias/aws/secretsmanager")
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "v"


def test_rotation_with_a_disabled_key_fails_visibly_and_retries(
    clients: tuple[Any, Any], aws_server: HushProcess
) -> None:
    sm, kms = clients
    key_id = _new_key(kms)["KeyId"]
    name = _name()
    first = sm.create_secret(Name=name, SecretString="before", KmsKeyId=key_id)["VersionId"]
    kms.disable_key(KeyId=key_id)
    sm.rotate_secret(SecretId=name)  # answers at once; the background run fails

    def failure() -> dict[str, Any] | None:
        raw = describe_secret_raw(
            aws_server.url, DEV_AWS_ACCESS_KEY_ID, DEV_AWS_SECRET_ACCESS_KEY, name
        )
        found = raw.get("HushRotationFailure")
        return dict(found) if found else None

    recorded = wait_for(failure, "the failed rotation being recorded")
    assert recorded["Failures"] == 1
    kms.enable_key(KeyId=key_id)
    state = aws_server.client().read(f"awssm/secrets/{name}")["data"]["rotation"]
    assert state["failures"] == 1 and "DecryptionFailure" in state["last_error"]
    assert state["next_rotation"] is not None  # retried with backoff
    assert sm.get_secret_value(SecretId=name)["VersionId"] == first
    again = sm.rotate_secret(SecretId=name)["VersionId"]
    assert _wait_for_current(sm, name, first) == again


def _key_pair(aws_server: HushProcess, policy: str, rules: str) -> Any:
    vault = aws_server.client()
    vault.sys.create_or_update_policy(policy, rules)
    created = vault.adapter.post(
        "/v1/auth/aws/keys", json={"policies": policy, "display_name": policy}
    )["data"]
    return secretsmanager(aws_server.url, created["access_key_id"], created["secret_access_key"])


def test_the_caller_needs_its_own_grant_on_the_kms_key(
    clients: tuple[Any, Any], aws_server: HushProcess
) -> None:
    """As AWS asks for kms:Decrypt / kms:GenerateDataKey on a customer key besides the Secrets
    Manager permission, Hush asks for ``update`` on ``transit/kms/{decrypt,encrypt}/<key id>``."""
    sm, kms = clients
    key_id = _new_key(kms)["KeyId"]
    guarded, plain, refused = _name(), _name(), _name()
    sm.create_secret(Name=guarded, SecretString="under-the-key", KmsKeyId=key_id)
    secrets_only = 'path "awssm/secrets/kms/*" { capabilities = ["create", "read", "update"] }\n'
    app = _key_pair(aws_server, "sm-no-kms", secrets_only)

    with pytest.raises(botocore.exceptions.ClientError) as exc:
        app.get_secret_value(SecretId=guarded)
    assert _code(exc) == "AccessDeniedException"
    assert "Access to KMS is not allowed" in str(exc.value)
    assert f"transit/kms/decrypt/{key_id}" in str(exc.value)
    assert "under-the-key" not in str(exc.value)
    assert app.describe_secret(SecretId=guarded)["KmsKeyId"] == key_id  # metadata is not keyed

    with pytest.raises(botocore.exceptions.ClientError) as exc:
        app.put_secret_value(SecretId=guarded, SecretString="replaced")
    assert _code(exc) == "AccessDeniedException"
    assert f"transit/kms/encrypt/{key_id}" in str(exc.value)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        app.create_secret(Name=refused, SecretString="v", KmsKeyId=key_id)
    assert _code(exc) == "AccessDeniedException"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.describe_secret(SecretId=refused)
    assert _code(exc) == "ResourceNotFoundException"  # nothing was written
    assert sm.get_secret_value(SecretId=guarded)["SecretString"] == "under-the-key"
    assert len(sm.list_secret_version_ids(SecretId=guarded)["Versions"]) == 1

    # The default key needs no KMS grant.
    app.create_secret(Name=plain, SecretString="barrier-only")
    assert app.get_secret_value(SecretId=plain)["SecretString"] == "barrier-only"

    granted = _key_pair(
        aws_server,
        "sm-with-kms",
        secrets_only + f'path "transit/kms/+/{key_id}" {{ capabilities = ["update"] }}\n',
    )
    granted.put_secret_value(SecretId=guarded, SecretString="replaced")
    assert granted.get_secret_value(SecretId=guarded)["SecretString"] == "replaced"

    # The Vault API's read of the same secret asks the same of a token.
    vault = aws_server.client()
    token = vault.auth.token.create(policies=["sm-no-kms"])["auth"]["client_token"]
    with pytest.raises(hvac.exceptions.Forbidden) as denied:
        aws_server.client(token).read(f"awssm/secrets/{guarded}")
    assert f"transit/kms/decrypt/{key_id}" in str(denied.value)
