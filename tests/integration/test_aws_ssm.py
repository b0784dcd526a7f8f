"""Parameter Store through boto3 (parameter validation on) against a dev server (ssm/ mounted
by dev mode, transit/ enabled here): every action, selectors, labels, tags, tiers, policies,
SecureStrings under KMS keys, the decrypt permission, and AWS's error types.
"""

from __future__ import annotations

import datetime
import time
import uuid
from collections.abc import Iterator
from typing import Any

import botocore.exceptions
import hvac.exceptions
import pytest

from tests.conftest import DEV_AWS_ACCESS_KEY_ID, DEV_AWS_SECRET_ACCESS_KEY
from tests.support.aws import client, signed_request
from tests.support.server import HushProcess


@pytest.fixture(scope="module")
def server(aws_server: HushProcess) -> HushProcess:
    aws_server.client().sys.enable_secrets_engine("transit", path="transit")
    return aws_server


@pytest.fixture(scope="module")
def ssm(server: HushProcess) -> Iterator[Any]:
    yield client("ssm", server.url, DEV_AWS_ACCESS_KEY_ID, DEV_AWS_SECRET_ACCESS_KEY)


@pytest.fixture
def root() -> str:
    return f"/t{uuid.uuid4().hex[:8]}"


def _code(exc: pytest.ExceptionInfo[botocore.exceptions.ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_put_get_overwrite_and_versions(ssm: Any, root: str) -> None:
    name = f"{root}/app/url"
    assert ssm.put_parameter(Name=name, Value="v1", Type="String")["Version"] == 1
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        ssm.put_parameter(Name=name, Value="v2", Type="String")
    assert _code(exc) == "ParameterAlreadyExists"
    put = ssm.put_parameter(Name=name, Value="v2", Overwrite=True)
    assert put == {"Version": 2, "Tier": "Standard", "ResponseMetadata": put["ResponseMetadata"]}
    got = ssm.get_parameter(Name=name)["Parameter"]
    assert (got["Value"], got["Version"], got["Type"]) == ("v2", 2, "String")
    assert got["ARN"].endswith(f":parameter{name}")
    assert isinstance(got["LastModifiedDate"], datetime.datetime)
    assert ssm.get_parameter(Name=f"{name}:1")["Parameter"]["Value"] == "v1"
    assert ssm.get_parameter(Name=f"{name}:1")["Parameter"]["Selector"] == ":1"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        ssm.get_parameter(Name=f"{name}:9")
    assert _code(exc) == "ParameterVersionNotFound"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        ssm.get_parameter(Name=f"{root}/missing")
    assert _code(exc) == "ParameterNotFound"


def test_labels_select_versions(ssm: Any, root: str) -> None:
    name = f"{root}/labelled"
    ssm.put_parameter(Name=name, Value="a", Type="String")
    ssm.put_parameter(Name=name, Value="b", Type="String", Overwrite=True)
    out = ssm.label_parameter_version(Name=name, ParameterVersion=1, Labels=["prod", "1bad"])
    assert out["InvalidLabels"] == ["1bad"] and out["ParameterVersion"] == 1
    assert ssm.get_parameter(Name=f"{name}:prod")["Parameter"]["Value"] == "a"
    ssm.label_parameter_version(Name=name, Labels=["prod"])  # moves to the latest
    assert ssm.get_parameter(Name=f"{name}:prod")["Parameter"]["Value"] == "b"
    history = ssm.get_parameter_history(Name=name)["Parameters"]
    assert [(h["Version"], h["Labels"]) for h in history] == [(1, []), (2, ["prod"])]
    removed = ssm.unlabel_parameter_version(Name=name, ParameterVersion=2, Labels=["prod", "x"])
    assert removed["RemovedLabels"] == ["prod"] and removed["InvalidLabels"] == ["x"]
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        ssm.get_parameter(Name=f"{name}:prod")
    assert _code(exc) == "ParameterNotFound"


def test_get_parameters_lists_invalid_ones(ssm: Any, root: str) -> None:
    ssm.put_parameter(Name=f"{root}/a", Value="1", Type="String")
    ssm.put_parameter(Name=f"{root}/b", Value="x,y", Type="StringList")
    out = ssm.get_parameters(Names=[f"{root}/a", f"{root}/b", f"{root}/nope", f"{root}/a:7"])
    assert sorted(p["Name"] for p in out["Parameters"]) == [f"{root}/a", f"{root}/b"]
    assert sorted(out["InvalidParameters"]) == [f"{root}/a:7", f"{root}/nope"]


def test_secure_string_default_key_and_decryption(ssm: Any, server: HushProcess, root: str) -> None:
    name = f"{root}/db/password"
    ssm.put_parameter(Name=name, Value="s3cr3t-value", Type="SecureString")
    raw = ssm.get_parameter(Name=name)["Parameter"]
    assert raw["Type"] == "SecureString" and raw["Value"] != "s3cr3t-value"
    clear = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]
    assert clear["Value"] == "s3cr3t-value"
    meta = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [name]}])[
        "Parameters"
    ]
    assert meta[0]["KeyId"] == "alias/aws/ssm"
    kms = client("kms", server.url, DEV_AWS_ACCESS_KEY_ID, DEV_AWS_SECRET_ACCESS_KEY)
    assert kms.describe_key(KeyId="alias/aws/ssm")["KeyMetadata"]["KeyManager"] == "AWS"


def test_secure_string_with_named_key_and_unknown_key(
    ssm: Any, server: HushProcess, root: str
) -> None:
    kms = client("kms", server.url, DEV_AWS_ACCESS_KEY_ID, DEV_AWS_SECRET_ACCESS_KEY)
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    alias = f"alias/ssm-{uuid.uuid4().hex[:6]}"
    kms.create_alias(AliasName=alias, TargetKeyId=key_id)
    name = f"{root}/api-key"
    ssm.put_parameter(Name=name, Value="k-1", Type="SecureString", KeyId=alias)
    assert ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"] == "k-1"
    history = ssm.get_parameter_history(Name=name, WithDecryption=True)["Parameters"]
    assert history[0]["Value"] == "k-1" and history[0]["KeyId"] == alias
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        ssm.put_parameter(
            Name=f"{root}/bad-key", Value="x", Type="SecureString", KeyId="alias/nope"
        )
    assert _code(exc) == "InvalidKeyId"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        ssm.get_parameter(Name=f"{root}/bad-key")
    assert _code(exc) == "ParameterNotFound"  # nothing half-written
    kms.disable_key(KeyId=key_id)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        ssm.get_parameter(Name=name, WithDecryption=True)
    assert _code(exc) == "DisabledException"


def test_caller_without_decrypt_permission_gets_metadata_only(
    ssm: Any, server: HushProcess, root: str
) -> None:
    name = f"{root}/restricted"
    ssm.put_parameter(Name=name, Value="top-secret", Type="SecureString")
    vault = server.client()
    vault.sys.create_or_update_policy(
        "ssm-no-decrypt",
        f'path "ssm/parameter/{name[1:]}" {{ capabilities = ["read"] }}\n'
        'path "ssm/parameters" { capabilities = ["list"] }\n'
        'path "transit/kms/decrypt/*" { capabilities = ["deny"] }',
    )
    created = vault.adapter.post(
        "/v1/auth/aws/keys", json={"policies": "ssm-no-decrypt", "display_name": "nodecrypt"}
    )["data"]
    reader = client("ssm", server.url, created["access_key_id"], created["secret_access_key"])
    meta = reader.get_parameter(Name=name)["Parameter"]
    assert meta["Name"] == name and meta["Value"] != "top-secret"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        reader.get_parameter(Name=name, WithDecryption=True)
    assert _code(exc) == "AccessDeniedException"
    assert "transit/kms/decrypt/" in str(exc.value)


def test_by_path_recursion_filters_and_pages(ssm: Any, root: str) -> None:
    names = [f"{root}/svc/p{i}" for i in range(4)] + [f"{root}/svc/deep/q{i}" for i in range(9)]
    for name in names:
        ssm.put_parameter(Name=name, Value="v", Type="String")
    ssm.put_parameter(Name=f"{root}/svc/s", Value="x", Type="SecureString")
    one = ssm.get_parameters_by_path(Path=f"{root}/svc")
    assert sorted(p["Name"] for p in one["Parameters"]) == sorted([*names[:4], f"{root}/svc/s"])
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        kwargs = {"NextToken": token} if token else {}
        page = ssm.get_parameters_by_path(
            Path=f"{root}/svc", Recursive=True, MaxResults=5, **kwargs
        )
        pages += 1
        assert len(page["Parameters"]) <= 5
        seen += [p["Name"] for p in page["Parameters"]]
        token = page.get("NextToken")
        if not token:
            break
    assert pages == 3 and sorted(seen) == sorted([*names, f"{root}/svc/s"])
    secure = ssm.get_parameters_by_path(
        Path=f"{root}/svc",
        ParameterFilters=[{"Key": "Type", "Option": "Equals", "Values": ["SecureString"]}],
    )
    assert [p["Name"] for p in secure["Parameters"]] == [f"{root}/svc/s"]
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        ssm.get_parameters_by_path(Path=f"{root}/svc", MaxResults=11)
    assert _code(exc) == "ValidationException"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        ssm.get_parameters_by_path(
            Path=f"{root}/svc", ParameterFilters=[{"Key": "Name", "Values": ["x"]}]
        )
    assert _code(exc) == "InvalidFilterKey"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        ssm.get_parameters_by_path(Path=f"{root}/svc", NextToken="garbage")
    assert _code(exc) == "InvalidNextToken"


def test_describe_filters_and_pagination(ssm: Any, root: str) -> None:
    for i in range(3):
        ssm.put_parameter(Name=f"{root}/d/{i}", Value="v", Type="String", Description=f"n{i}")
    filters = [{"Key": "Path", "Option": "Recursive", "Values": [root]}]
    first = ssm.describe_parameters(ParameterFilters=filters, MaxResults=2)
    assert len(first["Parameters"]) == 2 and "NextToken" in first
    rest = ssm.describe_parameters(ParameterFilters=filters, NextToken=first["NextToken"])
    described = first["Parameters"] + rest["Parameters"]
    assert [p["Name"] for p in described] == [f"{root}/d/{i}" for i in range(3)]
    assert described[0]["Description"] == "n0" and described[0]["Tier"] == "Standard"
    assert "NextToken" not in rest


def test_delete_and_delete_many(ssm: Any, root: str) -> None:
    ssm.put_parameter(Name=f"{root}/x", Value="1", Type="String")
    ssm.put_parameter(Name=f"{root}/y", Value="1", Type="String")
    ssm.delete_parameter(Name=f"{root}/x")
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        ssm.delete_parameter(Name=f"{root}/x")
    assert _code(exc) == "ParameterNotFound"
    out = ssm.delete_parameters(Names=[f"{root}/y", f"{root}/x"])
    assert out["DeletedParameters"] == [f"{root}/y"]
    assert out["InvalidParameters"] == [f"{root}/x"]


def test_tags(ssm: Any, root: str) -> None:
    name = f"{root}/tagged"
    ssm.put_parameter(Name=name, Value="v", Type="String", Tags=[{"Key": "team", "Value": "a"}])
    ssm.add_tags_to_resource(
        ResourceType="Parameter", ResourceId=name, Tags=[{"Key": "env", "Value": "dev"}]
    )
    ssm.remove_tags_from_resource(ResourceType="Parameter", ResourceId=name, TagKeys=["team"])
    listed = ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=name)["TagList"]
    assert listed == [{"Key": "env", "Value": "dev"}]
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=f"{root}/none")
    assert _code(exc) == "InvalidResourceId"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        ssm.list_tags_for_resource(ResourceType="Parameters", ResourceId=name)
    assert _code(exc) == "InvalidResourceType"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        ssm.list_tags_for_resource(ResourceType="Document", ResourceId=name)
    assert _code(exc) == "InvalidResourceId"  # a real type, but Hush holds parameters only
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        ssm.put_parameter(Name=name, Value="v", Overwrite=True, Tags=[{"Key": "k", "Value": "v"}])
    assert _code(exc) == "ValidationException"


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("/" + "/".join(f"l{i}" for i in range(16)), "HierarchyLevelLimitExceededException"),
        ("/bad name", "ValidationException"),
        ("/aws/reserved", "ValidationException"),
        ("ssm-thing", "ValidationException"),
        ("a/b", "ValidationException"),
        ("/double//slash", "ValidationException"),
    ],
)
def test_bad_names(ssm: Any, name: str, code: str) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        ssm.put_parameter(Name=name, Value="v", Type="String")
    assert _code(exc) == code


def test_value_limits_tiers_patterns_and_policies(ssm: Any, root: str) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        ssm.put_parameter(Name=f"{root}/big", Value="x" * 4097, Type="String")
    assert _code(exc) == "ValidationException"
    adv = ssm.put_parameter(Name=f"{root}/big", Value="x" * 4097, Type="String", Tier="Advanced")
    assert adv["Tier"] == "Advanced"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        ssm.put_parameter(Name=f"{root}/big", Value="y", Overwrite=True, Tier="Standard")
    assert _code(exc) == "ValidationException"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        ssm.put_parameter(Name=f"{root}/huge", Value="x" * 8193, Type="String", Tier="Advanced")
    assert _code(exc) == "ValidationException"
    big_secret = "s" * 6000
    put = ssm.put_parameter(
        Name=f"{root}/big-secure", Value=big_secret, Type="SecureString", Tier="Advanced"
    )
    assert put["Tier"] == "Advanced"
    got = ssm.get_parameter(Name=f"{root}/big-secure", WithDecryption=True)["Parameter"]
    assert got["Value"] == big_secret
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        ssm.put_parameter(Name=f"{root}/big-std", Value=big_secret, Type="SecureString")
    assert _code(exc) == "ValidationException"
    smart = ssm.put_parameter(
        Name=f"{root}/smart", Value="x" * 5000, Type="String", Tier="Intelligent-Tiering"
    )
    assert smart["Tier"] == "Advanced"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        ssm.put_parameter(Name=f"{root}/pat", Value="abc", Type="String", AllowedPattern="^\\d+$")
    assert _code(exc) == "ParameterPatternMismatchException"
    ssm.put_parameter(Name=f"{root}/pat", Value="123", Type="String", AllowedPattern="^\\d+$")
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        ssm.put_parameter(Name=f"{root}/img", Value="nope", Type="String", DataType="aws:ec2:image")
    assert _code(exc) == "ValidationException"
    future = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=3)).strftime(
        "%Y-%m-%dT%H:%M:%S.000Z"
    )
    policies = (
        f'[{{"Type":"Expiration","Version":"1.0","Attributes":{{"Timestamp":"{future}"}}}},'
        '{"Type":"ExpirationNotification","Version":"1.0",'
        '"Attributes":{"Before":"1","Unit":"Days"}}]'
    )
    ssm.put_parameter(
        Name=f"{root}/expiring", Value="v", Type="String", Tier="Advanced", Policies=policies
    )
    meta = ssm.describe_parameters(
        ParameterFilters=[{"Key": "Name", "Values": [f"{root}/expiring"]}]
    )["Parameters"][0]
    assert sorted(p["PolicyType"] for p in meta["Policies"]) == [
        "Expiration",
        "ExpirationNotification",
    ]
    for bad, code in (
        ('[{"Type":"Nope","Version":"1.0","Attributes":{}}]', "InvalidPolicyTypeException"),
        (
            '[{"Type":"Expiration","Version":"1.0","Attributes":{"Timestamp":"2001-01-01T00:00:00Z"}}]',
            "InvalidPolicyAttributeException",
        ),
    ):
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            ssm.put_parameter(
                Name=f"{root}/pol", Value="v", Type="String", Tier="Advanced", Policies=bad
            )
        assert _code(exc) == code


def test_expired_parameter_is_deleted_by_the_background_scheduler(ssm: Any, root: str) -> None:
    name = f"{root}/short-lived"
    # 8 s, not 3 s: the read below must land before the expiry on a loaded machine too.
    when = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=8)
    policy = (
        '[{"Type":"Expiration","Version":"1.0","Attributes":{"Timestamp":"'
        + when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        + '"}}]'
    )
    ssm.put_parameter(Name=name, Value="v", Type="String", Tier="Advanced", Policies=policy)
    assert ssm.get_parameter(Name=name)["Parameter"]["Value"] == "v"
    deadline = time.monotonic() + 30  # the scheduler runs every 10 s
    while time.monotonic() < deadline:
        try:
            ssm.get_parameter(Name=name)
        except botocore.exceptions.ClientError as exc:
            assert exc.response["Error"]["Code"] == "ParameterNotFound"
            return
        time.sleep(0.5)
    pytest.fail("the expired parameter was not deleted within 30 s")


def test_by_path_label_filter_returns_the_labelled_version(ssm: Any, root: str) -> None:
    name = f"{root}/lab/x"
    ssm.put_parameter(Name=name, Value="old", Type="String")
    ssm.put_parameter(Name=name, Value="new", Type="String", Overwrite=True)
    ssm.put_parameter(Name=f"{root}/lab/unlabelled", Value="z", Type="String")
    ssm.label_parameter_version(Name=name, ParameterVersion=1, Labels=["stable"])
    page = ssm.get_parameters_by_path(
        Path=f"{root}/lab",
        ParameterFilters=[{"Key": "Label", "Option": "Equals", "Values": ["stable"]}],
    )
    assert [(p["Name"], p["Value"], p["Selector"]) for p in page["Parameters"]] == [
        (name, "old", ":stable")
    ]


def test_vault_api_reads_parameters_and_refuses_clear_secure_strings(
    ssm: Any, server: HushProcess, root: str
) -> None:
    ssm.put_parameter(Name=f"{root}/vault/p", Value="plain", Type="String")
    vault = server.client()
    read = vault.read(f"ssm/parameter/{root[1:]}/vault/p")["data"]["Parameter"]
    assert (read["Name"], read["Value"]) == (f"{root}/vault/p", "plain")
    with pytest.raises(hvac.exceptions.InvalidRequest):
        vault.write(f"ssm/parameter/{root[1:]}/vault/s", Value="clear", Type="SecureString")


def test_engine_members_in_an_aws_body_are_ignored(
    server: HushProcess, root: str, ssm: Any
) -> None:
    name = f"{root}/sneaky"
    answer = signed_request(
        server.url,
        "AmazonSSM.PutParameter",
        {"Name": name, "Value": "v", "Type": "String", "DryRun": True, "Encrypted": True},
        DEV_AWS_ACCESS_KEY_ID,
        DEV_AWS_SECRET_ACCESS_KEY,
        service="ssm",
    )
    assert answer.status == 200 and answer.body["Version"] == 1, answer.body
    assert ssm.get_parameter(Name=name)["Parameter"]["Value"] == "v"


def test_writer_with_the_documented_permissions_can_write_but_not_read_back(
    ssm: Any, server: HushProcess, root: str
) -> None:
    ssm.put_parameter(Name=f"{root}/prime", Value="x", Type="SecureString")  # alias/aws/ssm exists
    vault = server.client()
    vault.sys.create_or_update_policy(
        "ssm-writer",
        f'path "ssm/parameter/{root[1:]}/*" {{ capabilities = ["update", "read"] }}\n'
        'path "transit/kms/encrypt/*" { capabilities = ["update"] }\n'
        'path "transit/kms/describe/*" { capabilities = ["read"] }',
    )
    created = vault.adapter.post(
        "/v1/auth/aws/keys", json={"policies": "ssm-writer", "display_name": "writer"}
    )["data"]
    writer = client("ssm", server.url, created["access_key_id"], created["secret_access_key"])
    assert writer.put_parameter(Name=f"{root}/w", Value="wv", Type="SecureString")["Version"] == 1
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        writer.get_parameter(Name=f"{root}/w", WithDecryption=True)
    assert _code(exc) == "AccessDeniedException"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        writer.put_parameter(Name="/elsewhere/w", Value="wv", Type="String")
    assert _code(exc) == "AccessDeniedException"
    assert ssm.get_parameter(Name=f"{root}/w", WithDecryption=True)["Parameter"]["Value"] == "wv"
    meta = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [f"{root}/w"]}])
    assert meta["Parameters"][0]["LastModifiedUser"].endswith("/aws-writer")
