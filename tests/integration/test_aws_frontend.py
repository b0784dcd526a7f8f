"""The AWS front end: SigV4 checks, AWS error shapes and the dev key pair (boto3, raw calls)."""

from __future__ import annotations

import datetime
import uuid

import botocore.exceptions
import pytest

from tests.conftest import DEV_AWS_ACCESS_KEY_ID, DEV_AWS_SECRET_ACCESS_KEY
from tests.support.aws import secretsmanager, signed_request
from tests.support.server import HushProcess


def _name() -> str:
    return f"frontend/{uuid.uuid4().hex[:10]}"


def _error(exc: pytest.ExceptionInfo[botocore.exceptions.ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_dev_banner_prints_the_aws_key_pair(aws_server: HushProcess) -> None:
    text = aws_server.log_text()
    assert f"export AWS_ACCESS_KEY_ID='{DEV_AWS_ACCESS_KEY_ID}'" in text
    assert f"export AWS_SECRET_ACCESS_KEY='{DEV_AWS_SECRET_ACCESS_KEY}'" in text


def test_create_and_get_secret_round_trip(aws_server: HushProcess) -> None:
    client = secretsmanager(aws_server.url, DEV_AWS_ACCESS_KEY_ID, DEV_AWS_SECRET_ACCESS_KEY)
    name = _name()
    created = client.create_secret(Name=name, SecretString="hunter2")
    assert created["Name"] == name
    assert created["ARN"].startswith(
        f"arn:aws:secretsmanager:us-east-1:000000000000:secret:{name}-"
    )
    got = client.get_secret_value(SecretId=created["ARN"])
    assert got["SecretString"] == "hunter2"
    assert got["VersionStages"] == ["AWSCURRENT"]
    assert got["VersionId"] == created["VersionId"]


def test_wrong_secret_key_is_invalid_signature(aws_server: HushProcess) -> None:
    client = secretsmanager(aws_server.url, DEV_AWS_ACCESS_KEY_ID, "x" * 40)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        client.list_secrets()
    assert _error(exc) == "InvalidSignatureException"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_unknown_access_key_is_unrecognized_client(aws_server: HushProcess) -> None:
    client = secretsmanager(aws_server.url, "AKIAUNKNOWNKEY000000", DEV_AWS_SECRET_ACCESS_KEY)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        client.list_secrets()
    assert _error(exc) == "UnrecognizedClientException"
    assert "security token included in the request is invalid" in str(exc.value)


def test_request_dated_twenty_minutes_ago_is_refused(aws_server: HushProcess) -> None:
    when = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=20)
    answer = signed_request(
        aws_server.url,
        "secretsmanager.ListSecrets",
        {},
        DEV_AWS_ACCESS_KEY_ID,
        DEV_AWS_SECRET_ACCESS_KEY,
        when=when,
    )
    assert answer.status == 400
    assert answer.error_type == "InvalidSignatureException"
    assert answer.body["message"].startswith("Signature expired:")
    assert answer.headers["x-amzn-errortype"] == "InvalidSignatureException"


def test_request_dated_ten_minutes_ago_is_accepted(aws_server: HushProcess) -> None:
    when = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=10)
    answer = signed_request(
        aws_server.url,
        "secretsmanager.ListSecrets",
        {},
        DEV_AWS_ACCESS_KEY_ID,
        DEV_AWS_SECRET_ACCESS_KEY,
        when=when,
    )
    assert answer.status == 200, answer.body
    assert "SecretList" in answer.body


def test_tampered_body_is_invalid_signature(aws_server: HushProcess) -> None:
    name = _name()
    answer = signed_request(
        aws_server.url,
        "secretsmanager.CreateSecret",
        {"Name": name, "SecretString": "a"},
        DEV_AWS_ACCESS_KEY_ID,
        DEV_AWS_SECRET_ACCESS_KEY,
        tamper=f'{{"Name": "{name}", "SecretString": "b"}}'.encode(),
    )
    assert answer.status == 400
    assert answer.error_type == "InvalidSignatureException"
    client = secretsmanager(aws_server.url, DEV_AWS_ACCESS_KEY_ID, DEV_AWS_SECRET_ACCESS_KEY)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        client.describe_secret(SecretId=name)
    assert _error(exc) == "ResourceNotFoundException"


def test_missing_authorization_is_missing_token(aws_server: HushProcess) -> None:
    with aws_server.http() as http:
        response = http.post(
            "/",
            content=b"{}",
            headers={
                "X-Amz-Target": "secretsmanager.ListSecrets",
                "Content-Type": "application/x-amz-json-1.1",
            },
        )
    assert response.status_code == 400
    assert response.json()["__type"] == "MissingAuthenticationTokenException"


def test_malformed_json_is_serialization_exception(aws_server: HushProcess) -> None:
    answer = signed_request(
        aws_server.url,
        "secretsmanager.ListSecrets",
        b"{not json",
        DEV_AWS_ACCESS_KEY_ID,
        DEV_AWS_SECRET_ACCESS_KEY,
    )
    assert answer.status == 400
    assert answer.error_type == "SerializationException"


def test_unknown_action_is_unknown_operation(aws_server: HushProcess) -> None:
    answer = signed_request(
        aws_server.url,
        "secretsmanager.FlyToTheMoon",
        {},
        DEV_AWS_ACCESS_KEY_ID,
        DEV_AWS_SECRET_ACCESS_KEY,
    )
    assert answer.status == 400
    assert answer.error_type == "UnknownOperationException"


def test_oversized_body_is_refused(aws_server: HushProcess) -> None:
    answer = signed_request(
        aws_server.url,
        "secretsmanager.CreateSecret",
        {"Name": _name(), "SecretString": "x" * (2 * 1024 * 1024)},
        DEV_AWS_ACCESS_KEY_ID,
        DEV_AWS_SECRET_ACCESS_KEY,
    )
    assert answer.status == 413
    assert answer.error_type == "RequestEntityTooLargeException"


def test_wrong_field_types_are_refused_server_side(aws_server: HushProcess) -> None:
    for body, expected in (
        ({"Name": _name(), "SecretString": 12}, "SerializationException"),
        ({"Name": _name(), "Description": ["x"]}, "SerializationException"),
        ({"Name": "bad name with spaces"}, "ValidationException"),
        (
            {"Name": _name(), "SecretString": "a", "SecretBinary": "YQ=="},
            "InvalidParameterException",
        ),
    ):
        answer = signed_request(
            aws_server.url,
            "secretsmanager.CreateSecret",
            body,
            DEV_AWS_ACCESS_KEY_ID,
            DEV_AWS_SECRET_ACCESS_KEY,
        )
        assert (answer.status, answer.error_type) == (400, expected), (body, answer.body)


def test_key_bound_to_a_policy_without_access_is_denied(aws_server: HushProcess) -> None:
    vault = aws_server.client()
    vault.sys.create_or_update_policy(
        "sm-reader-app",
        'path "awssm/secrets/app-*" { capabilities = ["read"] }\n'
        'path "awssm/secrets/" { capabilities = ["list"] }',
    )
    created = vault.adapter.post(
        "/v1/auth/aws/keys", json={"policies": "sm-reader-app", "display_name": "reader"}
    )["data"]
    admin = secretsmanager(aws_server.url, DEV_AWS_ACCESS_KEY_ID, DEV_AWS_SECRET_ACCESS_KEY)
    admin.create_secret(Name="app-allowed", SecretString="ok")
    admin.create_secret(Name="other-denied", SecretString="no")
    reader = secretsmanager(aws_server.url, created["access_key_id"], created["secret_access_key"])
    assert reader.get_secret_value(SecretId="app-allowed")["SecretString"] == "ok"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        reader.get_secret_value(SecretId="other-denied")
    assert _error(exc) == "AccessDeniedException"
    assert "awssm/secrets/other-denied" in str(exc.value)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        reader.put_secret_value(SecretId="app-allowed", SecretString="changed")
    assert _error(exc) == "AccessDeniedException"
    # Deleting the key pair takes effect on the next request.
    vault.adapter.delete(f"/v1/auth/aws/keys/{created['access_key_id']}")
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        reader.get_secret_value(SecretId="app-allowed")
    assert _error(exc) == "UnrecognizedClientException"


def test_secret_access_key_is_never_shown_again(aws_server: HushProcess) -> None:
    vault = aws_server.client()
    created = vault.adapter.post("/v1/auth/aws/keys", json={"policies": "default"})["data"]
    read = vault.adapter.get(f"/v1/auth/aws/keys/{created['access_key_id']}")["data"]
    assert "secret_access_key" not in read
    listed = vault.adapter.list("/v1/auth/aws/keys")["data"]["keys"]
    assert created["access_key_id"] in listed


def test_root_policy_cannot_be_bound_through_the_api(aws_server: HushProcess) -> None:
    with aws_server.http() as http:
        response = http.post(
            "/v1/auth/aws/keys",
            json={"policies": "root"},
            headers={"X-Vault-Token": "root"},
        )
    assert response.status_code == 400
    assert "root" in response.json()["errors"][0]


def test_vault_api_sees_awssm_secrets_read_only(aws_server: HushProcess) -> None:
    client = secretsmanager(aws_server.url, DEV_AWS_ACCESS_KEY_ID, DEV_AWS_SECRET_ACCESS_KEY)
    name = _name()
    client.create_secret(Name=name, SecretString="both-doors")
    vault = aws_server.client()
    read = vault.adapter.get(f"/v1/awssm/secrets/{name}")["data"]
    assert read["secret_string"] == "both-doors"
    assert read["name"] == name
    with aws_server.http() as http:
        response = http.post(
            f"/v1/awssm/secrets/{name}", json={"x": 1}, headers={"X-Vault-Token": "root"}
        )
    assert response.status_code == 400
    assert "read-only" in response.json()["errors"][0]


def test_bad_dev_key_pair_flags_are_usage_errors() -> None:
    import subprocess
    import sys

    for flag in ("-dev-aws-access-key-id=lowercase-id", "-dev-aws-secret-access-key=short"):
        done = subprocess.run(
            [sys.executable, "-m", "hush.cli.main", "server", "-dev", flag],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode != 0
        assert "-dev-aws-*" in done.stderr
