"""Signed HTTPS alerts engines send when something needs an operator (shared by awssm and ssm).

An alert is a JSON event POSTed to the mount's alert URL with
``X-Hush-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">`` under the mount's
webhook key (made on first use, kept in the mount's storage behind the barrier). Alerts carry
names and counts, never a secret value. Delivery is best effort: a failure is logged, never
raised, so the caller's own work (a rotation, a policy run) is not affected.
"""

from __future__ import annotations

import logging
import ssl
import time
from typing import Any, Final

import httpx
import orjson

from hush.barrier.view import LogicalStorage
from hush.crypto import SecretBytes, hmac_sha256, random_bytes

__all__ = ["ALERT_TIMEOUT", "WEBHOOK_KEY_PATH", "AlertSender", "sign_payload", "webhook_key"]

ALERT_TIMEOUT: Final = 10.0
#: Where a mount keeps its webhook signing key (in its own storage view).
WEBHOOK_KEY_PATH: Final = "config/webhook-key"

log = logging.getLogger("hush.core.rotation.alerts")


def sign_payload(key: SecretBytes, timestamp: int, body: bytes) -> str:
    """The ``X-Hush-Signature`` header value for ``body`` sent at ``timestamp``."""
    mac = hmac_sha256(key.reveal(), str(timestamp).encode() + b"." + body)
    return f"t={timestamp},v1={mac.hex()}"


async def webhook_key(storage: LogicalStorage) -> SecretBytes:
    """The mount's webhook signing key, made and stored on first use."""
    key = await storage.get(WEBHOOK_KEY_PATH)
    if key is None:
        key = random_bytes(32)
        await storage.put(WEBHOOK_KEY_PATH, key)
    return SecretBytes(key)


class AlertSender:
    """POSTs signed alert events to one mount's alert URL (``None``: alerts are off)."""

    def __init__(
        self, storage: LogicalStorage, url: str | None, ca_file: str | None = None
    ) -> None:
        """``storage`` holds the signing key; ``ca_file`` is a PEM bundle for the URL's TLS."""
        self._storage = storage
        self.url = url or None
        self._ca_file = ca_file

    async def send(self, event: dict[str, Any]) -> bool:
        """Deliver ``event``; False (and a warning in the log) if it was not delivered."""
        if self.url is None:
            return False
        if not self.url.startswith("https://"):
            log.warning("the alert URL must be an https:// URL; no alert sent")
            return False
        body = orjson.dumps(event)
        key = await webhook_key(self._storage)
        headers = {
            "Content-Type": "application/json",
            "X-Hush-Signature": sign_payload(key, int(time.time()), body),
        }
        verify: ssl.SSLContext | bool = (
            ssl.create_default_context(cafile=self._ca_file) if self._ca_file else True
        )
        try:
            async with httpx.AsyncClient(
                verify=verify, timeout=ALERT_TIMEOUT, follow_redirects=False, trust_env=False
            ) as client:
                response = await client.post(self.url, content=body, headers=headers)
        except (httpx.HTTPError, OSError, ssl.SSLError) as exc:
            log.warning("alert %s not delivered (%s)", event.get("Step"), type(exc).__name__)
            return False
        if not 200 <= response.status_code < 300:
            log.warning("alert %s not delivered: HTTP %d", event.get("Step"), response.status_code)
            return False
        return True
