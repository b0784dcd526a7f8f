"""HMAC-SHA256 of the sensitive values of an audit entry, per device (Vault's ``hashstructure``).

Every string in request data, response data and the ``client_token``/``accessor`` of each auth
block becomes ``hmac-sha256:<hex>`` under the device's own 32-byte salt, so two devices never
share hashes and ``sys/audit-hash`` can answer "is this the value in the log?". As in Vault:

* map keys are never hashed, and non-strings (numbers, booleans, null) are kept as they are;
* a string whose nearest enclosing map key is in the mount's ``audit_non_hmac_request_keys`` /
  ``audit_non_hmac_response_keys`` stays in clear;
* auth blocks keep display names, policies and metadata in clear; only the token and (unless
  ``hmac_accessor=false``) the accessor are hashed;
* ``log_raw`` skips hashing for that device only: :func:`shape_entry` always works on a copy.

Unlike Vault, the ``error`` text is scrubbed too: a message that quotes a request value (``invalid
duration "<value>"``) would otherwise put in clear what the entry's data hashes, so each hashed
value of :data:`MIN_SCRUBBED_LENGTH` characters or more found in it is replaced by its HMAC.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from hush.crypto import SecretBytes

__all__ = ["HASH_PREFIX", "MIN_SCRUBBED_LENGTH", "Hasher", "elide_list_response", "shape_entry"]

HASH_PREFIX = "hmac-sha256:"
# Shorter values ("true", "json", "1h") are not secrets, and replacing them would garble messages.
MIN_SCRUBBED_LENGTH = 6


class Hasher:
    """HMAC-SHA256 under one device's salt, rendered the way Vault renders it."""

    __slots__ = ("_keyed", "_last_request")

    def __init__(self, salt: SecretBytes) -> None:
        # Keyed once: copying a keyed HMAC skips the key schedule on every value (the audit hot
        # path hashes several values per entry). The object's repr shows no key.
        self._keyed = hmac.new(salt.reveal(), digestmod=hashlib.sha256)
        self._last_request: tuple[Any, int, frozenset[str], Any] | None = None

    def hash(self, value: str | bytes) -> str:
        """``hmac-sha256:<hex>`` of ``value``."""
        mac = self._keyed.copy()
        mac.update(value.encode() if isinstance(value, str) else value)
        return HASH_PREFIX + mac.hexdigest()

    def hash_structure(self, value: Any, non_hmac_keys: frozenset[str], key: str = "") -> Any:
        """A copy of ``value`` with every string hashed, except under a key in ``non_hmac_keys``."""
        if type(value) is str:  # the common case first: this runs for every value logged
            return value if key in non_hmac_keys else self.hash(value)
        if isinstance(value, str | bytes | bytearray):
            if key and key in non_hmac_keys:
                return value
            return self.hash(bytes(value) if isinstance(value, bytearray) else value)
        if isinstance(value, dict | Mapping):
            return {k: self.hash_structure(v, non_hmac_keys, str(k)) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.hash_structure(item, non_hmac_keys, key) for item in value]
        return value

    def hash_request_data(self, data: Any, non_hmac_keys: frozenset[str], *, first: bool) -> Any:
        """:meth:`hash_structure` of a request's data, computed once per request.

        A request's data appears in its request entry (``first``) and again, the same object, in
        its response entry: the second call reuses the hashes and forgets them, so a million-key
        body costs one pass, not two, and nothing is kept once the request is logged.
        """
        last, self._last_request = self._last_request, None
        same = last is not None and last[0] is data and last[1:3] == (len(data), non_hmac_keys)
        if same and not first and last is not None:
            return last[3]
        hashed = self.hash_structure(data, non_hmac_keys)
        if first and data:
            self._last_request = (data, len(data), non_hmac_keys, hashed)
        return hashed


def elide_list_response(data: Mapping[str, Any]) -> dict[str, Any]:
    """Vault's ``elide_list_responses``: ``keys`` and ``key_info`` become their element counts."""
    out = dict(data)
    for name in ("keys", "key_info"):
        value = out.get(name)
        if isinstance(value, list | tuple | Mapping):
            out[name] = len(value)
    return out


def _quoted_values(error: str, data: Any, non_hmac_keys: frozenset[str]) -> set[str]:
    """The hashed strings of ``data``, long enough to scrub, that occur in ``error``.

    Iterative, and it tests each value against the (short) error instead of collecting every
    value first: a million-key body costs one cheap pass.
    """
    found: set[str] = set()
    pending: list[tuple[Any, str]] = [(data, "")]
    while pending:
        value, key = pending.pop()
        if isinstance(value, str):
            if len(value) >= MIN_SCRUBBED_LENGTH and key not in non_hmac_keys and value in error:
                found.add(value)
        elif isinstance(value, Mapping):
            pending.extend((v, str(k)) for k, v in value.items())
        elif isinstance(value, list | tuple):
            pending.extend((item, key) for item in value)
    return found


def _scrub_error(
    error: str, request: Mapping[str, Any], hasher: Hasher, non_hmac_keys: frozenset[str]
) -> str:
    """``error`` with every hashed request value (and the token) it quotes replaced by its HMAC."""
    secrets = _quoted_values(error, request.get("data"), non_hmac_keys)
    token = request.get("client_token")
    if isinstance(token, str) and token and token in error:
        secrets.add(token)
    for value in sorted(secrets, key=len, reverse=True):  # longest first: no partial overlap
        error = error.replace(value, hasher.hash(value))
    return error


def _hash_fields(
    block: Mapping[str, Any], names: tuple[str, ...], hasher: Hasher, memo: dict[str, str]
) -> dict[str, Any]:
    """A copy of ``block`` with the non-empty string fields ``names`` hashed.

    ``memo`` spares hashing the same token or accessor again for the other blocks of the entry.
    """
    out = dict(block)
    for name in names:
        value = out.get(name)
        if isinstance(value, str) and value:
            if value not in memo:
                memo[value] = hasher.hash(value)
            out[name] = memo[value]
    return out


def shape_entry(
    entry: Mapping[str, Any],
    hasher: Hasher | None,
    *,
    hmac_accessor: bool = True,
    elide_list_responses: bool = False,
    is_list: bool = False,
    non_hmac_request_keys: frozenset[str] = frozenset(),
    non_hmac_response_keys: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """The entry as one device writes it; ``hasher=None`` means ``log_raw`` (values in clear).

    Only the blocks that change are copied; the caller's entry is never modified.
    """
    out = dict(entry)
    response = out.get("response")
    if elide_list_responses and is_list and isinstance(response, Mapping):
        data = response.get("data")
        if isinstance(data, Mapping):
            response = {**response, "data": elide_list_response(data)}
            out["response"] = response
    if hasher is None:
        return out
    memo: dict[str, str] = {}
    auth_fields = ("client_token", "accessor") if hmac_accessor else ("client_token",)
    if isinstance(out.get("auth"), Mapping):
        out["auth"] = _hash_fields(out["auth"], auth_fields, hasher, memo)
    request = out.get("request")
    error = out.get("error")
    if isinstance(error, str) and error and isinstance(request, Mapping):
        out["error"] = _scrub_error(error, request, hasher, non_hmac_request_keys)
    if isinstance(request, Mapping):
        names = ("client_token", "client_token_accessor") if hmac_accessor else ("client_token",)
        req = _hash_fields(request, names, hasher, memo)
        if "data" in req:
            req["data"] = hasher.hash_request_data(
                req["data"], non_hmac_request_keys, first=out.get("type") == "request"
            )
        out["request"] = req
    if isinstance(response, Mapping):
        resp = dict(response)
        if isinstance(resp.get("auth"), Mapping):
            resp["auth"] = _hash_fields(resp["auth"], auth_fields, hasher, memo)
        if "data" in resp:
            resp["data"] = hasher.hash_structure(resp["data"], non_hmac_response_keys)
        out["response"] = resp
    return out
