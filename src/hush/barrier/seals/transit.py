"""The ``transit`` seal: another Hush, Vault or OpenBao wraps the unseal key with a transit key.

Options are Vault's: ``address``, ``token``, ``key_name``, ``mount_path`` (default ``transit/``),
``namespace``, ``disable_renewal``, ``tls_ca_cert``, ``tls_client_cert``, ``tls_client_key``,
``tls_skip_verify``. As Vault's transit seal does, a renewable token is renewed in the background
every third of its TTL (unless ``disable_renewal``), so the node can still restart next month.
The token is only ever sent in the ``X-Vault-Token`` header; errors name the HTTP status, never
the token or the answer body.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import ssl
from typing import Any

import httpx

from hush.barrier.seals.base import Seal, SealUnavailable, WrappedKey
from hush.crypto import DecryptionError, SecretBytes

__all__ = ["TransitSeal"]

log = logging.getLogger("hush.seal")

_TIMEOUT = 10.0
_MIN_RENEW_SECONDS = 1.0
_RETRY_RENEW_SECONDS = 30.0
_TRUE = frozenset({"1", "t", "true", "True", "TRUE"})


class TransitSeal(Seal):
    """Wraps with ``<mount_path>/encrypt/<key_name>`` on a Vault-compatible server."""

    type = "transit"

    async def open(self) -> None:
        """Build the HTTP client and check the key is reachable (a read of the key's metadata)."""
        self._address = self.require("address").rstrip("/")
        self._token = SecretBytes(self.require("token").encode())
        self._key_name = self.require("key_name")
        self._mount = self.option("mount_path", "transit").strip("/")
        self._client = httpx.AsyncClient(
            base_url=self._address, timeout=_TIMEOUT, verify=self._tls()
        )
        # Vault's transit seal checks the key with an encrypt of a test value at start.
        await self._call("encrypt", {"plaintext": base64.b64encode(b"hush-seal-check").decode()})
        self._renewal: asyncio.Task[None] | None = None
        if self.option("disable_renewal") not in _TRUE:
            ttl = await self._renewable_ttl()
            if ttl > 0:
                self._renewal = asyncio.get_running_loop().create_task(self._renew_loop(ttl))

    async def close(self) -> None:
        """Close the HTTP client."""
        renewal = getattr(self, "_renewal", None)
        if renewal is not None:
            renewal.cancel()
        client = getattr(self, "_client", None)
        if client is not None:
            await client.aclose()

    async def wrap(self, plaintext: SecretBytes, aad: bytes) -> WrappedKey:
        """Encrypt with the transit key; the ciphertext is ``vault:vN:...``."""
        body = await self._call(
            "encrypt", {"plaintext": base64.b64encode(plaintext.reveal()).decode()}
        )
        ciphertext = str(body["data"]["ciphertext"])
        return WrappedKey(self.type, self._key_name, ciphertext.encode())

    async def unwrap(self, wrapped: WrappedKey, aad: bytes) -> SecretBytes:
        """Decrypt with the transit key; a refused ciphertext is a :class:`DecryptionError`."""
        try:
            body = await self._call("decrypt", {"ciphertext": wrapped.ciphertext.decode()})
        except _Refused:
            raise DecryptionError from None
        return SecretBytes(base64.b64decode(body["data"]["plaintext"]))

    def describe(self) -> str:
        """Address, mount and key name (no token)."""
        return (
            f"transit ({self.option('address')}, "
            f"{self.option('mount_path', 'transit')}, key {self.option('key_name')})"
        )

    async def _renewable_ttl(self) -> float:
        """The token's remaining TTL if it is renewable, else 0 (root and periodic-less tokens)."""
        try:
            response = await self._client.get("/v1/auth/token/lookup-self", headers=self._headers())
            data = response.json().get("data") or {}
        except (httpx.HTTPError, ValueError):
            return 0.0
        if response.status_code != 200 or not data.get("renewable"):
            return 0.0
        return float(data.get("ttl") or 0)

    async def _renew_loop(self, ttl: float) -> None:
        first = True
        while True:
            # Renew at once (the token may have aged while the node was down), then every third of
            # its TTL, so a slow renewal or two still leaves the token alive.
            if not first:
                await asyncio.sleep(max(ttl / 3, _MIN_RENEW_SECONDS))
            first = False
            try:
                response = await self._client.post(
                    "/v1/auth/token/renew-self", json={}, headers=self._headers()
                )
                if response.status_code != 200:
                    raise httpx.HTTPStatusError(
                        "renew-self refused", request=response.request, response=response
                    )
                ttl = float((response.json().get("auth") or {}).get("lease_duration") or 0)
            except (httpx.HTTPError, ValueError) as exc:
                status = getattr(getattr(exc, "response", None), "status_code", None)
                log.warning(
                    "transit seal: token renewal failed (%s); retrying",
                    f"HTTP {status}" if status else type(exc).__name__,
                )
                ttl = _RETRY_RENEW_SECONDS * 2
            if ttl <= 0:
                return

    def _headers(self) -> dict[str, str]:
        headers = {"X-Vault-Token": self._token.reveal().decode()}
        if self.option("namespace"):
            headers["X-Vault-Namespace"] = self.option("namespace")
        return headers

    async def _call(self, operation: str, payload: dict[str, str]) -> dict[str, Any]:
        headers = self._headers()
        path = f"/v1/{self._mount}/{operation}/{self._key_name}"
        try:
            response = await self._client.post(path, json=payload, headers=headers)
        except httpx.HTTPError as exc:
            raise SealUnavailable(
                f"transit seal: {self._address} is unreachable ({type(exc).__name__})"
            ) from None
        if response.status_code == 400 and operation == "decrypt":
            raise _Refused
        if response.status_code != 200:
            raise SealUnavailable(
                f"transit seal: {operation} with key {self._key_name!r} at "
                f"{self._address}/v1/{self._mount} answered HTTP {response.status_code}"
            )
        result: dict[str, Any] = response.json()
        return result

    def _tls(self) -> ssl.SSLContext | bool:
        if self.option("tls_skip_verify") in _TRUE:
            return False
        ca, cert, key = (
            self.option("tls_ca_cert"),
            self.option("tls_client_cert"),
            self.option("tls_client_key"),
        )
        if not (ca or cert):
            return True
        context = ssl.create_default_context(cafile=ca or None)
        if cert:
            try:
                context.load_cert_chain(cert, key or None)
            except (OSError, ssl.SSLError) as exc:
                raise SealUnavailable(
                    "transit seal: cannot load tls_client_cert/tls_client_key "
                    f"({type(exc).__name__})"
                ) from None
        return context


class _Refused(Exception):
    """The transit server refused a ciphertext (wrong key or tampered)."""
