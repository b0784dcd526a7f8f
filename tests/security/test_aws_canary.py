"""Secrets Manager values never reach storage, audit entries or server logs in clear.

A canary SecretString and SecretBinary go through every value-bearing action (create, put,
update, get, batch get, rotate, malformed and refused requests); then the SQLite files, the audit
log and the server's output are searched for them in clear, hex and base64. The secret access key
of a key pair made through the API gets the same search (only the create answer shows it), and a
refused signature is audited without the key that made it.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest

from tests.conftest import DEV_AWS_ACCESS_KEY_ID, DEV_AWS_SECRET_ACCESS_KEY
from tests.security.test_canary import _assert_absent
from tests.support.aws import rotation_finished, secretsmanager, signed_request
from tests.support.server import HushProcess


def _files(directory: Path, pattern: str) -> bytes:
    files = sorted(directory.glob(pattern))
    assert files, f"no {pattern} in {directory}"
    return b"".join(f.read_bytes() for f in files)


def test_secret_values_never_stored_logged_or_audited_in_clear(aws_server: HushProcess) -> None:
    audit_path = aws_server.workdir / "audit.log"
    vault = aws_server.client()
    vault.sys.enable_audit_device("file", options={"file_path": str(audit_path)})
    canary = f"canary-{uuid.uuid4().hex}"
    binary = f"binary-{uuid.uuid4().hex}".encode()
    updated = f"updated-{uuid.uuid4().hex}"
    sm = secretsmanager(aws_server.url, DEV_AWS_ACCESS_KEY_ID, DEV_AWS_SECRET_ACCESS_KEY)
    name = f"canary/{uuid.uuid4().hex[:8]}"
    sm.create_secret(Name=name, SecretString=canary)
    sm.create_secret(Name=name + "-bin", SecretBinary=binary)
    sm.get_secret_value(SecretId=name)
    sm.get_secret_value(SecretId=name + "-bin")
    sm.batch_get_secret_value(SecretIdList=[name, name + "-bin"])
    sm.put_secret_value(SecretId=name, SecretString=canary + "-2")
    sm.update_secret(SecretId=name, SecretString=updated)
    rotation_finished(sm, name, sm.rotate_secret(SecretId=name)["VersionId"])
    rotated = sm.get_secret_value(SecretId=name)["SecretString"]
    with pytest.raises(botocore.exceptions.ClientError):
        sm.create_secret(Name=name, SecretString=canary)  # exists: refused
    with pytest.raises(botocore.exceptions.ClientError):
        sm.put_secret_value(SecretId="missing-" + name, SecretString=canary)
    signed_request(
        aws_server.url,
        "secretsmanager.CreateSecret",
        b'{"Name": "x", "SecretString": "' + canary.encode() + b'"',  # malformed JSON
        DEV_AWS_ACCESS_KEY_ID,
        DEV_AWS_SECRET_ACCESS_KEY,
    )
    key = vault.adapter.post("/v1/auth/aws/keys", json={"policies": "default"})["data"]
    denied = secretsmanager(aws_server.url, key["access_key_id"], key["secret_access_key"])
    with pytest.raises(botocore.exceptions.ClientError):
        denied.put_secret_value(SecretId=name, SecretString=canary)
    wrong = secretsmanager(aws_server.url, DEV_AWS_ACCESS_KEY_ID, canary + "-as-secret-key")
    with pytest.raises(botocore.exceptions.ClientError):
        wrong.list_secrets()
    time.sleep(0.5)  # let the SQLite writer and the audit file flush
    secrets: dict[str, bytes] = {
        "SecretString": canary.encode(),
        "SecretBinary": binary,
        "updated SecretString": updated.encode(),
        "rotated SecretString": rotated.encode(),
        "API-made secret access key": key["secret_access_key"].encode(),
    }
    audit = audit_path.read_bytes()
    assert b'"path":"awssm/secrets/canary/' in audit
    refused = [
        line for line in audit.splitlines() if b'"path":"aws/secretsmanager.ListSecrets"' in line
    ]
    assert refused and b"signature we calculated does not match" in refused[-1]
    _assert_absent(audit, secrets, "the audit log")
    _assert_absent(_files(aws_server.workdir, "hush.db*"), secrets, "the SQLite files")
    _assert_absent(aws_server.log_text().encode(), secrets, "the server output")
    dev_key: dict[str, Any] = {"dev secret access key": DEV_AWS_SECRET_ACCESS_KEY.encode()}
    _assert_absent(_files(aws_server.workdir, "hush.db*"), dev_key, "the SQLite files")
    _assert_absent(audit, dev_key, "the audit log")
