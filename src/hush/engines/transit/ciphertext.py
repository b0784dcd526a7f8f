"""The ``vault:v<N>:<base64>`` envelope of transit ciphertexts, signatures and HMACs.

Parsing follows Vault's ``keysutil.Policy.DecryptWithFactory``: the prefix ``vault:v``, then a
decimal version, a colon and the payload. Every malformed input raises
:class:`~hush.core.errors.InvalidRequest` with Vault's wording; the message never quotes the input,
which may be secret.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from hush.core.errors import InvalidRequest

__all__ = [
    "PREFIX",
    "Versioned",
    "b64decode",
    "b64decode_input",
    "b64encode",
    "format_versioned",
    "parse_versioned",
]

PREFIX = "vault:v"
# Go's strconv.Atoi: an optional sign and ASCII digits. Longer numbers overflow there; here they
# would exhaust int()'s digit limit, so both are "could not be decoded".
_VERSION = re.compile(r"[+-]?[0-9]{1,18}", re.ASCII)
_STD_ALPHABET = re.compile(r"[A-Za-z0-9+/]*={0,2}", re.ASCII)
_URL_ALPHABET = re.compile(r"[A-Za-z0-9_-]*", re.ASCII)


@dataclass(frozen=True, slots=True)
class Versioned:
    """A parsed envelope: the key version and the still-encoded payload."""

    version: int
    payload: str


def parse_versioned(value: str, kind: str = "ciphertext") -> Versioned:
    """Split ``vault:v<N>:<payload>``; ``kind`` (ciphertext, signature) names it in errors."""
    if not isinstance(value, str) or not value.startswith(PREFIX):
        raise InvalidRequest(f"invalid {kind}: no prefix")
    version_text, sep, payload = value[len(PREFIX) :].partition(":")
    if not sep:
        raise InvalidRequest(f"invalid {kind}: wrong number of fields")
    if _VERSION.fullmatch(version_text) is None:
        raise InvalidRequest(f"invalid {kind}: version number could not be decoded")
    version = int(version_text)
    # Vault: version 0 is the initial implementation's numbering and means 1.
    return Versioned(version if version != 0 else 1, payload)


def format_versioned(version: int, payload: bytes, *, urlsafe: bool = False) -> str:
    """``vault:v<version>:`` + base64 (standard, or unpadded URL-safe for JWS marshaling)."""
    return f"{PREFIX}{version}:{b64encode(payload, urlsafe=urlsafe)}"


def b64encode(data: bytes, *, urlsafe: bool = False) -> str:
    """Standard base64, or Go's ``RawURLEncoding`` (no padding) when ``urlsafe``."""
    if urlsafe:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
    return base64.b64encode(data).decode("ascii")


def b64decode(value: str, what: str, *, urlsafe: bool = False) -> bytes:
    """Decode strict base64 (Go's ``StdEncoding`` or ``RawURLEncoding``) or raise a 400.

    ``what`` is the error message (Vault's, e.g. ``invalid ciphertext: could not decode base64``).
    """
    alphabet = _URL_ALPHABET if urlsafe else _STD_ALPHABET
    if not isinstance(value, str) or alphabet.fullmatch(value) is None:
        raise InvalidRequest(what)
    try:
        if urlsafe:
            if len(value) % 4 == 1:
                raise InvalidRequest(what)
            return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        if len(value) % 4:
            raise InvalidRequest(what)
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest(what) from None


def b64decode_input(value: str, prefix: str = "") -> bytes:
    """Decode a client's base64 field; errors read as Go's (``illegal base64 data at ...``).

    The message gives only a position, never the value, which may be a secret's encoding.
    """
    match = _STD_ALPHABET.match(value) if isinstance(value, str) else None
    end = match.end() if match is not None else 0
    if isinstance(value, str) and end == len(value) and len(value) % 4 == 0:
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            pass
    position = end if isinstance(value, str) and end < len(value) else len(value) - len(value) % 4
    raise InvalidRequest(f"{prefix}illegal base64 data at input byte {max(position, 0)}")
