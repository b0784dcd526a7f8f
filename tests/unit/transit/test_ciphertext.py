"""Parsing ``vault:v<N>:`` values: any client string either parses or is one clean 400.

Random strings (and near-valid ones that reach base64 decoding, AEAD opening, signature and HMAC
checks) must never raise anything but :class:`~hush.core.errors.InvalidRequest`, and a message
never quotes the input.
"""

from __future__ import annotations

import base64
import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hush.core.errors import InvalidRequest
from hush.engines.transit import crypto_ops
from hush.engines.transit.ciphertext import (
    Versioned,
    b64decode,
    b64decode_input,
    format_versioned,
    parse_versioned,
)
from hush.engines.transit.crypto_ops import SignOptions
from hush.engines.transit.keys import KeyPolicy, KeyType, KeyVersion

B64_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_: \n"

envelopes = st.one_of(
    st.text(),
    st.text().map(lambda s: "vault:v" + s),
    st.builds(
        lambda version, body: f"vault:v{version}:{body}",
        st.one_of(st.integers(-3, 10**25), st.sampled_from(["", "+1", "1_0", "٣", " 1"])),
        st.text(alphabet=B64_CHARS),
    ),
    st.binary(max_size=80).map(lambda b: "vault:v1:" + base64.b64encode(b).decode()),
)


def _policy(key_type: KeyType, **settings: object) -> KeyPolicy:
    return KeyPolicy.create("k", key_type, KeyVersion.generate(key_type), **settings)


POLICIES = {
    "aes": _policy(KeyType.AES256_GCM96),
    "chacha": _policy(KeyType.CHACHA20_POLY1305),
    "derived": _policy(KeyType.AES128_GCM96, derived=True, convergent_encryption=True),
    "rsa": _policy(KeyType.RSA_2048),
    "ed25519": _policy(KeyType.ED25519),
    "ecdsa": _policy(KeyType.ECDSA_P256),
}


def test_parse_known_values() -> None:
    assert parse_versioned("vault:v12:abc") == Versioned(12, "abc")
    assert parse_versioned("vault:v0:") == Versioned(1, "")  # Vault's compatibility rule
    assert parse_versioned("vault:v2:a:b").payload == "a:b"
    assert format_versioned(3, b"\xff", urlsafe=True) == "vault:v3:_w"
    for bad, message in [
        ("vault:1:x", "invalid ciphertext: no prefix"),
        ("vault:v1", "invalid ciphertext: wrong number of fields"),
        ("vault:vx:abc", "invalid ciphertext: version number could not be decoded"),
        ("vault:v" + "9" * 5000 + ":x", "invalid ciphertext: version number could not be decoded"),
    ]:
        with pytest.raises(InvalidRequest) as refused:
            parse_versioned(bad)
        assert refused.value.message == message


@given(envelopes)
@settings(max_examples=300, deadline=None)
def test_parse_never_raises_anything_else(value: str) -> None:
    try:
        parsed = parse_versioned(value, "signature")
    except InvalidRequest as exc:
        assert exc.message.startswith("invalid signature: ")
    else:
        assert value.startswith("vault:v") and parsed.version != 0


@given(st.text(alphabet=B64_CHARS + "é€\x00"))
@settings(max_examples=300, deadline=None)
def test_base64_errors_are_clean_and_never_quote_the_input(value: str) -> None:
    for decode in (b64decode_input, lambda v: b64decode(v, "bad", urlsafe=True)):
        try:
            decode(value)
        except InvalidRequest as exc:
            if len(value) > 6:
                assert value not in exc.message


@given(envelopes, st.binary(max_size=8))
@settings(max_examples=200, deadline=None)
def test_decrypt_of_any_string_is_plaintext_or_invalid_request(value: str, context: bytes) -> None:
    for policy in (POLICIES["aes"], POLICIES["chacha"], POLICIES["derived"], POLICIES["rsa"]):
        with contextlib.suppress(InvalidRequest):
            crypto_ops.decrypt(policy, value, context=context)


@given(envelopes, st.sampled_from(["asn1", "jws"]))
@settings(max_examples=200, deadline=None)
def test_verify_of_any_string_is_a_verdict_or_invalid_request(value: str, marshaling: str) -> None:
    options = SignOptions(marshaling=marshaling)
    for name in ("ed25519", "ecdsa", "rsa"):
        with contextlib.suppress(InvalidRequest):
            assert crypto_ops.verify(POLICIES[name], b"data", value, options) in (True, False)
        with contextlib.suppress(InvalidRequest):
            crypto_ops.verify_hmac(POLICIES[name], b"data", value)


def test_round_trips_and_tampering() -> None:
    for name in ("aes", "chacha", "rsa"):
        sealed, version = crypto_ops.encrypt(POLICIES[name], b"secret")
        assert version == 1
        assert crypto_ops.decrypt(POLICIES[name], sealed) == b"secret"
        raw = bytearray(base64.b64decode(sealed.split(":", 2)[2]))
        raw[-1] ^= 1
        with pytest.raises(InvalidRequest) as refused:
            crypto_ops.decrypt(POLICIES[name], "vault:v1:" + base64.b64encode(raw).decode())
        assert "secret" not in refused.value.message
    derived = POLICIES["derived"]
    one, _ = crypto_ops.encrypt(derived, b"same", context=b"ctx")
    two, _ = crypto_ops.encrypt(derived, b"same", context=b"ctx")
    assert one == two  # convergent: the nonce comes from the plaintext
    assert crypto_ops.decrypt(derived, one, context=b"ctx") == b"same"
