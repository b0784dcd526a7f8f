"""TOTP keys (RFC 6238): parameters, Vault's validation rules and texts, ``otpauth://`` URLs.

Code generation and checking are pyotp's (``pyotp.TOTP``); this module only holds a key's
settings, enforces Vault's rules on them (``builtin/logical/totp/path_keys.go``: digits 6 or 8,
SHA1/SHA256/SHA512, period > 0, skew 0 or 1) and reads or writes Google Authenticator's
key URI format. The shared secret travels as :class:`~hush.crypto.SecretBytes` and is
serialised only by :meth:`TotpKey.to_bytes`, whose output goes to barrier-encrypted storage.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

import orjson
import pyotp

from hush.core.errors import InvalidRequest
from hush.crypto import SecretBytes, random_bytes

__all__ = [
    "ALGORITHMS",
    "KeySettings",
    "TotpKey",
    "decode_base32_key",
    "parse_otpauth_url",
]

ALGORITHMS: dict[str, Callable[..., Any]] = {
    "SHA1": hashlib.sha1,
    "SHA256": hashlib.sha256,
    "SHA512": hashlib.sha512,
}
_BASE32_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
_DIGITS_ONLY = re.compile(r"[0-9]+")
_BAD_URL = re.compile(r"[\x00-\x1f\x7f ]")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


@dataclass(frozen=True, slots=True)
class KeySettings:
    """The non-secret parameters of a key, as sent (before Vault's checks)."""

    issuer: str
    account_name: str
    period: int
    algorithm: str
    digits: int
    skew: int

    def check(self) -> None:
        """Vault's checks, in Vault's order and with its messages."""
        if self.digits not in (6, 8):
            raise InvalidRequest("the digits value can only be 6 or 8")
        if self.algorithm not in ALGORITHMS:
            raise InvalidRequest("the algorithm value is not valid")
        if self.period <= 0:
            raise InvalidRequest("the period value must be greater than zero")
        if self.skew not in (0, 1):
            raise InvalidRequest("the skew value must be 0 or 1")


def decode_base32_key(text: str) -> SecretBytes:
    """The secret of a base32 ``key`` (case-insensitive; padding optional, as pyotp reads it).

    Errors follow Go's ``encoding/base32`` text, which Vault returns after "invalid key value: ".
    """
    upper = text.upper()
    stripped = upper.rstrip("=")
    for index, char in enumerate(stripped):
        if char not in _BASE32_ALPHABET:
            raise InvalidRequest(f"invalid key value: illegal base32 data at input byte {index}")
    if len(stripped) % 8 in (1, 3, 6):
        # Lengths no byte string encodes to: Vault pads the text and Go then stops at the
        # first padding character.
        raise InvalidRequest(
            f"invalid key value: illegal base32 data at input byte {len(stripped)}"
        )
    try:
        secret = base64.b32decode(stripped + "=" * (-len(stripped) % 8))
    except (binascii.Error, ValueError):
        raise InvalidRequest("invalid key value: illegal base32 data at input byte 0") from None
    if not secret:
        raise InvalidRequest("the key value is required")
    return SecretBytes(secret)


@dataclass(frozen=True, slots=True)
class ParsedUrl:
    """What an ``otpauth://totp/...`` URL sets; ``None`` where it says nothing."""

    key: str
    issuer: str | None
    account_name: str
    period: int | None
    digits: int | None
    algorithm: str | None


def parse_otpauth_url(url: str) -> ParsedUrl:
    """Read a key URI the way Vault does (``issuer`` query first, else the label's prefix)."""
    try:
        parts = urlsplit(url)
        query = parse_qs(parts.query, keep_blank_values=True)
    except ValueError:
        raise InvalidRequest("an error occurred while parsing url string") from None
    if _BAD_URL.search(url) or _BAD_ESCAPE.search(parts.path):
        # What Go's url.Parse refuses. Like Vault, any other URL is read for its label and
        # query (the scheme and host are not checked: a URL without a secret then fails as
        # "the key value is required").
        raise InvalidRequest("an error occurred while parsing url string")
    label = unquote(parts.path).removeprefix("/")
    issuer_from_label, sep, account = label.partition(":")
    if not sep:
        account, issuer_from_label = label, ""

    def first(name: str) -> str:
        values = query.get(name)
        return values[0] if values else ""

    def number(name: str) -> int | None:
        value = first(name)
        if not value:
            return None
        if not _DIGITS_ONLY.fullmatch(value.lstrip("+-")) or len(value) > 18:
            raise InvalidRequest(f"an error occurred while parsing {name} value in url")
        return int(value)

    issuer = first("issuer") or (issuer_from_label if sep else None)
    return ParsedUrl(
        key=first("secret"),
        issuer=issuer,
        account_name=account,
        period=number("period"),
        digits=number("digits"),
        algorithm=first("algorithm") or None,
    )


@dataclass(frozen=True, slots=True)
class TotpKey:
    """A named TOTP key: its secret and the settings codes are computed with."""

    secret: SecretBytes
    settings: KeySettings

    @classmethod
    def generate(cls, settings: KeySettings, key_size: int) -> TotpKey:
        """A key with ``key_size`` random bytes (Hush is the provider)."""
        return cls(SecretBytes(random_bytes(key_size)), settings)

    def _base32(self) -> str:
        return base64.b32encode(self.secret.reveal()).decode("ascii").rstrip("=")

    def _totp(self) -> pyotp.TOTP:
        s = self.settings
        return pyotp.TOTP(
            self._base32(), digits=s.digits, digest=ALGORITHMS[s.algorithm], interval=s.period
        )

    def code_at(self, when: float) -> str:
        """The code for the time step holding ``when`` (seconds since the epoch)."""
        return self._totp().at(int(when))

    def verify(self, code: str, when: float) -> bool:
        """Whether ``code`` is right for ``when`` give or take ``skew`` periods.

        Only ASCII digits of the key's length can match: pyotp compares after NFKC
        normalisation, which would otherwise accept full-width digits as the ASCII code (and so
        let the same code be used twice under two spellings).
        """
        if len(code) != self.settings.digits or not _DIGITS_ONLY.fullmatch(code):
            return False
        return self._totp().verify(code, for_time=int(when), valid_window=self.settings.skew)

    def url(self) -> str:
        """The key URI (Vault's layout: ``otpauth://totp/Issuer:account?algorithm=...``)."""
        s = self.settings
        query = urlencode(
            {
                "algorithm": s.algorithm,
                "digits": str(s.digits),
                "issuer": s.issuer,
                "period": str(s.period),
                "secret": self._base32(),
            },
            quote_via=quote,
        )
        label = quote(f"{s.issuer}:{s.account_name}", safe=":@")
        return f"otpauth://totp/{label}?{query}"

    def read_data(self) -> dict[str, Any]:
        """The answer of ``GET keys/:name``: the settings, never the secret."""
        s = self.settings
        return {
            "issuer": s.issuer,
            "account_name": s.account_name,
            "period": s.period,
            "algorithm": s.algorithm,
            "digits": s.digits,
        }

    def to_bytes(self) -> bytes:
        """Serialised for the (barrier-encrypted) storage view only."""
        s = self.settings
        return orjson.dumps(
            {
                "key": base64.b64encode(self.secret.reveal()).decode("ascii"),
                "issuer": s.issuer,
                "account_name": s.account_name,
                "period": s.period,
                "algorithm": s.algorithm,
                "digits": s.digits,
                "skew": s.skew,
            }
        )

    @classmethod
    def from_bytes(cls, blob: bytes) -> TotpKey:
        """Inverse of :meth:`to_bytes`."""
        data = orjson.loads(blob)
        settings = KeySettings(
            issuer=data["issuer"],
            account_name=data["account_name"],
            period=int(data["period"]),
            algorithm=data["algorithm"],
            digits=int(data["digits"]),
            skew=int(data["skew"]),
        )
        return cls(SecretBytes(base64.b64decode(data["key"])), settings)
