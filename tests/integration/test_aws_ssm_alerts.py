"""SSM parameter-policy notifications on the shared alert path: log, metric, signed HTTPS POST."""

from __future__ import annotations

import base64
import datetime
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import DEV_AWS_ACCESS_KEY_ID, DEV_AWS_SECRET_ACCESS_KEY
from tests.integration.test_aws_rotation import Webhook
from tests.support.aws import client
from tests.support.server import HushProcess


@pytest.fixture
def receiver(
    aws_server: HushProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Webhook]:
    hook = Webhook(tmp_path_factory.mktemp("ssm-alerts"))
    vault = aws_server.client()
    vault.sys.enable_secrets_engine("transit", path="transit")  # SecureStrings' KMS keys
    vault.adapter.post(
        "/v1/sys/mounts/ssm/tune",
        json={"options": {"webhook_ca_file": str(hook.ca), "alert_url": hook.url}},
    )
    hook.key = base64.b64decode(vault.adapter.get("/v1/ssm/alert/webhook-key")["data"]["key"])
    yield hook
    hook.close()


def test_expiration_notification_is_logged_counted_and_posted_signed(
    aws_server: HushProcess, receiver: Webhook
) -> None:
    ssm: Any = client("ssm", aws_server.url, DEV_AWS_ACCESS_KEY_ID, DEV_AWS_SECRET_ACCESS_KEY)
    name = f"/alerts{uuid.uuid4().hex[:8]}/db"
    canary = f"canary-{uuid.uuid4().hex}"
    expires = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1, seconds=3)
    policies = (
        '[{"Type":"Expiration","Version":"1.0","Attributes":{"Timestamp":"'
        + expires.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        + '"}},{"Type":"ExpirationNotification","Version":"1.0",'
        '"Attributes":{"Before":"1","Unit":"Hours"}}]'
    )
    ssm.put_parameter(
        Name=name, Value=canary, Type="SecureString", Tier="Advanced", Policies=policies
    )
    deadline = time.monotonic() + 30  # the scheduler runs every 10 s
    while not receiver.calls and time.monotonic() < deadline:
        time.sleep(0.5)
    assert receiver.calls, "no ExpirationNotification alert within 30 s"
    event = receiver.calls[0]
    assert event["Step"] == "ExpirationNotification"
    assert event["Name"] == name
    assert event["ARN"].endswith(":parameter" + name)
    assert event["ExpirationDate"] == int(expires.replace(microsecond=0).timestamp())
    assert receiver.signatures_ok == [True]
    assert canary not in str(event)
    log = aws_server.log_text()
    assert f"ssm parameter {name} expires at" in log and canary not in log
    with aws_server.http() as http:
        text = http.get(
            "/v1/sys/metrics", params={"format": "prometheus"}, headers={"X-Vault-Token": "root"}
        ).text
    assert (
        'hush_ssm_policy_notifications_total{mount="ssm/",policy="ExpirationNotification"} 1.0'
        in text
    )
    # The parameter itself is untouched by the notification.
    assert ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"] == canary
