"""JWT/OIDC attack classes against the jwt auth method, each a named regression test.

A dev server's jwt mount trusts the local identity provider's JWKS (tests/support/idp.py); each
test forges or bends a token in one way and asserts the login is refused with a clear reason,
and (where it matters) that Hush fetched nothing the token pointed at.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support.idp import LocalIdP, public_pem
from tests.support.server import HushProcess

ISSUER = "https://token.actions.githubusercontent.com"
AUDIENCE = "https://hush.example.com"
ROOT = {"X-Vault-Token": "root"}
SIGNATURE_FAILED = (
    "error validating token: error verifying token signature: failed to verify id token signature"
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _forge(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    head = _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(claims).encode())
    return head + "." + _b64(signature)


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "repo:acme/api:ref:refs/heads/main",
        "repository": "acme/api",
        "ref": "refs/heads/main",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        **overrides,
    }


@pytest.fixture(scope="module")
def mount(kv2_server: HushProcess, local_idp: LocalIdP) -> Iterator[httpx.Client]:
    """``auth/ci`` (JWKS URL) and ``auth/pem`` (PEM keys), each with role ``main``."""
    with kv2_server.http() as http:
        for path, config in (
            ("ci", {"jwks_url": local_idp.jwks_url, "bound_issuer": ISSUER}),
            ("pem", {"jwt_validation_pubkeys": [public_pem(local_idp.rsa_key)]}),
        ):
            assert http.post(f"/v1/sys/auth/{path}", json={"type": "jwt"}, headers=ROOT).is_success
            answer = http.post(f"/v1/auth/{path}/config", json=config, headers=ROOT)
            assert answer.status_code == 204, answer.text
            role = {
                "role_type": "jwt",
                "user_claim": "repository",
                "bound_audiences": [AUDIENCE],
                "bound_subject": "repo:acme/api:ref:refs/heads/main",
                "bound_claims": {"repository": "acme/api", "ref": ["refs/heads/main"]},
                "token_policies": ["ci"],
            }
            answer = http.post(f"/v1/auth/{path}/role/main", json=role, headers=ROOT)
            assert answer.status_code == 204, answer.text
        yield http


def _login(http: httpx.Client, token: str, path: str = "ci", role: str = "main") -> httpx.Response:
    return http.post(f"/v1/auth/{path}/login", json={"role": role, "jwt": token})


def _refused(answer: httpx.Response, message: str) -> None:
    assert answer.status_code == 400, answer.text
    assert answer.json()["errors"] == [message]
    assert "auth" not in answer.json()


def test_control_a_well_formed_token_logs_in(mount: httpx.Client, local_idp: LocalIdP) -> None:
    for path in ("ci", "pem"):
        answer = _login(mount, local_idp.sign(_claims()), path)
        assert answer.status_code == 200, answer.text
        assert answer.json()["auth"]["policies"] == ["ci", "default"]


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_alg_none_is_refused(mount: httpx.Client, alg: str) -> None:
    token = _forge({"alg": alg, "typ": "JWT", "kid": "rsa-1"}, _claims())
    for path in ("ci", "pem"):
        _refused(
            _login(mount, token, path),
            "error validating token: error verifying token signature: unexpected signature "
            f'algorithm "{alg}"; expected ["RS256" "RS384" "RS512" "ES256" "ES384" "ES512" '
            '"PS256" "PS384" "PS512" "EdDSA"]',
        )


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
def test_algorithm_confusion_hmac_signed_with_the_public_key_is_refused(
    mount: httpx.Client, local_idp: LocalIdP, alg: str
) -> None:
    # The classic attack: sign with HMAC using the RSA public key (PEM, or the JWK's modulus)
    # as the secret, hoping the verifier hands "its key" to the algorithm the token names.
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    secrets_tried = [
        public_pem(local_idp.rsa_key).encode(),
        public_pem(local_idp.rsa_key).strip().encode(),
        json.dumps(local_idp.jwks()["keys"][0]).encode(),
    ]
    for secret in secrets_tried:
        header, claims = {"alg": alg, "typ": "JWT", "kid": "rsa-1"}, _claims()
        unsigned = _forge(header, claims).rsplit(".", 1)[0]
        signature = hmac.new(secret, unsigned.encode(), digest).digest()
        for path in ("ci", "pem"):
            answer = _login(mount, unsigned + "." + _b64(signature), path)
            assert answer.status_code == 400
            assert answer.json()["errors"][0].startswith(
                "error validating token: error verifying token signature: unexpected signature "
                f'algorithm "{alg}"'
            )


def test_hmac_algorithms_cannot_be_configured(mount: httpx.Client) -> None:
    answer = mount.post(
        "/v1/auth/ci/config",
        json={"jwt_validation_pubkeys": ["x"], "jwt_supported_algs": ["HS256"]},
        headers=ROOT,
    )
    assert answer.status_code == 400


@pytest.mark.parametrize(
    "kid",
    [
        "../../../../etc/passwd",
        "/dev/random",
        "' OR '1'='1",
        "rsa-1' UNION SELECT key FROM keys --",
        "http://127.0.0.1:9/evil-jwks",
        "rsa-1/../ec-1",
        "rsa-1\x00",
        "a" * 4000,
    ],
)
def test_kid_injection_is_refused_without_fetching_anything(
    mount: httpx.Client, local_idp: LocalIdP, kid: str
) -> None:
    attacker = LocalIdP().start()  # a server the token points at; it must never be called
    try:
        before = len(local_idp.requests)
        header_extras = {
            "kid": kid,
            "jku": attacker.jwks_url,
            "x5u": attacker.url + "/cert.pem",
            "jwk": attacker.jwks()["keys"][0],
        }
        # Signed by the attacker's key, and by the real key: neither may pass with a bogus kid.
        forged = jwt.encode(_claims(), attacker.rsa_key, "RS256", headers=header_extras)
        genuine_key = jwt.encode(_claims(), local_idp.rsa_key, "RS256", headers=header_extras)
        for token in (forged, genuine_key):
            _refused(_login(mount, token), SIGNATURE_FAILED)
        assert attacker.requests == []
        # The only request allowed is one rate-limited refresh of the configured JWKS itself.
        fetched = local_idp.requests[before:]
        assert set(fetched) <= {"/jwks"} and len(fetched) <= 1, fetched
    finally:
        attacker.stop()


def test_signature_from_a_key_not_in_the_jwks_is_refused(
    mount: httpx.Client, local_idp: LocalIdP
) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for headers in ({"kid": "rsa-1"}, {}):
        token = jwt.encode(_claims(), stranger, "RS256", headers=headers)
        for path in ("ci", "pem"):
            _refused(
                _login(mount, token, path),
                SIGNATURE_FAILED,
            )


def test_tampered_payload_breaks_the_signature(mount: httpx.Client, local_idp: LocalIdP) -> None:
    genuine = local_idp.sign(_claims(repository="acme/other"))
    header, _, signature = genuine.split(".")
    tampered = header + "." + _b64(json.dumps(_claims()).encode()) + "." + signature
    _refused(_login(mount, tampered), SIGNATURE_FAILED)


def test_expired_token_beyond_leeway_is_refused(mount: httpx.Client, local_idp: LocalIdP) -> None:
    now = int(time.time())
    expired = local_idp.sign(_claims(iat=now - 3600, nbf=now - 3600, exp=now - 1000))
    _refused(
        _login(mount, expired),
        "error validating token: invalid expiration time (exp) claim: token is expired",
    )
    # Within the default leeway (150 s + 60 s clock skew) it still counts, as in Vault ...
    recent = local_idp.sign(_claims(iat=now - 600, nbf=now - 600, exp=now - 100))
    assert _login(mount, recent).status_code == 200
    # ... unless the role turns the leeways off.
    mount.post(
        "/v1/auth/ci/role/strict",
        json={
            "role_type": "jwt",
            "user_claim": "repository",
            "bound_audiences": [AUDIENCE],
            "expiration_leeway": -1,
            "clock_skew_leeway": -1,
        },
        headers=ROOT,
    ).raise_for_status()
    just_expired = local_idp.sign(_claims(iat=now - 600, nbf=now - 600, exp=now - 5))
    _refused(
        _login(mount, just_expired, role="strict"),
        "error validating token: invalid expiration time (exp) claim: token is expired",
    )


def test_not_yet_valid_token_beyond_leeway_is_refused(
    mount: httpx.Client, local_idp: LocalIdP
) -> None:
    now = int(time.time())
    future = local_idp.sign(_claims(iat=now, nbf=now + 1000, exp=now + 2000))
    _refused(
        _login(mount, future),
        "error validating token: invalid not before (nbf) claim: token not yet valid",
    )
    issued_later = local_idp.sign(_claims(iat=now + 1000, nbf=None, exp=now + 2000))
    _refused(
        _login(mount, issued_later),
        "error validating token: invalid issued at (iat) claim: token issued in the future",
    )
    no_times = {k: v for k, v in _claims().items() if k not in ("iat", "nbf", "exp")}
    token = jwt.encode(no_times, local_idp.rsa_key, "RS256", headers={"kid": "rsa-1"})
    _refused(
        _login(mount, token),
        "error validating token: no issued at (iat), not before (nbf), or expiration time "
        "(exp) claims in token",
    )


def test_audience_mismatch_is_refused(mount: httpx.Client, local_idp: LocalIdP) -> None:
    message = (
        "error validating token: invalid audience (aud) claim: audience claim does not match "
        "any expected audience"
    )
    for aud in ("https://elsewhere", ["https://elsewhere", "x"], [], None):
        claims = _claims(aud=aud)
        if aud is None:
            del claims["aud"]
        _refused(_login(mount, local_idp.sign(claims)), message)
    assert _login(mount, local_idp.sign(_claims(aud=["x", AUDIENCE]))).status_code == 200


def test_audience_claim_without_bound_audiences_is_refused(
    mount: httpx.Client, local_idp: LocalIdP
) -> None:
    mount.post(
        "/v1/auth/ci/role/no-aud",
        json={"role_type": "jwt", "user_claim": "repository", "bound_subject": _claims()["sub"]},
        headers=ROOT,
    ).raise_for_status()
    _refused(
        _login(mount, local_idp.sign(_claims()), role="no-aud"),
        "audience claim found in JWT but no audiences bound to the role",
    )


def test_issuer_mismatch_is_refused(mount: httpx.Client, local_idp: LocalIdP) -> None:
    for iss in ("https://token.actions.githubusercontent.com.evil.example", "", None):
        claims = _claims(iss=iss)
        if iss is None:
            del claims["iss"]
        _refused(
            _login(mount, local_idp.sign(claims)),
            "error validating token: invalid issuer (iss) claim",
        )


def test_subject_mismatch_is_refused(mount: httpx.Client, local_idp: LocalIdP) -> None:
    token = local_idp.sign(_claims(sub="repo:acme/api:pull_request"))
    _refused(_login(mount, token), "error validating token: invalid subject (sub) claim")


@pytest.mark.parametrize(
    ("overrides", "claim"),
    [
        ({"repository": "acme/api2"}, "repository"),
        ({"repository": "ACME/API"}, "repository"),
        ({"ref": ["refs/heads/evil", "refs/heads/mainx"]}, "ref"),
        ({"ref": {"name": "refs/heads/main"}}, "ref"),
        ({"ref": "refs/heads/main-evil"}, "ref"),
        ({"ref": True}, "ref"),
    ],
)
def test_bound_claims_mismatch_is_refused(
    mount: httpx.Client, local_idp: LocalIdP, overrides: dict[str, Any], claim: str
) -> None:
    answer = _login(mount, local_idp.sign(_claims(**overrides)))
    assert answer.status_code == 400, answer.text
    assert answer.json()["errors"][0].startswith(f'error validating claims: claim "{claim}"')


def test_missing_bound_claim_is_refused(mount: httpx.Client, local_idp: LocalIdP) -> None:
    claims = _claims()
    del claims["ref"]
    _refused(
        _login(mount, local_idp.sign(claims)), 'error validating claims: claim "ref" is missing'
    )


def test_malformed_tokens_are_400_not_500(mount: httpx.Client) -> None:
    for token in ("", "a", "a.b", "a.b.c", "...", "e30.e30.", "x" * 20000, "eyJ.eyJ.AAA"):
        answer = _login(mount, token)
        assert answer.status_code == 400, (token[:20], answer.text)


# -- OIDC flow ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def oidc(kv2_server: HushProcess, local_idp: LocalIdP) -> Iterator[httpx.Client]:
    with kv2_server.http() as http:
        http.post("/v1/sys/auth/oidc", json={"type": "oidc"}, headers=ROOT).raise_for_status()
        http.post(
            "/v1/auth/oidc/config",
            json={
                "oidc_discovery_url": local_idp.url,
                "oidc_client_id": local_idp.client_id,
                "oidc_client_secret": local_idp.client_secret,
            },
            headers=ROOT,
        ).raise_for_status()
        http.post(
            "/v1/auth/oidc/role/person",
            json={"user_claim": "sub", "allowed_redirect_uris": ["http://localhost:8250/cb"]},
            headers=ROOT,
        ).raise_for_status()
        yield http


def _start(http: httpx.Client) -> dict[str, str]:
    url = http.post(
        "/v1/auth/oidc/oidc/auth_url",
        json={"role": "person", "redirect_uri": "http://localhost:8250/cb"},
    ).json()["data"]["auth_url"]
    location = httpx.get(url, follow_redirects=False).headers["location"]
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def test_replayed_oidc_state_is_refused(oidc: httpx.Client, local_idp: LocalIdP) -> None:
    back = _start(oidc)
    first = oidc.get("/v1/auth/oidc/oidc/callback", params=back)
    assert first.status_code == 200, first.text
    again = oidc.get("/v1/auth/oidc/oidc/callback", params=back)
    _refused(again, "Login failed. Expired or missing OAuth state.")
    forged = oidc.get("/v1/auth/oidc/oidc/callback", params={**back, "state": "st_forged"})
    _refused(forged, "Login failed. Expired or missing OAuth state.")


def test_oidc_nonce_mismatch_is_refused(oidc: httpx.Client, local_idp: LocalIdP) -> None:
    for nonce in ("n_attacker", "", None):
        local_idp.id_token_overrides = {"nonce": nonce}
        try:
            back = _start(oidc)
            answer = oidc.get("/v1/auth/oidc/oidc/callback", params=back)
        finally:
            local_idp.id_token_overrides = {}
        _refused(answer, "Login failed. Error validating ID token: invalid ID token nonce")


def test_oidc_id_token_for_another_client_is_refused(
    oidc: httpx.Client, local_idp: LocalIdP
) -> None:
    local_idp.id_token_overrides = {"aud": "some-other-client"}
    try:
        answer = oidc.get("/v1/auth/oidc/oidc/callback", params=_start(oidc))
    finally:
        local_idp.id_token_overrides = {}
    _refused(
        answer,
        "Login failed. Error validating ID token: invalid audience (aud) claim: audience claim "
        "does not match any expected audience",
    )


def test_oidc_code_cannot_be_redeemed_without_the_pkce_verifier(
    oidc: httpx.Client, local_idp: LocalIdP
) -> None:
    back = _start(oidc)
    # The code alone (stolen from a redirect) is useless at the token endpoint without the
    # verifier Hush kept; the provider refuses it.
    status, body = local_idp.token(
        {
            "grant_type": "authorization_code",
            "code": back["code"],
            "redirect_uri": "http://localhost:8250/cb",
            "code_verifier": "guessed",
        },
        "Basic "
        + base64.b64encode(f"{local_idp.client_id}:{local_idp.client_secret}".encode()).decode(),
    )
    assert (status, body) == (400, {"error": "invalid_grant"})
