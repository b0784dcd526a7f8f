"""SigV4 verification: known-answer vectors, date window, header parsing and tampering."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from hush.api.sigv4 import (
    SIGNING_KEYS,
    Credential,
    SignedRequest,
    SigningKeyCache,
    SigV4Error,
    check_date,
    expected_signature,
    parse_authorization,
    verify,
)
from hush.crypto import SecretBytes

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "sigv4.json").read_text())["vectors"]
KEY_ID = "AKIAHUSHUNITTEST0001"
SECRET = "unit/test+secret/key/0123456789abcdefghij"


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_known_answer_vectors(vector: dict[str, Any]) -> None:
    request = SignedRequest(
        vector["method"],
        vector["path"],
        vector["query"],
        vector["headers"],
        vector["body"].encode(),
    )
    date = vector["headers"]["x-amz-date"][:8]
    credential = Credential(vector["access_key_id"], date, vector["region"], vector["service"])
    signature = expected_signature(
        request,
        credential,
        tuple(vector["signed_headers"].split(";")),
        SecretBytes(vector["secret_access_key"].encode()),
    )
    assert signature == vector["signature"]


def _signed(
    body: bytes,
    when: datetime.datetime,
    *,
    secret: str = SECRET,
    region: str = "eu-west-1",
) -> SignedRequest:
    """A ListSecrets request signed by botocore at ``when`` (no clock of its own)."""
    request = AWSRequest(
        method="POST",
        url="http://127.0.0.1:8200/",
        data=body,
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "secretsmanager.ListSecrets",
        },
    )
    signer = SigV4Auth(Credentials(KEY_ID, secret), "secretsmanager", region)
    request.context["timestamp"] = when.strftime("%Y%m%dT%H%M%SZ")
    request.headers["X-Amz-Date"] = request.context["timestamp"]
    canonical = signer.canonical_request(request)
    signature = signer.signature(signer.string_to_sign(request, canonical), request)
    request.headers["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={signer.scope(request)}, "
        f"SignedHeaders={signer.signed_headers(signer.headers_to_sign(request))}, "
        f"Signature={signature}"
    )
    headers = {k.lower(): v for k, v in request.headers.items()}
    headers["host"] = "127.0.0.1:8200"
    return SignedRequest("POST", "/", "", headers, body)


NOW = datetime.datetime(2026, 6, 1, 12, 0, tzinfo=datetime.UTC)


def test_botocore_signed_request_verifies() -> None:
    verify(_signed(b"{}", NOW), SecretBytes(SECRET.encode()), now=NOW)


def test_tampered_body_or_wrong_secret_is_invalid_signature() -> None:
    signed = _signed(b'{"MaxResults": 1}', NOW)
    tampered = SignedRequest("POST", "/", "", signed.headers, b'{"MaxResults": 2}')
    for request, secret in ((tampered, SECRET), (signed, SECRET[:-1] + "X")):
        with pytest.raises(SigV4Error) as exc:
            verify(request, SecretBytes(secret.encode()), now=NOW)
        assert exc.value.aws_type == "InvalidSignatureException"
        assert "does not match" in exc.value.message


def test_tampered_signed_header_is_invalid_signature() -> None:
    signed = _signed(b"{}", NOW)
    headers = {**signed.headers, "x-amz-target": "secretsmanager.DeleteSecret"}
    with pytest.raises(SigV4Error):
        verify(
            SignedRequest("POST", "/", "", headers, b"{}"), SecretBytes(SECRET.encode()), now=NOW
        )


@pytest.mark.parametrize("minutes", [-16, 16])
def test_dates_outside_fifteen_minutes_are_refused(minutes: int) -> None:
    when = NOW + datetime.timedelta(minutes=minutes)
    with pytest.raises(SigV4Error) as exc:
        verify(_signed(b"{}", when), SecretBytes(SECRET.encode()), now=NOW)
    assert exc.value.aws_type == "InvalidSignatureException"
    assert exc.value.message.startswith(
        "Signature expired" if minutes < 0 else "Signature not yet current"
    )


@pytest.mark.parametrize("minutes", [-14, 14])
def test_dates_inside_the_window_are_accepted(minutes: int) -> None:
    when = NOW + datetime.timedelta(minutes=minutes)
    verify(_signed(b"{}", when), SecretBytes(SECRET.encode()), now=NOW)


def test_check_date_message_matches_aws() -> None:
    with pytest.raises(SigV4Error) as exc:
        check_date(NOW - datetime.timedelta(minutes=20), NOW)
    assert exc.value.message == (
        "Signature expired: 20260601T114000Z is now earlier than 20260601T114500Z "
        "(20260601T120000Z - 15 min.)"
    )


@pytest.mark.parametrize(
    ("header", "aws_type"),
    [
        ("", "MissingAuthenticationTokenException"),
        ("AWS3 foo", "IncompleteSignatureException"),
        ("AWS4-HMAC-SHA256 Credential=a/b", "IncompleteSignatureException"),
        (
            "AWS4-HMAC-SHA256 Credential=AKIA/20260601/us-east-1/sm, SignedHeaders=host, "
            "Signature=ab",
            "IncompleteSignatureException",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=AKIA/20260601/us-east-1/sm/aws4_request, "
            "SignedHeaders=x-amz-date, Signature=ab",
            "IncompleteSignatureException",
        ),
    ],
)
def test_malformed_authorization_headers(header: str, aws_type: str) -> None:
    with pytest.raises(SigV4Error) as exc:
        parse_authorization(header)
    assert exc.value.aws_type == aws_type


def test_cached_signing_key_never_signs_for_another_secret() -> None:
    """Same key id, date, region and service, two secrets (a rotated key): each stands alone."""
    SIGNING_KEYS.clear()
    old, new = SECRET, SECRET[:-1] + "Z"
    signed_old = _signed(b"{}", NOW)
    verify(signed_old, SecretBytes(old.encode()), now=NOW)  # caches old's signing key
    assert len(SIGNING_KEYS) == 1
    with pytest.raises(SigV4Error) as exc:
        verify(signed_old, SecretBytes(new.encode()), now=NOW)
    assert exc.value.aws_type == "InvalidSignatureException"
    assert len(SIGNING_KEYS) == 2
    signed_new = _signed(b"{}", NOW, secret=new)
    verify(signed_new, SecretBytes(new.encode()), now=NOW)
    with pytest.raises(SigV4Error):
        verify(signed_new, SecretBytes(old.encode()), now=NOW)


def test_cached_signing_key_is_per_scope() -> None:
    """A cached key for one region or date does not verify a signature for another."""
    SIGNING_KEYS.clear()
    verify(_signed(b"{}", NOW), SecretBytes(SECRET.encode()), now=NOW)
    other_region = _signed(b"{}", NOW, region="us-east-1")
    verify(other_region, SecretBytes(SECRET.encode()), now=NOW)
    tomorrow = NOW + datetime.timedelta(days=1)
    verify(_signed(b"{}", tomorrow), SecretBytes(SECRET.encode()), now=tomorrow)
    assert len(SIGNING_KEYS) == 3
    # A signature over one region presented as another is refused, cache warm or not.
    forged = dict(other_region.headers)
    forged["authorization"] = forged["authorization"].replace("/us-east-1/", "/eu-west-1/")
    with pytest.raises(SigV4Error):
        verify(SignedRequest("POST", "/", "", forged, b"{}"), SecretBytes(SECRET.encode()), now=NOW)


def test_signing_key_cache_is_bounded_and_matches_botocore() -> None:
    keys = SigningKeyCache(size=4)
    signer = SigV4Auth(Credentials(KEY_ID, SECRET), "secretsmanager", "eu-west-1")
    for n in range(10):
        keys.get(signer, f"secret-{n}".encode(), "20260601", "eu-west-1", "secretsmanager")
    assert len(keys) == 4
    # The cached key is botocore's own HMAC chain.
    request = AWSRequest(method="POST", url="http://h/", data=b"")
    request.context["timestamp"] = "20260601T120000Z"
    expected = signer.signature("string-to-sign", request)
    key = keys.get(signer, SECRET.encode(), "20260601", "eu-west-1", "secretsmanager")
    assert signer._sign(key, "string-to-sign", hex=True) == expected


@pytest.mark.parametrize("stamp", ["2026601T120000Z", "20260601T12000Z", "20261301T120000Z"])
def test_malformed_or_impossible_dates_are_refused(stamp: str) -> None:
    signed = _signed(b"{}", NOW)
    headers = {**signed.headers, "x-amz-date": stamp}
    with pytest.raises(SigV4Error) as exc:
        verify(
            SignedRequest("POST", "/", "", headers, b"{}"), SecretBytes(SECRET.encode()), now=NOW
        )
    assert exc.value.aws_type in ("IncompleteSignatureException", "InvalidSignatureException")
