"""The S7 benchmark's pre-signed SigV4 pool: every entry verifies, and no two are alike."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from bench.sigv4_pool import AWS_CONTENT_TYPE, POOL_SIZE, SignedPool

from hush.api.sigv4 import SignedRequest, SigV4Error, verify
from hush.crypto import SecretBytes

KEY_ID = "AKIAHUSHBENCHPOOL001"
SECRET = "bench/pool+secret/0123456789abcdef"
URL = "http://127.0.0.1:8211/"
TARGET = "secretsmanager.GetSecretValue"
BODY = '{"SecretId":"bench/app/config"}'


def _request(line: str, body: str = BODY) -> SignedRequest:
    stamp, authorization = line.split("\t")
    headers = {
        "content-type": AWS_CONTENT_TYPE,
        "host": "127.0.0.1:8211",
        "x-amz-date": stamp,
        "x-amz-target": TARGET,
        "authorization": authorization,
    }
    return SignedRequest("POST", "/", "", headers, body.encode())


def _pool(tmp_path: Path) -> list[str]:
    pool = SignedPool(tmp_path / "pool", URL, TARGET, BODY, KEY_ID, SECRET)
    pool.write()
    return pool.path.read_text().splitlines()


def test_every_pooled_request_verifies_now(tmp_path: Path) -> None:
    lines = _pool(tmp_path)
    assert len(lines) == POOL_SIZE
    now = datetime.datetime.now(datetime.UTC)
    for line in lines:
        verify(_request(line), SecretBytes(SECRET.encode()), now=now)


def test_pooled_requests_have_distinct_dates_and_signatures(tmp_path: Path) -> None:
    lines = _pool(tmp_path)
    assert len({line.split("\t")[0] for line in lines}) == POOL_SIZE
    assert len({line.rsplit("Signature=", 1)[1] for line in lines}) == POOL_SIZE


def test_pooled_signature_is_bound_to_the_body(tmp_path: Path) -> None:
    line = _pool(tmp_path)[0]
    with pytest.raises(SigV4Error):
        verify(
            _request(line, '{"SecretId":"other"}'),
            SecretBytes(SECRET.encode()),
            now=datetime.datetime.now(datetime.UTC),
        )
