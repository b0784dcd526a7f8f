"""Malformed input to every KMS and SSM action: always a 4xx in AWS's error shape, never a 5xx.

Each action gets an empty body, members of the wrong JSON type, oversized and odd values, sent as
raw SigV4-signed requests so that no client-side validation filters them first.
"""

from __future__ import annotations

from typing import Any

import pytest

from hush.api.aws_services.kms import KMS
from hush.api.aws_services.ssm import SSM
from tests.conftest import DEV_AWS_ACCESS_KEY_ID, DEV_AWS_SECRET_ACCESS_KEY
from tests.support.aws import signed_request
from tests.support.server import HushProcess

_MEMBERS = (
    "KeyId",
    "Name",
    "Names",
    "Path",
    "Value",
    "Type",
    "Plaintext",
    "CiphertextBlob",
    "EncryptionContext",
    "Tags",
    "TagKeys",
    "Labels",
    "ParameterVersion",
    "MaxResults",
    "NextToken",
    "Limit",
    "Marker",
    "AliasName",
    "TargetKeyId",
    "Message",
    "Signature",
    "Mac",
    "ParameterFilters",
    "Filters",
    "Policies",
    "NumberOfBytes",
    "KeySpec",
    "KeyUsage",
    "ResourceType",
    "ResourceId",
    "PendingWindowInDays",
    "DestinationKeyId",
)
_WRONG: tuple[Any, ...] = (
    None,
    12,
    -1,
    True,
    "",
    "x" * 5000,
    "../../etc",
    "alias/aws/ssm",
    "arn:aws:kms:us-east-1:1:key/00000000-0000-0000-0000-000000000000",
    [],
    [1, {"a": 1}],
    {"k": [1]},
    {"Key": 1},
)


def _bodies() -> list[dict[str, Any]]:
    bodies: list[dict[str, Any]] = [{}]
    for value in _WRONG:
        bodies.append(dict.fromkeys(_MEMBERS, value))
    return bodies


@pytest.fixture(scope="module")
def server(aws_server: HushProcess) -> HushProcess:
    aws_server.client().sys.enable_secrets_engine("transit", path="transit")
    return aws_server


@pytest.mark.parametrize(
    ("target", "service"),
    [(f"TrentService.{a}", "kms") for a in sorted({*KMS.actions, *KMS.composite})]
    + [(f"AmazonSSM.{a}", "ssm") for a in sorted({*SSM.actions, *SSM.composite})],
)
def test_malformed_bodies_are_4xx(server: HushProcess, target: str, service: str) -> None:
    for body in _bodies():
        answer = signed_request(
            server.url,
            target,
            body,
            DEV_AWS_ACCESS_KEY_ID,
            DEV_AWS_SECRET_ACCESS_KEY,
            service=service,
        )
        assert answer.status < 500, (target, body, answer.body)
        if answer.status >= 400:
            assert answer.error_type and answer.body.get("message") is not None, answer.body
