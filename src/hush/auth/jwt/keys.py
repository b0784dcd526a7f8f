"""Where JWT verification keys come from: static PEM keys, a JWKS URL, or OIDC discovery.

Every source answers one question, :meth:`KeySource.candidates`: which public keys may have
signed a token with this ``kid`` header? The ``kid`` is only ever a dictionary key here: it never
becomes part of a URL, a file name or a query, and a token's ``jku``/``x5u``/``jwk`` headers are
ignored, so a token cannot make Hush fetch anything. A JWKS is fetched (with :mod:`httpx`, over
the configured CA bundle) on first use, kept for :data:`JWKS_MAX_AGE` seconds, and fetched again
when a token names a ``kid`` the cached set lacks, at most once per :data:`JWKS_MIN_REFRESH`
seconds so unknown ``kid`` values cannot turn Hush into a request amplifier against the provider.

Only asymmetric keys are ever loaded (``oct`` entries of a JWKS are skipped): an HMAC algorithm
can never be verified with a public key, which closes algorithm confusion at the source.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

import httpx
import jwt
import orjson
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from hush.auth.tls import ssl_context

__all__ = [
    "JWKS_MAX_AGE",
    "JWKS_MIN_REFRESH",
    "SUPPORTED_ALGORITHMS",
    "KeyFetchError",
    "KeySource",
    "PublicKey",
    "RemoteKeySet",
    "StaticKeySet",
    "VerificationKey",
    "algorithm_fits",
    "fetch_json",
    "load_public_key_pem",
]

PublicKey = (
    rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | ed448.Ed448PublicKey
)

#: Vault's list: RSA, RSA-PSS, ECDSA and EdDSA. No HMAC and never ``none``.
SUPPORTED_ALGORITHMS: Final = (
    "RS256",
    "RS384",
    "RS512",
    "ES256",
    "ES384",
    "ES512",
    "PS256",
    "PS384",
    "PS512",
    "EdDSA",
)
JWKS_MAX_AGE: Final = 3600.0
JWKS_MIN_REFRESH: Final = 5.0
#: A JWKS or discovery document larger than this is not one (bounded memory per fetch).
MAX_DOCUMENT_BYTES: Final = 1 << 20
FETCH_TIMEOUT: Final = 10.0

_CURVE_ALGORITHMS: Final[Mapping[str, str]] = {
    "secp256r1": "ES256",
    "secp384r1": "ES384",
    "secp521r1": "ES512",
}


class KeyFetchError(Exception):
    """A JWKS or discovery document could not be fetched or parsed (message names no secret)."""


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """One public key and the ``kid`` it was published under (``None`` for PEM keys)."""

    key: PublicKey
    kid: str | None = None


def algorithm_fits(algorithm: str, key: PublicKey) -> bool:
    """Whether ``algorithm`` is a signature algorithm of ``key``'s type (and curve)."""
    if isinstance(key, rsa.RSAPublicKey):
        return algorithm[:2] in ("RS", "PS")
    if isinstance(key, ec.EllipticCurvePublicKey):
        return _CURVE_ALGORITHMS.get(key.curve.name) == algorithm
    return algorithm == "EdDSA"


def load_public_key_pem(pem: str) -> PublicKey:
    """A PEM public key or certificate's key; raises :class:`ValueError` for anything else."""
    data = pem.strip().encode()
    loaded: Any
    if b"CERTIFICATE" in data:
        loaded = x509.load_pem_x509_certificate(data).public_key()
    else:
        loaded = serialization.load_pem_public_key(data)
    if not isinstance(
        loaded,
        rsa.RSAPublicKey
        | ec.EllipticCurvePublicKey
        | ed25519.Ed25519PublicKey
        | ed448.Ed448PublicKey,
    ):
        raise ValueError("unsupported public key type")
    return loaded


async def fetch_json(url: str, ca_pem: str) -> dict[str, Any]:
    """GET ``url`` and parse its JSON object body (redirects not followed, size bounded)."""
    try:
        verify = ssl_context(ca_pem)
    except ValueError as exc:
        raise KeyFetchError(str(exc)) from None
    try:
        async with (
            httpx.AsyncClient(verify=verify, timeout=FETCH_TIMEOUT) as client,
            client.stream("GET", url, headers={"Accept": "application/json"}) as response,
        ):
            if response.status_code != 200:
                raise KeyFetchError(f"{url} answered HTTP {response.status_code}")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_DOCUMENT_BYTES:
                    raise KeyFetchError(f"{url} answered more than {MAX_DOCUMENT_BYTES} bytes")
    except httpx.HTTPError as exc:
        raise KeyFetchError(f"fetching {url} failed: {type(exc).__name__}") from None
    try:
        parsed = orjson.loads(bytes(body))
    except orjson.JSONDecodeError:
        raise KeyFetchError(f"{url} did not answer JSON") from None
    if not isinstance(parsed, dict):
        raise KeyFetchError(f"{url} did not answer a JSON object")
    return parsed


def parse_jwks(document: Mapping[str, Any]) -> list[VerificationKey]:
    """The usable public signature keys of a JWKS document (symmetric and ``enc`` keys skipped)."""
    entries = document.get("keys")
    if not isinstance(entries, list):
        raise KeyFetchError("JWKS document has no 'keys' list")
    found: list[VerificationKey] = []
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("kty") not in ("RSA", "EC", "OKP"):
            continue
        if entry.get("use", "sig") != "sig":
            continue
        public = {k: v for k, v in entry.items() if k not in ("d", "p", "q", "dp", "dq", "qi")}
        try:
            key: Any = jwt.PyJWK(public).key
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
            continue
        if isinstance(
            key,
            rsa.RSAPublicKey
            | ec.EllipticCurvePublicKey
            | ed25519.Ed25519PublicKey
            | ed448.Ed448PublicKey,
        ):
            kid = entry.get("kid")
            found.append(VerificationKey(key, kid if isinstance(kid, str) else None))
    return found


class KeySource(Protocol):
    """Anything that can name the keys that may have signed a token."""

    async def candidates(self, kid: str | None) -> Sequence[VerificationKey]:
        """Keys to try for a token whose header names ``kid`` (or none)."""


class StaticKeySet:
    """``jwt_validation_pubkeys``: a fixed list of PEM keys, all tried (they carry no ``kid``)."""

    def __init__(self, keys: Sequence[PublicKey]) -> None:
        self._keys = tuple(VerificationKey(key) for key in keys)

    async def candidates(self, kid: str | None) -> Sequence[VerificationKey]:
        """Every configured key."""
        return self._keys


class RemoteKeySet:
    """A JWKS fetched from ``url``, cached, refreshed on an unknown ``kid`` (rate limited)."""

    def __init__(self, url: str, ca_pem: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.url = url
        self._ca_pem = ca_pem
        self._clock = clock
        self._keys: tuple[VerificationKey, ...] = ()
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()

    async def refresh(self) -> None:
        """Fetch the key set now; raises :class:`KeyFetchError`."""
        keys = parse_jwks(await fetch_json(self.url, self._ca_pem))
        self._keys = tuple(keys)
        self._fetched_at = self._clock()

    async def candidates(self, kid: str | None) -> Sequence[VerificationKey]:
        """The key with ``kid`` (after one refresh if unknown), or every key without a ``kid``."""
        async with self._lock:
            if self._stale(self._clock(), kid):
                await self.refresh()
            return self._named(kid) if kid is not None else self._keys

    def _stale(self, now: float, kid: str | None) -> bool:
        if self._fetched_at is None or now - self._fetched_at > JWKS_MAX_AGE:
            return True
        unknown = kid is not None and not self._named(kid)
        return unknown and now - self._fetched_at >= JWKS_MIN_REFRESH

    def _named(self, kid: str) -> tuple[VerificationKey, ...]:
        return tuple(key for key in self._keys if key.kid == kid)
