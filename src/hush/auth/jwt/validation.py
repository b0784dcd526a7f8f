"""Checking a JWT: header, signature (PyJWT over :mod:`cryptography`), then the registered claims.

The order matters for safety. The header's ``alg`` must be one of the configured asymmetric
algorithms before any key is touched (so ``none`` and every HMAC algorithm are refused outright),
and each candidate key is used only with the one algorithm of its own type: a public RSA key is
never handed to an HMAC verifier (algorithm confusion). Only then are the claims read. Error
texts follow Vault's (``cap/jwt``) so clients and runbooks recognise them; none quotes the token.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import jwt
import orjson

from hush.auth.jwt.keys import SUPPORTED_ALGORITHMS, KeyFetchError, KeySource, algorithm_fits
from hush.crypto import constant_time_equal

__all__ = [
    "DEFAULT_CLOCK_SKEW_LEEWAY",
    "DEFAULT_EXPIRATION_LEEWAY",
    "DEFAULT_NOT_BEFORE_LEEWAY",
    "Expected",
    "TokenInvalid",
    "effective_leeway",
    "validate_token",
]

DEFAULT_CLOCK_SKEW_LEEWAY: Final = 60
DEFAULT_EXPIRATION_LEEWAY: Final = 150
DEFAULT_NOT_BEFORE_LEEWAY: Final = 150
#: Compact JWTs longer than this are refused before parsing (GitHub's are about 1.5 KB).
MAX_TOKEN_LENGTH: Final = 16 * 1024
SIGNATURE_FAILED: Final = "error verifying token signature: failed to verify id token signature"


class TokenInvalid(Exception):
    """The token was refused; ``str()`` is the reason, safe to show the caller."""


def effective_leeway(configured: int, default: int) -> int:
    """Vault's rule: 0 means the default, a negative value means no leeway at all."""
    if configured < 0:
        return 0
    return configured or default


@dataclass(frozen=True, slots=True)
class Expected:
    """What the token must satisfy (empty values are not checked)."""

    algorithms: tuple[str, ...] = SUPPORTED_ALGORITHMS
    issuer: str = ""
    subject: str = ""
    audiences: tuple[str, ...] = ()
    clock_skew_leeway: int = 0
    expiration_leeway: int = 0
    not_before_leeway: int = 0
    nonce: str | None = None


def _header(token: str) -> dict[str, Any]:
    if len(token) > MAX_TOKEN_LENGTH:
        raise TokenInvalid(f"token is longer than {MAX_TOKEN_LENGTH} bytes")
    if token.count(".") != 2:
        raise TokenInvalid("malformed token: expected a compact JWS (three dot-separated parts)")
    if "crit" in _raw_header(token):
        raise TokenInvalid("the token's header lists critical extensions, none are supported")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        # DecodeError and PyJWT's other header checks: a malformed token is the caller's error.
        raise TokenInvalid("malformed token: the header is not valid base64url JSON") from None
    return header


def _raw_header(token: str) -> dict[str, Any]:
    try:
        parsed = orjson.loads(jwt.utils.base64url_decode(token.split(".", 1)[0]))
    except (orjson.JSONDecodeError, ValueError, TypeError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _algorithm(header: dict[str, Any], allowed: Sequence[str]) -> str:
    alg = header.get("alg")
    permitted = [a for a in allowed if a in SUPPORTED_ALGORITHMS]
    if not isinstance(alg, str) or alg not in permitted:
        shown = alg[:20] if isinstance(alg, str) else type(alg).__name__
        listed = " ".join(f'"{a}"' for a in permitted)
        # OpenBao's (go-jose's) wording, so runbooks that grep for it keep working.
        raise TokenInvalid(
            f'error verifying token signature: unexpected signature algorithm "{shown}"; '
            f"expected [{listed}]"
        )
    return alg


async def _verified_claims(
    token: str, keys: KeySource, alg: str, kid: str | None
) -> dict[str, Any]:
    try:
        candidates = await keys.candidates(kid)
    except KeyFetchError as exc:
        raise TokenInvalid(f"fetching keys failed: {exc}") from None
    for candidate in candidates:
        if not algorithm_fits(alg, candidate.key):
            continue
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                candidate.key,
                algorithms=[alg],
                options={
                    "verify_signature": True,
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "verify_aud": False,
                    "verify_iss": False,
                    "verify_sub": False,
                    "verify_jti": False,
                },
            )
        except jwt.InvalidSignatureError:
            continue
        except jwt.DecodeError:
            raise TokenInvalid("malformed token: the payload is not a JSON object") from None
        except jwt.PyJWTError:
            continue  # any other refusal of this key: try the next one
        return claims
    raise TokenInvalid(SIGNATURE_FAILED)


def _number(claims: dict[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TokenInvalid(f"invalid {name} claim: not a number")
    return float(value)


def _check_times(claims: dict[str, Any], expected: Expected, now: float) -> None:
    exp, nbf, iat = (_number(claims, n) for n in ("exp", "nbf", "iat"))
    if exp is None and nbf is None and iat is None:
        raise TokenInvalid(
            "no issued at (iat), not before (nbf), or expiration time (exp) claims in token"
        )
    skew = effective_leeway(expected.clock_skew_leeway, DEFAULT_CLOCK_SKEW_LEEWAY)
    exp_leeway = effective_leeway(expected.expiration_leeway, DEFAULT_EXPIRATION_LEEWAY)
    nbf_leeway = effective_leeway(expected.not_before_leeway, DEFAULT_NOT_BEFORE_LEEWAY)
    if exp is not None and now > exp + exp_leeway + skew:
        raise TokenInvalid("invalid expiration time (exp) claim: token is expired")
    if nbf is not None and now < nbf - nbf_leeway - skew:
        raise TokenInvalid("invalid not before (nbf) claim: token not yet valid")
    if iat is not None and now < iat - skew:
        raise TokenInvalid("invalid issued at (iat) claim: token issued in the future")


def _check_identity_claims(claims: dict[str, Any], expected: Expected) -> None:
    if expected.issuer and claims.get("iss") != expected.issuer:
        raise TokenInvalid("invalid issuer (iss) claim")
    if expected.subject and claims.get("sub") != expected.subject:
        raise TokenInvalid("invalid subject (sub) claim")
    if expected.audiences:
        aud = claims.get("aud")
        given = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
        if not any(a in expected.audiences for a in given if isinstance(a, str)):
            raise TokenInvalid(
                "invalid audience (aud) claim: audience claim does not match any expected audience"
            )
    if expected.nonce is not None:
        nonce = claims.get("nonce")
        if not isinstance(nonce, str) or not constant_time_equal(nonce, expected.nonce):
            raise TokenInvalid("invalid ID token nonce")


async def validate_token(
    token: str, keys: KeySource, expected: Expected, now: float | None = None
) -> dict[str, Any]:
    """The claims of ``token`` once its signature and registered claims check out.

    Raises :class:`TokenInvalid` with the reason otherwise.
    """
    header = _header(token)
    alg = _algorithm(header, expected.algorithms)
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise TokenInvalid("malformed token: 'kid' header is not a string")
    claims = await _verified_claims(token, keys, alg, kid)
    _check_times(claims, expected, time.time() if now is None else now)
    _check_identity_claims(claims, expected)
    return claims
