"""Secrets Manager actions round-trip through boto3 (parameter validation on) against Hush."""

from __future__ import annotations

import base64
import string
import uuid
from collections.abc import Iterator
from typing import Any

import botocore.exceptions
import pytest

from tests.conftest import DEV_AWS_ACCESS_KEY_ID, DEV_AWS_SECRET_ACCESS_KEY
from tests.support.aws import client, secretsmanager
from tests.support.server import HushProcess


@pytest.fixture
def sm(aws_server: HushProcess) -> Iterator[Any]:
    yield secretsmanager(aws_server.url, DEV_AWS_ACCESS_KEY_ID, DEV_AWS_SECRET_ACCESS_KEY)


def _name(prefix: str = "sm") -> str:
    return f"{prefix}/{uuid.uuid4().hex[:10]}"


def _code(exc: pytest.ExceptionInfo[botocore.exceptions.ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_put_secret_value_moves_current_and_previous(sm: Any) -> None:
    name = _name()
    first = sm.create_secret(Name=name, SecretString="v1")["VersionId"]
    second = sm.put_secret_value(SecretId=name, SecretString="v2")
    assert second["VersionStages"] == ["AWSCURRENT"]
    third = sm.put_secret_value(SecretId=name, SecretString="v3")["VersionId"]
    stages = sm.describe_secret(SecretId=name)["VersionIdsToStages"]
    assert stages == {second["VersionId"]: ["AWSPREVIOUS"], third: ["AWSCURRENT"]}
    assert first not in stages
    assert sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")["SecretString"] == "v2"
    assert sm.get_secret_value(SecretId=name, VersionId=first)["SecretString"] == "v1"
    listed = sm.list_secret_version_ids(SecretId=name, IncludeDeprecated=True)["Versions"]
    assert {v["VersionId"] for v in listed} == {first, second["VersionId"], third}
    assert len(sm.list_secret_version_ids(SecretId=name)["Versions"]) == 2


def test_client_request_token_is_idempotent(sm: Any) -> None:
    name = _name()
    token = str(uuid.uuid4())
    created = sm.create_secret(Name=name, SecretString="same", ClientRequestToken=token)
    again = sm.create_secret(Name=name, SecretString="same", ClientRequestToken=token)
    assert again["VersionId"] == created["VersionId"] == token
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.create_secret(Name=name, SecretString="different", ClientRequestToken=token)
    assert _code(exc) == "ResourceExistsException"
    put_token = str(uuid.uuid4())
    sm.put_secret_value(SecretId=name, SecretString="p", ClientRequestToken=put_token)
    repeat = sm.put_secret_value(SecretId=name, SecretString="p", ClientRequestToken=put_token)
    assert repeat["VersionId"] == put_token
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.put_secret_value(SecretId=name, SecretString="q", ClientRequestToken=put_token)
    assert _code(exc) == "ResourceExistsException"


def test_create_existing_secret_is_resource_exists(sm: Any) -> None:
    name = _name()
    sm.create_secret(Name=name, SecretString="a")
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.create_secret(Name=name, SecretString="b")
    assert _code(exc) == "ResourceExistsException"


def test_secret_binary_round_trips(sm: Any) -> None:
    name = _name()
    blob = bytes(range(256))
    sm.create_secret(Name=name, SecretBinary=blob)
    got = sm.get_secret_value(SecretId=name)
    assert got["SecretBinary"] == blob
    assert "SecretString" not in got


def test_secret_without_value_has_no_current_version(sm: Any) -> None:
    name = _name()
    created = sm.create_secret(Name=name, Description="empty")
    assert "VersionId" not in created
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.get_secret_value(SecretId=name)
    assert _code(exc) == "ResourceNotFoundException"


def test_update_secret_changes_description_kms_key_and_value(
    sm: Any, aws_server: HushProcess
) -> None:
    vault = aws_server.client()
    if "transit/" not in vault.sys.list_mounted_secrets_engines()["data"]:
        vault.sys.enable_secrets_engine("transit", path="transit")
    kms = client("kms", aws_server.url, DEV_AWS_ACCESS_KEY_ID, DEV_AWS_SECRET_ACCESS_KEY)
    for alias in ("alias/app", "alias/other"):
        kms.create_alias(AliasName=alias, TargetKeyId=kms.create_key()["KeyMetadata"]["KeyId"])
    name = _name()
    sm.create_secret(Name=name, SecretString="a", KmsKeyId="alias/app")
    updated = sm.update_secret(SecretId=name, Description="new", SecretString="b")
    assert "VersionId" in updated
    described = sm.describe_secret(SecretId=name)
    assert described["Description"] == "new"
    assert described["KmsKeyId"] == "alias/app"
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "b"
    only_meta = sm.update_secret(SecretId=name, KmsKeyId="alias/other")
    assert "VersionId" not in only_meta
    assert sm.describe_secret(SecretId=name)["KmsKeyId"] == "alias/other"


def test_update_secret_version_stage_moves_custom_and_current_labels(sm: Any) -> None:
    name = _name()
    v1 = sm.create_secret(Name=name, SecretString="1")["VersionId"]
    v2 = sm.put_secret_value(SecretId=name, SecretString="2", VersionStages=["CANARY"])["VersionId"]
    assert sm.get_secret_value(SecretId=name, VersionStage="CANARY")["SecretString"] == "2"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.update_secret_version_stage(SecretId=name, VersionStage="AWSCURRENT", MoveToVersionId=v2)
    assert _code(exc) == "InvalidParameterException"
    sm.update_secret_version_stage(
        SecretId=name, VersionStage="AWSCURRENT", MoveToVersionId=v2, RemoveFromVersionId=v1
    )
    stages = sm.describe_secret(SecretId=name)["VersionIdsToStages"]
    assert stages == {v1: ["AWSPREVIOUS"], v2: ["CANARY", "AWSCURRENT"]}
    sm.update_secret_version_stage(SecretId=name, VersionStage="CANARY", RemoveFromVersionId=v2)
    assert sm.describe_secret(SecretId=name)["VersionIdsToStages"][v2] == ["AWSCURRENT"]
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.update_secret_version_stage(
            SecretId=name, VersionStage="AWSCURRENT", RemoveFromVersionId=v2
        )
    assert _code(exc) == "InvalidParameterException"


def test_tags_are_added_overwritten_and_removed(sm: Any) -> None:
    name = _name()
    sm.create_secret(Name=name, SecretString="x", Tags=[{"Key": "team", "Value": "a"}])
    sm.tag_resource(
        SecretId=name, Tags=[{"Key": "team", "Value": "b"}, {"Key": "env", "Value": "prod"}]
    )
    tags = {t["Key"]: t["Value"] for t in sm.describe_secret(SecretId=name)["Tags"]}
    assert tags == {"team": "b", "env": "prod"}
    sm.untag_resource(SecretId=name, TagKeys=["team", "absent"])
    assert sm.describe_secret(SecretId=name)["Tags"] == [{"Key": "env", "Value": "prod"}]


def test_delete_with_recovery_window_then_restore(sm: Any) -> None:
    name = _name()
    sm.create_secret(Name=name, SecretString="x")
    deleted = sm.delete_secret(SecretId=name, RecoveryWindowInDays=7)
    assert deleted["Name"] == name
    for call in (
        lambda: sm.get_secret_value(SecretId=name),
        lambda: sm.put_secret_value(SecretId=name, SecretString="y"),
        lambda: sm.create_secret(Name=name, SecretString="z"),
    ):
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            call()
        assert _code(exc) == "InvalidRequestException"
    assert "DeletedDate" in sm.describe_secret(SecretId=name)
    names = [s["Name"] for s in sm.list_secrets(IncludePlannedDeletion=True)["SecretList"]]
    assert name in names
    assert name not in [s["Name"] for s in sm.list_secrets()["SecretList"]]
    sm.restore_secret(SecretId=name)
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "x"


def test_recovery_window_limits_and_force_delete(sm: Any) -> None:
    name = _name()
    sm.create_secret(Name=name, SecretString="x")
    for days in (6, 31):
        with pytest.raises(botocore.exceptions.ClientError):
            sm.delete_secret(SecretId=name, RecoveryWindowInDays=days)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.delete_secret(SecretId=name, RecoveryWindowInDays=7, ForceDeleteWithoutRecovery=True)
    assert _code(exc) == "InvalidParameterException"
    sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.describe_secret(SecretId=name)
    assert _code(exc) == "ResourceNotFoundException"
    sm.create_secret(Name=name, SecretString="again")


def test_arn_with_wrong_suffix_is_not_found(sm: Any) -> None:
    name = _name()
    arn = sm.create_secret(Name=name, SecretString="x")["ARN"]
    wrong = arn[:-6] + ("AAAAAA" if not arn.endswith("AAAAAA") else "BBBBBB")
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.get_secret_value(SecretId=wrong)
    assert _code(exc) == "ResourceNotFoundException"


def test_list_secrets_filters_sort_and_pagination(sm: Any) -> None:
    prefix = f"list{uuid.uuid4().hex[:6]}"
    names = [f"{prefix}/item-{i}" for i in range(5)]
    for i, name in enumerate(names):
        sm.create_secret(
            Name=name,
            SecretString="x",
            Description=f"Number {i}",
            Tags=[{"Key": "parity", "Value": "even" if i % 2 == 0 else "odd"}],
        )
    only = [{"Key": "name", "Values": [prefix]}]
    seen: list[str] = []
    token = None
    while True:
        kwargs: dict[str, Any] = {"Filters": only, "MaxResults": 2}
        if token:
            kwargs["NextToken"] = token
        page = sm.list_secrets(**kwargs)
        assert len(page["SecretList"]) <= 2
        seen += [s["Name"] for s in page["SecretList"]]
        token = page.get("NextToken")
        if not token:
            break
    assert seen == names
    desc = sm.list_secrets(Filters=only, SortOrder="desc")["SecretList"]
    assert [s["Name"] for s in desc] == names[::-1]
    even = sm.list_secrets(Filters=[*only, {"Key": "tag-value", "Values": ["even"]}])
    assert [s["Name"] for s in even["SecretList"]] == names[0::2]
    not_even = sm.list_secrets(Filters=[*only, {"Key": "tag-value", "Values": ["!even"]}])
    assert [s["Name"] for s in not_even["SecretList"]] == names[1::2]
    by_description = sm.list_secrets(
        Filters=[*only, {"Key": "description", "Values": ["number 3"]}]
    )
    assert [s["Name"] for s in by_description["SecretList"]] == [names[3]]
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.list_secrets(NextToken="garbage!")
    assert _code(exc) == "InvalidNextTokenException"


def test_batch_get_secret_value_by_ids_and_filters(sm: Any) -> None:
    prefix = f"batch{uuid.uuid4().hex[:6]}"
    for i in range(3):
        sm.create_secret(Name=f"{prefix}/{i}", SecretString=f"value-{i}")
    got = sm.batch_get_secret_value(SecretIdList=[f"{prefix}/0", f"{prefix}/2", "missing-x"])
    assert [v["SecretString"] for v in got["SecretValues"]] == ["value-0", "value-2"]
    assert got["Errors"][0]["SecretId"] == "missing-x"
    assert got["Errors"][0]["ErrorCode"] == "ResourceNotFoundException"
    filtered = sm.batch_get_secret_value(Filters=[{"Key": "name", "Values": [prefix]}])
    assert sorted(v["SecretString"] for v in filtered["SecretValues"]) == [
        "value-0",
        "value-1",
        "value-2",
    ]


def test_get_random_password_options(sm: Any) -> None:
    default = sm.get_random_password()["RandomPassword"]
    assert len(default) == 32
    digits = sm.get_random_password(
        PasswordLength=50, ExcludeLowercase=True, ExcludeUppercase=True, ExcludePunctuation=True
    )["RandomPassword"]
    assert len(digits) == 50 and set(digits) <= set(string.digits)
    spaced = sm.get_random_password(
        PasswordLength=4, IncludeSpace=True, ExcludeNumbers=True, ExcludePunctuation=True
    )["RandomPassword"]
    assert " " in spaced and any(c.islower() for c in spaced) and any(c.isupper() for c in spaced)
    excluded = sm.get_random_password(PasswordLength=200, ExcludeCharacters="abcABC123!")[
        "RandomPassword"
    ]
    assert not set(excluded) & set("abcABC123!")
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.get_random_password(
            ExcludeLowercase=True,
            ExcludeUppercase=True,
            ExcludeNumbers=True,
            ExcludePunctuation=True,
        )
    assert _code(exc) == "InvalidParameterException"


def test_resource_policies(sm: Any) -> None:
    name = _name()
    sm.create_secret(Name=name, SecretString="x")
    policy = (
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":'
        '{"AWS":"arn:aws:iam::000000000000:root"},"Action":"secretsmanager:GetSecretValue",'
        '"Resource":"*"}]}'
    )
    sm.put_resource_policy(SecretId=name, ResourcePolicy=policy)
    assert sm.get_resource_policy(SecretId=name)["ResourcePolicy"] == policy
    public = policy.replace('{"AWS":"arn:aws:iam::000000000000:root"}', '"*"')
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.put_resource_policy(SecretId=name, ResourcePolicy=public)
    assert _code(exc) == "InvalidParameterException"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.put_resource_policy(SecretId=name, ResourcePolicy="{not json")
    assert _code(exc) == "MalformedPolicyDocumentException"
    sm.delete_resource_policy(SecretId=name)
    assert "ResourcePolicy" not in sm.get_resource_policy(SecretId=name)
    assert sm.validate_resource_policy(ResourcePolicy=policy)["PolicyValidationPassed"] is True
    checked = sm.validate_resource_policy(ResourcePolicy=public)
    assert checked["PolicyValidationPassed"] is False
    assert checked["ValidationErrors"][0]["CheckName"] == "PUBLIC_ACCESS"


def test_secret_binary_base64_on_the_wire(aws_server: HushProcess) -> None:
    from tests.support.aws import signed_request

    name = _name()
    answer = signed_request(
        aws_server.url,
        "secretsmanager.CreateSecret",
        {"Name": name, "SecretBinary": "not base64 !!"},
        DEV_AWS_ACCESS_KEY_ID,
        DEV_AWS_SECRET_ACCESS_KEY,
    )
    assert answer.error_type == "SerializationException"
    encoded = base64.b64encode(b"\x00\x01").decode()
    ok = signed_request(
        aws_server.url,
        "secretsmanager.CreateSecret",
        {"Name": name, "SecretBinary": encoded},
        DEV_AWS_ACCESS_KEY_ID,
        DEV_AWS_SECRET_ACCESS_KEY,
    )
    assert ok.status == 200
    got = signed_request(
        aws_server.url,
        "secretsmanager.GetSecretValue",
        {"SecretId": name},
        DEV_AWS_ACCESS_KEY_ID,
        DEV_AWS_SECRET_ACCESS_KEY,
    )
    assert got.body["SecretBinary"] == encoded


def test_concurrent_writes_lose_no_version(aws_server: HushProcess) -> None:
    from concurrent.futures import ThreadPoolExecutor

    name = _name("race")
    clients = [
        secretsmanager(aws_server.url, DEV_AWS_ACCESS_KEY_ID, DEV_AWS_SECRET_ACCESS_KEY)
        for _ in range(8)
    ]
    clients[0].create_secret(Name=name, SecretString="start")

    def put(i: int) -> str:
        client = clients[i % len(clients)]
        if i % 3 == 0:
            client.get_secret_value(SecretId=name)
        return str(client.put_secret_value(SecretId=name, SecretString=f"v{i}")["VersionId"])

    with ThreadPoolExecutor(max_workers=8) as pool:
        written = set(pool.map(put, range(24)))
    listed = clients[0].list_secret_version_ids(SecretId=name, IncludeDeprecated=True)
    assert written <= {v["VersionId"] for v in listed["Versions"]}
    stages = clients[0].describe_secret(SecretId=name)["VersionIdsToStages"]
    assert sorted(stages.values()) == [["AWSCURRENT"], ["AWSPREVIOUS"]]
