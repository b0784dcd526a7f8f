"""boto3 clients and raw SigV4-signed requests against a running Hush."""

from __future__ import annotations

import datetime
from typing import Any

import boto3
import httpx
import orjson
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

__all__ = ["SignedCall", "client", "secretsmanager", "signed_request"]


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
