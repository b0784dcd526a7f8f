"""AWS Signature Version 4 verification for the AWS front end.

The expected signature is computed by botocore's own signer (:class:`botocore.auth.SigV4Auth`) on
a request rebuilt from exactly the headers the client says it signed, so Hush and every AWS SDK
agree on canonicalisation by construction. The comparison is constant-time, and the request date
must lie within 15 minutes of the server's clock, as AWS requires.

The derived signing key (botocore's HMAC chain ``AWS4<secret>`` → date → region → service →
``aws4_request``) depends only on the secret and the credential scope, so it is computed once per
(secret, date, region, service) and kept in a small bounded LRU cache (:class:`SigningKeyCache`),
keyed by a SHA-256 digest of the secret (never the secret itself) together with the scope: a
different or rotated secret is a different entry, so a cached key never signs for another one.
Canonicalisation, the string to sign and the final HMAC are still botocore's, every request.

Error types and messages are AWS's: an unknown key is ``UnrecognizedClientException``, a wrong
signature or a stale date ``InvalidSignatureException``, a missing ``Authorization`` header
``MissingAuthenticationTokenException``.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import hashlib
import re
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hush.crypto import SecretBytes, constant_time_equal

__all__ = [
    "ALGORITHM",
    "MAX_CLOCK_SKEW",
    "SIGNING_KEYS",
    "Credential",
    "SigV4Error",
    "SignedRequest",
    "SigningKeyCache",
    "parse_authorization",
    "verify",
]

ALGORITHM = "AWS4-HMAC-SHA256"
# botocore's format; botocore itself is imported on first use (it adds ~0.5 s to server start).
SIGV4_TIMESTAMP = "%Y%m%dT%H%M%SZ"
MAX_CLOCK_SKEW = datetime.timedelta(minutes=15)
_TIMESTAMP_RE = re.compile(r"[0-9]{8}T[0-9]{6}Z")
_AUTH_RE = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+),\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+),\s*Signature=(?P<signature>[0-9a-fA-F]+)\s*$"
)
_BAD_SIGNATURE = (
    "The request signature we calculated does not match the signature you provided. Check your "
    "AWS Secret Access Key and signing method. Consult the service documentation for details."
)


class SigV4Error(Exception):
    """A request failed authentication; ``aws_type`` and the message are what AWS answers."""

    def __init__(self, aws_type: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.aws_type = aws_type
        self.message = message
        self.status = status


@dataclass(frozen=True, slots=True)
class Credential:
    """The parsed ``Credential=`` scope of an ``Authorization`` header."""

    access_key_id: str
    date: str
    region: str
    service: str


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """What the verifier needs from the wire: method, path, query, headers (lower-case), body."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class _Authorization:
    credential: Credential
    signed_headers: tuple[str, ...]
    signature: str


def _missing() -> SigV4Error:
    return SigV4Error("MissingAuthenticationTokenException", "Missing Authentication Token")


def _incomplete(detail: str) -> SigV4Error:
    return SigV4Error("IncompleteSignatureException", detail)


def parse_authorization(header: str) -> tuple[Credential, tuple[str, ...], str]:
    """Split an ``Authorization`` header into credential scope, signed headers and signature."""
    if not header:
        raise _missing()
    if not header.startswith(ALGORITHM):
        raise _incomplete(f"Unsupported AWS 'algorithm': '{header.split(' ', 1)[0]}'")
    found = _AUTH_RE.match(header)
    if found is None:
        raise _incomplete(
            "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' "
            f"parameters. Authorization={header.split(' ', 1)[0]}"
        )
    parts = found["credential"].split("/")
    if len(parts) != 5 or parts[4] != "aws4_request" or not all(parts):
        raise _incomplete(
            "Credential should be scoped to a valid region, service and aws4_request terminator."
        )
    signed = tuple(found["signed"].lower().split(";"))
    if "host" not in signed:
        raise _incomplete("'Host' must be a 'SignedHeader' in the AWS Authorization.")
    return Credential(*parts[:4]), signed, found["signature"].lower()


def _parse_timestamp(raw: str) -> datetime.datetime:
    """``raw`` in :data:`SIGV4_TIMESTAMP` format; the common exact shape without ``strptime``."""
    if _TIMESTAMP_RE.fullmatch(raw):
        with contextlib.suppress(ValueError):  # an impossible date: strptime decides, as before
            return datetime.datetime(
                int(raw[0:4]), int(raw[4:6]), int(raw[6:8]), int(raw[9:11]), int(raw[11:13]),
                int(raw[13:15]),
            )  # fmt: skip
    return datetime.datetime.strptime(raw, SIGV4_TIMESTAMP)


def _request_time(headers: Mapping[str, str]) -> datetime.datetime:
    raw = headers.get("x-amz-date", "")
    try:
        moment = _parse_timestamp(raw)
    except ValueError:
        raise _incomplete(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
        ) from None
    return moment.replace(tzinfo=datetime.UTC)


def check_date(moment: datetime.datetime, now: datetime.datetime) -> None:
    """Refuse a request dated outside ±15 minutes of ``now`` with AWS's messages."""
    if now - MAX_CLOCK_SKEW <= moment <= now + MAX_CLOCK_SKEW:
        return
    stamp = moment.strftime(SIGV4_TIMESTAMP)
    now_stamp = now.strftime(SIGV4_TIMESTAMP)
    if moment < now - MAX_CLOCK_SKEW:
        limit = (now - MAX_CLOCK_SKEW).strftime(SIGV4_TIMESTAMP)
        raise SigV4Error(
            "InvalidSignatureException",
            f"Signature expired: {stamp} is now earlier than {limit} ({now_stamp} - 15 min.)",
        )
    if moment > now + MAX_CLOCK_SKEW:
        limit = (now + MAX_CLOCK_SKEW).strftime(SIGV4_TIMESTAMP)
        raise SigV4Error(
            "InvalidSignatureException",
            f"Signature not yet current: {stamp} is still later than {limit} "
            f"({now_stamp} + 15 min.)",
        )


class SigningKeyCache:
    """Bounded LRU of derived SigV4 signing keys by (secret digest, date, region, service)."""

    def __init__(self, size: int = 1024) -> None:
        self._size = size
        self._keys: OrderedDict[tuple[bytes, str, str, str], bytes] = OrderedDict()

    def get(self, signer: Any, secret: bytes, date: str, region: str, service: str) -> bytes:
        """The signing key for ``secret`` in this scope, derived with botocore's HMAC on a miss."""
        slot = (hashlib.sha256(secret).digest(), date, region, service)
        key = self._keys.get(slot)
        if key is not None:
            self._keys.move_to_end(slot)
            return key
        # botocore's own chain (SigV4Auth.signature), step by step.
        derived: bytes = signer._sign(b"AWS4" + secret, date)
        for part in (region, service, "aws4_request"):
            derived = signer._sign(derived, part)
        self._keys[slot] = key = derived
        while len(self._keys) > self._size:
            self._keys.popitem(last=False)
        return key

    def clear(self) -> None:
        """Forget every cached key."""
        self._keys.clear()

    def __len__(self) -> int:
        """How many keys are cached."""
        return len(self._keys)


SIGNING_KEYS = SigningKeyCache()


@functools.cache
def _signer_class() -> Any:
    """botocore's SigV4 signer with the signing key taken from :data:`SIGNING_KEYS`."""
    from botocore.auth import SigV4Auth

    class CachedKeySigV4Auth(SigV4Auth):  # type: ignore[misc]
        """``SigV4Auth`` whose derived signing key comes from the bounded cache."""

        def signature(self, string_to_sign: str, request: Any) -> str:
            """botocore's final HMAC over ``string_to_sign`` with the (cached) signing key."""
            key = SIGNING_KEYS.get(
                self,
                self.credentials.secret_key.encode(),
                request.context["timestamp"][0:8],
                self._region_name,
                self._service_name,
            )
            return str(self._sign(key, string_to_sign, hex=True))

    return CachedKeySigV4Auth


def expected_signature(
    request: SignedRequest,
    credential: Credential,
    signed_headers: tuple[str, ...],
    secret_key: SecretBytes,
) -> str:
    """The signature botocore computes for ``request`` under ``secret_key``."""
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    headers = {name: request.headers.get(name, "") for name in signed_headers}
    host = headers.get("host", "")
    url = f"http://{host}{request.path}" + (f"?{request.query}" if request.query else "")
    rebuilt = AWSRequest(method=request.method, url=url, headers=headers, data=request.body)
    rebuilt.context["timestamp"] = request.headers.get("x-amz-date", "")
    signer = _signer_class()(
        Credentials(credential.access_key_id, secret_key.reveal().decode()),
        credential.service,
        credential.region,
    )
    # Only the canonicalisation and the HMAC chain: add_auth would stamp the current time.
    canonical = signer.canonical_request(rebuilt)
    return str(signer.signature(signer.string_to_sign(rebuilt, canonical), rebuilt))


def verify(
    request: SignedRequest,
    secret_key: SecretBytes,
    *,
    now: datetime.datetime | None = None,
) -> None:
    """Check ``request``'s signature and date; raises :class:`SigV4Error` when either is wrong."""
    credential, signed_headers, signature = parse_authorization(
        request.headers.get("authorization", "")
    )
    moment = _request_time(request.headers)
    if credential.date != f"{moment.year:04d}{moment.month:02d}{moment.day:02d}":
        raise SigV4Error("InvalidSignatureException", _BAD_SIGNATURE)
    check_date(moment, now or datetime.datetime.now(datetime.UTC))
    expected = expected_signature(request, credential, signed_headers, secret_key)
    if not constant_time_equal(expected, signature):
        raise SigV4Error("InvalidSignatureException", _BAD_SIGNATURE)
