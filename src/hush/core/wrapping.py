"""Response wrapping: a response is put in a single-use token's cubbyhole, not sent in clear.

The caller gets ``wrap_info`` (the wrapping token, its TTL, the path that created it); whoever
holds the wrapping token can unwrap exactly once. The wrapping token carries only the
``response-wrapping`` policy and is usable only through ``sys/wrapping/*``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import orjson

from hush.core.errors import InvalidRequest
from hush.core.request import Request, Response
from hush.core.tokens import TokenEntry
from hush.crypto import SecretBytes

if TYPE_CHECKING:
    from hush.core.core import Core

__all__ = ["WRAPPING_POLICY", "lookup", "unwrap", "wrap"]

WRAPPING_POLICY = "response-wrapping"
MAX_WRAP_TTL = 768 * 3600
_RESPONSE_KEY = "response"
_INVALID = "wrapping token is not valid or does not exist"


def _rfc3339(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


async def wrap(core: Core, request: Request, response: Response | None, ttl: int) -> Response:
    """Store ``response`` in a new wrapping token's cubbyhole and answer with ``wrap_info``."""
    if ttl <= 0 or ttl > MAX_WRAP_TTL:
        raise InvalidRequest(f"wrapping TTL must be between 1s and {MAX_WRAP_TTL}s")
    now = time.time()
    entry = TokenEntry(
        accessor="",
        policies=[WRAPPING_POLICY],
        path=request.path,
        display_name="response-wrapping",
        creation_time=now,
        creation_ttl=ttl,
        expire_time=now + ttl,
        orphan=True,
        renewable=False,
        meta={"wrapped_path": request.path},
    )
    token = await core.tokens.create(entry)
    body: dict[str, Any] = {"data": None, "auth": None, "warnings": None}
    if response is not None:
        body = {
            "data": response.data,
            "auth": response.auth,
            "warnings": response.warnings or None,
            "lease_id": response.lease_id,
            "lease_duration": response.lease_duration,
            "renewable": response.renewable,
        }
    await core.cubbyhole.view_for(entry.token_hash).put(_RESPONSE_KEY, orjson.dumps(body))
    wrapped_accessor = ""
    if response is not None and response.auth:
        wrapped_accessor = str(response.auth.get("accessor", ""))
    return Response(
        wrap_info={
            "token": token.reveal().decode(),
            "accessor": entry.accessor,
            "ttl": ttl,
            "creation_time": _rfc3339(now),
            "creation_path": request.path,
            "wrapped_accessor": wrapped_accessor,
        }
    )


async def _wrapping_entry(core: Core, token: str) -> TokenEntry:
    if not token:
        raise InvalidRequest("a wrapping token is required")
    entry = await core.tokens.lookup(SecretBytes(token.encode()))
    if entry is None or entry.policies != [WRAPPING_POLICY]:
        raise InvalidRequest(_INVALID)
    return entry


async def unwrap(core: Core, token: str) -> dict[str, Any]:
    """Return the wrapped response and destroy the wrapping token (single use)."""
    entry = await _wrapping_entry(core, token)
    blob = await core.cubbyhole.view_for(entry.token_hash).get(_RESPONSE_KEY)
    await core.tokens.revoke_tree(entry)
    if blob is None:
        raise InvalidRequest(_INVALID)
    stored: dict[str, Any] = orjson.loads(blob)
    return stored


async def lookup(core: Core, token: str) -> dict[str, Any]:
    """The wrapping token's creation facts (never the wrapped content)."""
    entry = await _wrapping_entry(core, token)
    return {
        "creation_path": entry.meta.get("wrapped_path", entry.path),
        "creation_time": _rfc3339(entry.creation_time),
        "creation_ttl": entry.creation_ttl,
    }
