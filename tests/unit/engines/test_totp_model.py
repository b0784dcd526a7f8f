"""TOTP key model: RFC 6238 known answers, Vault's validation texts, otpauth URL round trips."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hush.core.errors import InvalidRequest
from hush.engines.totp.model import KeySettings, TotpKey, decode_base32_key, parse_otpauth_url

VECTORS = json.loads((Path(__file__).parents[2] / "vectors" / "totp.json").read_text())["vectors"]


def _key(vector: dict[str, Any], skew: int = 0) -> TotpKey:
    settings = KeySettings("Hush", "rfc", vector["period"], vector["algorithm"], 8, skew)
    return TotpKey(decode_base32_key(vector["key_base32"]), settings)


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: f"{v['algorithm']}@{v['time']}")
def test_rfc6238_known_answers(vector: dict[str, Any]) -> None:
    key = _key(vector)
    assert key.code_at(vector["time"]) == vector["code"]
    assert key.verify(vector["code"], vector["time"])
    # Without skew the code is wrong one period later; with skew 1 it is still accepted.
    assert not key.verify(vector["code"], vector["time"] + vector["period"])
    assert _key(vector, skew=1).verify(vector["code"], vector["time"] + vector["period"])
    assert not _key(vector, skew=1).verify(vector["code"], vector["time"] + 2 * vector["period"])


def test_full_width_digits_never_match() -> None:
    vector = VECTORS[0]
    full_width = "".join(chr(ord(c) - ord("0") + 0xFF10) for c in vector["code"])
    assert not _key(vector).verify(full_width, vector["time"])


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (KeySettings("i", "a", 30, "SHA1", 7, 1), "the digits value can only be 6 or 8"),
        (KeySettings("i", "a", 30, "MD5", 6, 1), "the algorithm value is not valid"),
        (KeySettings("i", "a", 0, "SHA1", 6, 1), "the period value must be greater than zero"),
        (KeySettings("i", "a", 30, "SHA1", 6, 2), "the skew value must be 0 or 1"),
    ],
)
def test_vault_checks(settings: KeySettings, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        settings.check()


@pytest.mark.parametrize(
    ("text", "byte"),
    # Positions as OpenBao reports them (Go's encoding/base32 after Vault pads the text).
    [("not*base32", 3), ("ABC1", 3), ("A", 1), ("ABC", 3), ("ABCDEFGHI==", 9), ("AB=CD", 2)],
)
def test_bad_base32_is_invalid_request(text: str, byte: int) -> None:
    with pytest.raises(InvalidRequest) as caught:
        decode_base32_key(text)
    assert str(caught.value) == f"invalid key value: illegal base32 data at input byte {byte}"


def test_base32_padding_and_case_are_optional() -> None:
    padded = decode_base32_key("MFRGGZDF")
    assert decode_base32_key("mfrggzdf") == padded
    assert decode_base32_key("MFRGG===") == decode_base32_key("MFRGG")


def test_url_round_trip() -> None:
    settings = KeySettings("Acme Co", "alice@example.com", 60, "SHA512", 8, 1)
    key = TotpKey.generate(settings, 20)
    parsed = parse_otpauth_url(key.url())
    assert parsed.issuer == "Acme Co"
    assert parsed.account_name == "alice@example.com"
    assert (parsed.period, parsed.digits, parsed.algorithm) == (60, 8, "SHA512")
    assert decode_base32_key(parsed.key) == key.secret


@pytest.mark.parametrize(
    "url", ["otpauth://totp/%zz?secret=AAAA", "otpauth://totp/x\n", "otpauth://totp/x?period=a"]
)
def test_bad_urls_are_invalid_request(url: str) -> None:
    with pytest.raises(InvalidRequest):
        parse_otpauth_url(url)
