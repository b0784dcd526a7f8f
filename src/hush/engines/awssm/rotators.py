"""Rotators: what runs the four rotation steps (createSecret, setSecret, testSecret, finishSecret).

* :class:`RandomPasswordRotator` (``RotationLambdaARN`` omitted or ``hush:random-password``):
  createSecret makes a new value — a JSON ``{"password": ...}`` secret gets a new ``password``,
  any other string becomes a new password, a binary secret 32 new random bytes; the other steps
  have nothing outside Hush to change.
* :class:`WebhookRotator` (``RotationLambdaARN`` = an ``https://`` URL): each step is POSTed to the
  URL with the event a rotation Lambda receives (``Step``, ``SecretId``, ``ClientRequestToken``)
  plus the pending value for setSecret/testSecret, signed with HMAC-SHA256 under the mount's
  webhook key: ``X-Hush-Signature: t=<unix time>,v1=<hex HMAC of "<t>.<body>">``. A 2xx answer
  passes the step; createSecret's answer may carry ``SecretString``/``SecretBinary`` to choose the
  new value. Anything else fails the step.
"""

from __future__ import annotations

import base64
import binascii
import ssl
import time
from typing import Any, Final, Protocol

import httpx
import orjson

from hush.crypto import SecretBytes, hmac_sha256, random_bytes
from hush.engines.awssm.password import get_random_password
from hush.engines.awssm.store import SecretValue

__all__ = [
    "RANDOM_ROTATOR",
    "RandomPasswordRotator",
    "Rotator",
    "StepFailed",
    "WebhookRotator",
    "sign_payload",
]

RANDOM_ROTATOR: Final = "hush:random-password"
STEP_TIMEOUT: Final = 10.0
# The characters AWS's rotation templates keep out of generated database passwords.
_EXCLUDED: Final = "\"'@/\\:;`"


class StepFailed(Exception):
    """A rotation step failed; the message is safe to show (it never holds a secret value)."""


class Rotator(Protocol):
    """Runs rotation steps for one secret."""

    async def create(self, event: dict[str, Any], current: SecretValue | None) -> SecretValue:
        """createSecret: the new (pending) value."""
        ...

    async def step(self, event: dict[str, Any], pending: SecretValue) -> None:
        """setSecret, testSecret or finishSecret (``event["Step"]``)."""
        ...


def new_random_value(current: SecretValue | None) -> SecretValue:
    """The random-password rotator's new value for a secret whose value is ``current``."""
    password = get_random_password({"PasswordLength": 32, "ExcludeCharacters": _EXCLUDED})[
        "RandomPassword"
    ]
    if current is not None and current.binary is not None:
        return SecretValue(binary=random_bytes(32))
    if current is not None and current.string is not None:
        try:
            parsed = orjson.loads(current.string)
        except orjson.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict) and "password" in parsed:
            parsed["password"] = password
            return SecretValue(string=orjson.dumps(parsed).decode())
    return SecretValue(string=password)


class RandomPasswordRotator:
    """The built-in rotator: a new random password, nothing to set or test elsewhere."""

    async def create(self, event: dict[str, Any], current: SecretValue | None) -> SecretValue:
        """createSecret."""
        return new_random_value(current)

    async def step(self, event: dict[str, Any], pending: SecretValue) -> None:
        """Nothing outside Hush holds the value."""


def sign_payload(key: SecretBytes, timestamp: int, body: bytes) -> str:
    """The ``X-Hush-Signature`` header value for ``body`` sent at ``timestamp``."""
    mac = hmac_sha256(key.reveal(), str(timestamp).encode() + b"." + body)
    return f"t={timestamp},v1={mac.hex()}"


class WebhookRotator:
    """POSTs each step to the user's HTTPS endpoint."""

    def __init__(self, url: str, key: SecretBytes, ca_file: str | None = None) -> None:
        self._url = url
        self._key = key
        self._verify: ssl.SSLContext | bool = (
            ssl.create_default_context(cafile=ca_file) if ca_file else True
        )

    async def _post(self, payload: dict[str, Any]) -> dict[str, Any]:
        body = orjson.dumps(payload)
        headers = {
            "Content-Type": "application/json",
            "X-Hush-Signature": sign_payload(self._key, int(time.time()), body),
        }
        step = payload["Step"]
        try:
            async with httpx.AsyncClient(
                verify=self._verify, timeout=STEP_TIMEOUT, follow_redirects=False, trust_env=False
            ) as client:
                response = await client.post(self._url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise StepFailed(
                f"{step}: the webhook could not be reached ({type(exc).__name__})"
            ) from None
        if not 200 <= response.status_code < 300:
            raise StepFailed(f"{step}: the webhook answered HTTP {response.status_code}")
        if not response.content.strip():
            return {}
        try:
            answer = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            return {}
        return answer if isinstance(answer, dict) else {}

    async def notify(self, event: dict[str, Any]) -> None:
        """POST an event that carries no secret value (rotation alerts)."""
        await self._post(event)

    async def create(self, event: dict[str, Any], current: SecretValue | None) -> SecretValue:
        """createSecret: the webhook may choose the value; otherwise a random one."""
        answer = await self._post(event)
        if isinstance(answer.get("SecretString"), str) and answer["SecretString"]:
            return SecretValue(string=answer["SecretString"])
        if isinstance(answer.get("SecretBinary"), str):
            try:
                return SecretValue(binary=base64.b64decode(answer["SecretBinary"], validate=True))
            except (binascii.Error, ValueError):
                raise StepFailed("createSecret: the webhook's SecretBinary is not base64") from None
        return new_random_value(current)

    async def step(self, event: dict[str, Any], pending: SecretValue) -> None:
        """setSecret/testSecret carry the pending value; finishSecret only the ids."""
        payload = dict(event)
        if event["Step"] in ("setSecret", "testSecret"):
            payload["PendingSecret"] = pending.wire()
        await self._post(payload)
