"""A failed rotation writes a ``rotation-failed`` entry to the audit devices (no secret values)."""

from __future__ import annotations

import uuid
from pathlib import Path

import orjson

from tests.conftest import DEV_AWS_ACCESS_KEY_ID, DEV_AWS_SECRET_ACCESS_KEY
from tests.support.aws import secretsmanager, wait_for
from tests.support.server import HushProcess, free_port


def test_rotation_failure_is_audited_with_hashed_fields_and_no_secret(
    aws_server: HushProcess, tmp_path: Path
) -> None:
    audit_file = tmp_path / "audit.log"
    vault = aws_server.client()
    vault.sys.enable_audit_device("file", path="rotfile", options={"file_path": str(audit_file)})
    canary = f"canary-{uuid.uuid4().hex}"
    sm = secretsmanager(aws_server.url, DEV_AWS_ACCESS_KEY_ID, DEV_AWS_SECRET_ACCESS_KEY)
    name = f"audited/{uuid.uuid4().hex[:8]}"
    # Nothing listens on the port: setSecret cannot log in, the rotation fails.
    value = {"host": "127.0.0.1", "port": free_port(), "username": "app", "password": canary}
    arn = sm.create_secret(Name=name, SecretString=orjson.dumps(value).decode())["ARN"]
    try:
        sm.rotate_secret(SecretId=name, RotationLambdaARN="hush:postgresql-single-user")
        wait_for(lambda: b"rotation-failed" in audit_file.read_bytes(), "the rotation-failed entry")
        records = [orjson.loads(line) for line in audit_file.read_bytes().splitlines()]
        hashed = vault.adapter.post("/v1/sys/audit-hash/rotfile", json={"input": arn})
    finally:
        vault.sys.disable_audit_device("rotfile")
    events = [r for r in records if r.get("type") == "event"]
    assert len(events) == 1, events
    event = events[0]
    assert event["event"] == "rotation-failed"
    assert event["request"]["path"] == "awssm/rotation-failed"
    assert event["request"]["mount_type"] == "awssm"
    assert event["error"].startswith("setSecret: cannot log in to PostgreSQL")
    data = event["response"]["data"]
    # Strings are HMAC'd like any response data; the hash matches sys/audit-hash.
    assert data["secret_id"] == hashed["data"]["hash"] and data["secret_id"].startswith(
        "hmac-sha256:"
    )
    assert data["failures"] == 1
    text = audit_file.read_text()
    assert canary not in text
    assert canary not in aws_server.log_text()
