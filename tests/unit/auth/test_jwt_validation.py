"""Token validation in-process with static keys: algorithms, keys, times, registered claims."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from hush.auth.jwt.keys import StaticKeySet, parse_jwks
from hush.auth.jwt.validation import Expected, TokenInvalid, effective_leeway, validate_token

RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC = ec.generate_private_key(ec.SECP256R1())
ED = ed25519.Ed25519PrivateKey.generate()
NOW = 1_800_000_000


def _token(key: Any, alg: str, **claims: Any) -> str:
    body = {"iat": NOW, "exp": NOW + 300, "iss": "https://issuer", "aud": "hush", **claims}
    return jwt.encode(body, key, alg)


def _validate(token: str, expected: Expected | None = None, keys: Any = None) -> dict[str, Any]:
    source = keys or StaticKeySet([RSA.public_key(), EC.public_key(), ED.public_key()])
    return asyncio.run(validate_token(token, source, expected or Expected(), now=NOW))


@pytest.mark.parametrize(
    ("key", "alg"),
    [(RSA, "RS256"), (RSA, "RS512"), (RSA, "PS256"), (EC, "ES256"), (ED, "EdDSA")],
)
def test_every_asymmetric_family_verifies(key: Any, alg: str) -> None:
    assert _validate(_token(key, alg))["iss"] == "https://issuer"


def test_configured_algorithms_limit_what_is_accepted() -> None:
    with pytest.raises(TokenInvalid, match='unexpected signature algorithm "ES256"'):
        _validate(_token(EC, "ES256"), Expected(algorithms=("RS256",)))
    # HS256 is never accepted even if someone lists it.
    hs = jwt.encode({"exp": NOW + 10}, "secret-key-of-32-bytes-or-more!!", "HS256")
    with pytest.raises(TokenInvalid, match='unexpected signature algorithm "HS256"'):
        _validate(hs, Expected(algorithms=("HS256", "RS256")))


def test_a_key_is_only_used_with_its_own_algorithm() -> None:
    # An ES384 header over a P-256 key is refused (curve and algorithm must agree).
    token = _token(EC, "ES256")
    _, payload, signature = token.split(".")
    forged_header = jwt.utils.base64url_encode(b'{"alg":"ES384","typ":"JWT"}').decode()
    with pytest.raises(TokenInvalid, match="failed to verify"):
        _validate(f"{forged_header}.{payload}.{signature}")


def test_critical_headers_are_refused() -> None:
    header = jwt.utils.base64url_encode(b'{"alg":"RS256","crit":["x-hush"],"x-hush":1}')
    payload = jwt.utils.base64url_encode(b'{"exp":%d}' % (NOW + 10))
    signature = RSA.sign(header + b"." + payload, padding.PKCS1v15(), hashes.SHA256())
    token = (header + b"." + payload + b"." + jwt.utils.base64url_encode(signature)).decode()
    with pytest.raises(TokenInvalid, match="critical"):
        _validate(token)


def test_leeways() -> None:
    assert effective_leeway(0, 150) == 150
    assert effective_leeway(-1, 150) == 0
    assert effective_leeway(10, 150) == 10
    # exp 250 s ago: outside the default 150 + 60 s, inside 300 + 60 s.
    token = _token(RSA, "RS256", iat=NOW - 600, exp=NOW - 250)
    with pytest.raises(TokenInvalid, match="expired"):
        _validate(token)
    assert _validate(token, Expected(expiration_leeway=300))
    with pytest.raises(TokenInvalid, match="expired"):
        _validate(token, Expected(expiration_leeway=100, clock_skew_leeway=-1))
    exp_ok = _token(RSA, "RS256", iat=NOW - 600, exp=NOW - 100)
    assert _validate(exp_ok)


def test_time_claims_must_be_numbers() -> None:
    with pytest.raises(TokenInvalid, match="exp claim: not a number"):
        _validate(_token(RSA, "RS256", exp="tomorrow"))
    with pytest.raises(TokenInvalid, match="exp claim: not a number"):
        _validate(_token(RSA, "RS256", exp=True))


def test_registered_claims() -> None:
    token = _token(RSA, "RS256", sub="me", aud=["a", "hush"], nonce="n-1")
    assert _validate(token, Expected(issuer="https://issuer", subject="me", audiences=("hush",)))
    assert _validate(token, Expected(nonce="n-1"))
    for expected, message in (
        (Expected(issuer="https://other"), "invalid issuer"),
        (Expected(subject="you"), "invalid subject"),
        (Expected(audiences=("b",)), "invalid audience"),
        (Expected(nonce="n-2"), "invalid ID token nonce"),
    ):
        with pytest.raises(TokenInvalid, match=message):
            _validate(token, expected)


def test_jwks_parsing_skips_symmetric_private_and_encryption_keys() -> None:
    rsa_jwk = jwt.algorithms.RSAAlgorithm.to_jwk(RSA.public_key(), as_dict=True)
    private_jwk = jwt.algorithms.RSAAlgorithm.to_jwk(RSA, as_dict=True)
    keys = parse_jwks(
        {
            "keys": [
                {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
                {**rsa_jwk, "kid": "enc", "use": "enc"},
                {**private_jwk, "kid": "priv"},
                {**rsa_jwk, "kid": "sig"},
                {"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"},
                "not an object",
            ]
        }
    )
    assert [k.kid for k in keys] == ["priv", "sig"]
    assert all(isinstance(k.key, rsa.RSAPublicKey) for k in keys)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=150, deadline=None)
@given(
    header=st.fixed_dictionaries(
        {"alg": st.sampled_from(["RS256", "PS512", "ES256", "ES384", "EdDSA", "none", "HS256"])},
        optional={"kid": _JSON, "crit": _JSON, "typ": _JSON, "jku": _JSON, "b64": _JSON},
    )
    | st.dictionaries(st.sampled_from(["alg", "kid", "crit"]), _JSON, max_size=3),
    claims=_JSON,
    signature=st.binary(max_size=300),
    raw=st.text(max_size=60),
)
def test_any_malformed_token_is_a_token_invalid_never_a_crash(
    header: dict[str, Any], claims: Any, signature: bytes, raw: str
) -> None:
    encode = jwt.utils.base64url_encode
    shaped = b".".join(
        [
            encode(json.dumps(header).encode()),
            encode(json.dumps(claims).encode()),
            encode(signature),
        ]
    ).decode()
    for token in (shaped, raw, raw + "." + raw + "." + raw):
        with contextlib.suppress(TokenInvalid):
            _validate(token)


_JWK_VALUES = st.one_of(
    st.sampled_from(["RSA", "EC", "OKP", "oct", "sig", "enc", "P-256", "Ed25519", "AQAB", ""]),
    st.text(alphabet="ABCDEFabcdef0123456789-_=", max_size=40),
    st.integers(),
    st.none(),
    st.lists(st.text(max_size=4), max_size=2),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.dictionaries(
            st.sampled_from(["kty", "use", "kid", "n", "e", "crv", "x", "y", "d", "k", "alg"]),
            _JWK_VALUES,
            max_size=8,
        ),
        max_size=4,
    )
)
def test_any_jwks_document_parses_or_is_a_key_fetch_error(entries: list[dict[str, Any]]) -> None:
    # Never an exception other than KeyFetchError, never a symmetric or private key.
    keys = parse_jwks({"keys": entries})
    public = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
    assert all(isinstance(k.key, public | ed448.Ed448PublicKey) for k in keys)
