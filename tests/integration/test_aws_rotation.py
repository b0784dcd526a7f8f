"""RotateSecret through boto3: the random-password rotator and an HTTPS webhook rotator."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.server
import ssl
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.exceptions
import orjson
import pytest

from tests.conftest import DEV_AWS_ACCESS_KEY_ID, DEV_AWS_SECRET_ACCESS_KEY
from tests.integration.test_tls import _write_pki
from tests.support.aws import (
    describe_secret_raw,
    rotation_finished,
    secretsmanager,
    wait_for,
)
from tests.support.server import HushProcess


class Webhook:
    """A local HTTPS rotation endpoint that records each step and can fail one on purpose."""

    def __init__(self, directory: Path) -> None:
        self.ca, cert, key = _write_pki(directory)
        self.calls: list[dict[str, Any]] = []
        self.signatures_ok: list[bool] = []
        self.fail_step = ""
        self.slow_step = ""
        self.release = threading.Event()
        self.key = b""
        hook = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                header = self.headers.get("X-Hush-Signature", "")
                parts = dict(p.split("=", 1) for p in header.split(","))
                mac = hmac.new(hook.key, parts["t"].encode() + b"." + body, hashlib.sha256)
                hook.signatures_ok.append(hmac.compare_digest(mac.hexdigest(), parts["v1"]))
                event = orjson.loads(body)
                hook.calls.append(event)
                if event["Step"] == hook.slow_step:
                    hook.release.wait(20)
                status = 500 if event["Step"] == hook.fail_step else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}/rotate"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def webhook(aws_server: HushProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Webhook]:
    hook = Webhook(tmp_path_factory.mktemp("webhook"))
    vault = aws_server.client()
    vault.adapter.post(
        "/v1/sys/mounts/awssm/tune",
        json={"options": {"webhook_ca_file": str(hook.ca), "rotation_alert_url": hook.url}},
    )

    hook.key = base64.b64decode(vault.adapter.get("/v1/awssm/rotation/webhook-key")["data"]["key"])
    yield hook
    hook.close()


@pytest.fixture
def sm(aws_server: HushProcess) -> Any:
    return secretsmanager(aws_server.url, DEV_AWS_ACCESS_KEY_ID, DEV_AWS_SECRET_ACCESS_KEY)


def _name() -> str:
    return f"rot/{uuid.uuid4().hex[:10]}"


def test_random_rotator_replaces_the_password_and_keeps_previous(sm: Any) -> None:
    name = _name()
    first = sm.create_secret(
        Name=name, SecretString='{"username": "app", "password": "initial-pw"}'
    )["VersionId"]
    rotated = sm.rotate_secret(
        SecretId=name, RotationRules={"ScheduleExpression": "rate(30 days)", "Duration": "3h"}
    )
    rotation_finished(sm, name, rotated["VersionId"])
    current = sm.get_secret_value(SecretId=name)
    assert current["VersionId"] == rotated["VersionId"] != first
    value = orjson.loads(current["SecretString"])
    assert value["username"] == "app" and value["password"] != "initial-pw"
    assert len(value["password"]) == 32
    previous = sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")
    assert orjson.loads(previous["SecretString"])["password"] == "initial-pw"
    described = sm.describe_secret(SecretId=name)
    assert described["RotationEnabled"] is True
    assert described["RotationRules"]["ScheduleExpression"] == "rate(30 days)"
    assert "LastRotatedDate" in described and "NextRotationDate" in described
    assert described["NextRotationDate"] > described["LastRotatedDate"]


def test_cancel_rotation_turns_it_off(sm: Any) -> None:
    name = _name()
    sm.create_secret(Name=name, SecretString="x")
    sm.rotate_secret(
        SecretId=name, RotationRules={"AutomaticallyAfterDays": 10}, RotateImmediately=False
    )
    assert sm.describe_secret(SecretId=name)["RotationEnabled"] is True
    sm.cancel_rotate_secret(SecretId=name)
    described = sm.describe_secret(SecretId=name)
    assert described["RotationEnabled"] is False
    assert "NextRotationDate" not in described
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "x"


def test_lambda_arn_and_plain_http_are_refused(sm: Any) -> None:
    name = _name()
    sm.create_secret(Name=name, SecretString="x")
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.rotate_secret(
            SecretId=name, RotationLambdaARN="arn:aws:lambda:us-east-1:000000000000:function:f"
        )
    assert exc.value.response["Error"]["Code"] == "InvalidRequestException"
    assert "webhook" in exc.value.response["Error"]["Message"]
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.rotate_secret(SecretId=name, RotationLambdaARN="http://127.0.0.1/rotate")
    assert exc.value.response["Error"]["Code"] == "InvalidParameterException"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.rotate_secret(SecretId=name, RotationRules={"ScheduleExpression": "rate(1 hours)"})
    assert exc.value.response["Error"]["Code"] == "InvalidParameterException"


def test_webhook_rotator_gets_the_four_signed_steps(sm: Any, webhook: Webhook) -> None:
    webhook.calls.clear()
    webhook.fail_step = ""
    name = _name()
    arn = sm.create_secret(Name=name, SecretString="old-password")["ARN"]
    rotated = sm.rotate_secret(SecretId=name, RotationLambdaARN=webhook.url)
    rotation_finished(sm, name, rotated["VersionId"])
    assert [c["Step"] for c in webhook.calls] == [
        "createSecret",
        "setSecret",
        "testSecret",
        "finishSecret",
    ]
    assert all(webhook.signatures_ok)
    assert {c["SecretId"] for c in webhook.calls} == {arn}
    assert {c["ClientRequestToken"] for c in webhook.calls} == {rotated["VersionId"]}
    new_value = sm.get_secret_value(SecretId=name)["SecretString"]
    assert new_value != "old-password"
    assert webhook.calls[1]["PendingSecret"] == {"SecretString": new_value}
    assert "PendingSecret" not in webhook.calls[3]


def test_failing_test_step_leaves_current_intact_and_is_visible(
    sm: Any, webhook: Webhook, aws_server: HushProcess
) -> None:
    webhook.calls.clear()
    webhook.fail_step = "testSecret"
    name = _name()
    first = sm.create_secret(Name=name, SecretString="keep-me")["VersionId"]
    arn = sm.describe_secret(SecretId=name)["ARN"]
    sm.rotate_secret(SecretId=name, RotationLambdaARN=webhook.url)
    wait_for(lambda: len(webhook.calls) >= 4, "the rotationFailed alert")
    assert [c["Step"] for c in webhook.calls] == [
        "createSecret",
        "setSecret",
        "testSecret",
        "rotationFailed",
    ]
    alert = webhook.calls[-1]
    assert alert["SecretId"] == arn and alert["Failures"] == 1
    assert "testSecret" in alert["Error"] and "PendingSecret" not in alert
    assert all(webhook.signatures_ok)
    current = sm.get_secret_value(SecretId=name)
    assert current["VersionId"] == first and current["SecretString"] == "keep-me"
    stages = sm.describe_secret(SecretId=name)["VersionIdsToStages"]
    assert sorted(stages.values()) == [["AWSCURRENT"], ["AWSPENDING"]]
    rotation = aws_server.client().adapter.get(f"/v1/awssm/secrets/{name}")["data"]["rotation"]
    assert rotation["failures"] == 1
    assert "testSecret" in rotation["last_error"] and "500" in rotation["last_error"]
    assert rotation["next_rotation"] is not None  # a retry is scheduled
    assert "rotation of secret" in aws_server.log_text()
    with aws_server.http() as http:
        text = http.get(
            "/v1/sys/metrics", params={"format": "prometheus"}, headers={"X-Vault-Token": "root"}
        ).text
    assert 'hush_secret_rotations_total{mount="awssm/",outcome="failure"} 1.0' in text
    assert 'hush_secret_rotations_failing{mount="awssm/"} 1.0' in text
    keys = (DEV_AWS_ACCESS_KEY_ID, DEV_AWS_SECRET_ACCESS_KEY)
    raw = describe_secret_raw(aws_server.url, *keys, name)
    assert raw["HushRotationFailure"]["Failures"] == 1
    # A retry that succeeds finishes the same pending version.
    webhook.fail_step = ""
    pending = next(v for v, s in stages.items() if s == ["AWSPENDING"])
    assert sm.rotate_secret(SecretId=name)["VersionId"] == pending
    rotation_finished(sm, name, pending)
    assert sm.get_secret_value(SecretId=name)["VersionId"] == pending
    assert sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")["SecretString"] == (
        "keep-me"
    )


def test_rotate_secret_answers_before_the_steps_and_refuses_a_second_one(
    sm: Any, webhook: Webhook
) -> None:
    webhook.calls.clear()
    webhook.fail_step = ""
    webhook.slow_step = "setSecret"
    webhook.release.clear()
    name = _name()
    first = sm.create_secret(Name=name, SecretString="before")["VersionId"]
    try:
        started = time.monotonic()
        rotated = sm.rotate_secret(SecretId=name, RotationLambdaARN=webhook.url)
        # The webhook holds setSecret for up to 20 s: 10 s is generous and still tells them apart.
        assert time.monotonic() - started < 10
        version = rotated["VersionId"]
        assert version != first
        wait_for(lambda: [c["Step"] for c in webhook.calls] == ["createSecret", "setSecret"],
                 "createSecret and setSecret reaching the webhook")  # fmt: skip
        stages = sm.describe_secret(SecretId=name)["VersionIdsToStages"]
        assert stages == {first: ["AWSCURRENT"], version: ["AWSPENDING"]}
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            sm.rotate_secret(SecretId=name)
        assert exc.value.response["Error"]["Code"] == "InvalidRequestException"
        assert "previous rotation isn't complete" in exc.value.response["Error"]["Message"]
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            sm.rotate_secret(
                SecretId=name, RotationRules={"AutomaticallyAfterDays": 5}, RotateImmediately=False
            )
        assert exc.value.response["Error"]["Code"] == "InvalidRequestException"
        # The rotator's steps do not hold the secret: reads and other writes go on meanwhile.
        during = time.monotonic()
        assert sm.get_secret_value(SecretId=name)["SecretString"] == "before"
        sm.tag_resource(SecretId=name, Tags=[{"Key": "during", "Value": "rotation"}])
        assert time.monotonic() - during < 10
    finally:
        webhook.slow_step = ""
        webhook.release.set()
    rotation_finished(sm, name, version)
    assert [c["Step"] for c in webhook.calls] == [
        "createSecret",
        "setSecret",
        "testSecret",
        "finishSecret",
    ]
    assert sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")["VersionId"] == first
    # Finished: rotating again is allowed.
    again = sm.rotate_secret(SecretId=name)["VersionId"]
    rotation_finished(sm, name, again)
