"""boto3 clients and raw SigV4-signed requests against a running Hush."""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable
from typing import Any, TypeVar

import boto3
import httpx
import orjson
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

__all__ = [
    "SignedCall",
    "client",
    "describe_secret_raw",
    "rotation_finished",
    "secretsmanager",
    "signed_request",
    "wait_for",
]


T = TypeVar("T")


def wait_for(check: Callable[[], T | None], what: str, deadline: float = 30.0) -> T:
    """Poll ``check`` until it answers something truthy (RotateSecret runs in the background)."""
    until = time.monotonic() + deadline
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > until:
            raise AssertionError(f"{what} did not happen within {deadline} s")
        time.sleep(0.05)


def rotation_finished(sm: Any, name: str, version_id: str, deadline: float = 30.0) -> None:
    """Wait until ``version_id`` of secret ``name`` carries AWSCURRENT (rotation succeeded)."""

    def current() -> bool:
        stages = sm.describe_secret(SecretId=name)["VersionIdsToStages"]
        return "AWSCURRENT" in stages.get(version_id, [])

    wait_for(current, f"rotation of {name} to {version_id}", deadline)


def secretsmanager(url: str, key_id: str, secret: str, region: str = "us-east-1") -> Any:
    """A boto3 Secrets Manager client (parameter validation on, no retries)."""
    return boto3.client(
        "secretsmanager",
        endpoint_url=url,
        region_name=region,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1}, parameter_validation=True),
    )


class SignedCall:
    """The answer to a raw signed call: status, parsed body and headers."""

    def __init__(self, response: httpx.Response) -> None:
        self.status = response.status_code
        self.headers = response.headers
        self.body: dict[str, Any] = orjson.loads(response.content) if response.content else {}

    @property
    def error_type(self) -> str:
        """The ``__type`` of an error answer."""
        return str(self.body.get("__type", ""))


def signed_request(
    url: str,
    target: str,
    body: bytes | dict[str, Any],
    key_id: str,
    secret: str,
    *,
    service: str = "secretsmanager",
    region: str = "us-east-1",
    when: datetime.datetime | None = None,
    tamper: bytes | None = None,
) -> SignedCall:
    """POST ``body`` signed by botocore (optionally dated ``when``; ``tamper`` replaces the body
    after signing)."""
    payload = body if isinstance(body, bytes) else orjson.dumps(body)
    request = AWSRequest(
        method="POST",
        url=url + "/",
        data=payload,
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": target,
        },
    )
    signer = SigV4Auth(Credentials(key_id, secret), service, region)
    if when is None:
        signer.add_auth(request)
    else:
        request.context["timestamp"] = when.strftime("%Y%m%dT%H%M%SZ")
        request.headers["X-Amz-Date"] = request.context["timestamp"]
        canonical = signer.canonical_request(request)
        signature = signer.signature(signer.string_to_sign(request, canonical), request)
        request.headers["Authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={signer.scope(request)}, "
            f"SignedHeaders={signer.signed_headers(signer.headers_to_sign(request))}, "
            f"Signature={signature}"
        )
    headers = dict(request.headers.items())
    response = httpx.post(url + "/", content=tamper or payload, headers=headers, timeout=10.0)
    return SignedCall(response)


def client(service: str, url: str, key_id: str, secret: str, region: str = "us-east-1") -> Any:
    """A boto3 client for ``service`` (parameter validation on, no retries)."""
    return boto3.client(
        service,
        endpoint_url=url,
        region_name=region,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1}, parameter_validation=True),
    )


def describe_secret_raw(url: str, key_id: str, secret: str, name: str) -> dict[str, Any]:
    """DescribeSecret's raw JSON, with the members SDKs drop (``HushRotationFailure``)."""
    call = signed_request(url, "secretsmanager.DescribeSecret", {"SecretId": name}, key_id, secret)
    return dict(call.body)
