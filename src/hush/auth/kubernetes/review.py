"""The Kubernetes TokenReview call: is this service-account JWT valid, and whose is it?

``POST <kubernetes_host>/apis/authentication.k8s.io/v1/tokenreviews`` with the reviewer JWT as
the bearer (or, when none is configured, the client's own JWT, which then needs the
``system:auth-delegator`` role), over TLS verified against ``kubernetes_ca_cert``. The API
server's answer is the only authority: the service account's namespace, name and UID come from
``status.user``, never from the unverified JWT. Failures raise :class:`ReviewFailed` whose
message names the reason and never the tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import httpx
import orjson

from hush.auth.tls import ssl_context
from hush.crypto import SecretBytes

__all__ = ["REVIEW_PATH", "ReviewFailed", "ServiceAccount", "review_token"]

REVIEW_PATH: Final = "/apis/authentication.k8s.io/v1/tokenreviews"
REVIEW_TIMEOUT: Final = 10.0
MAX_REVIEW_BYTES: Final = 1 << 20


class ReviewFailed(Exception):
    """The token was not confirmed by the API server (reason in the message)."""


@dataclass(frozen=True, slots=True)
class ServiceAccount:
    """The service account the API server says the token belongs to."""

    namespace: str
    name: str
    uid: str
    audiences: tuple[str, ...] = ()
    secret_name: str = ""


def _account(status: dict[str, Any]) -> ServiceAccount:
    user = status.get("user")
    if not isinstance(user, dict):
        raise ReviewFailed("lookup failed: the token review returned no user")
    parts = str(user.get("username", "")).split(":")
    if len(parts) != 4:
        raise ReviewFailed("lookup failed: unexpected username format")
    if parts[:2] != ["system", "serviceaccount"]:
        raise ReviewFailed("lookup failed: username returned is not a service account")
    audiences = status.get("audiences")
    extra = user.get("extra") if isinstance(user.get("extra"), dict) else {}
    secret = extra.get("authentication.kubernetes.io/credential-id") if extra else None
    return ServiceAccount(
        namespace=parts[2],
        name=parts[3],
        uid=str(user.get("uid", "")),
        audiences=tuple(a for a in audiences if isinstance(a, str))
        if isinstance(audiences, list)
        else (),
        secret_name=str(secret[0]) if isinstance(secret, list) and secret else "",
    )


async def review_token(
    host: str, ca_pem: str, bearer: SecretBytes, token: SecretBytes, audiences: tuple[str, ...]
) -> ServiceAccount:
    """Ask the API server at ``host`` to review ``token``; raises :class:`ReviewFailed`."""
    spec: dict[str, Any] = {"token": token.reveal().decode()}
    if audiences:
        spec["audiences"] = list(audiences)
    body = orjson.dumps(
        {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": spec}
    )
    headers = {
        "Authorization": "Bearer " + bearer.reveal().decode(),
        "Content-Type": "application/json",
        "Accept": "application/json",
    }
    try:
        async with httpx.AsyncClient(verify=ssl_context(ca_pem), timeout=REVIEW_TIMEOUT) as client:
            answer = await client.post(
                host.rstrip("/") + REVIEW_PATH, content=body, headers=headers
            )
    except (httpx.HTTPError, ValueError) as exc:
        raise ReviewFailed(
            f"lookup failed: {type(exc).__name__} calling the TokenReview API"
        ) from None
    if answer.status_code in (401, 403):
        raise ReviewFailed(
            f"lookup failed: the TokenReview API refused the reviewer (HTTP {answer.status_code})"
        )
    if answer.status_code not in (200, 201) or len(answer.content) > MAX_REVIEW_BYTES:
        raise ReviewFailed(f"lookup failed: the TokenReview API answered HTTP {answer.status_code}")
    try:
        parsed = orjson.loads(answer.content)
    except orjson.JSONDecodeError:
        raise ReviewFailed("lookup failed: the TokenReview API did not answer JSON") from None
    status = parsed.get("status") if isinstance(parsed, dict) else None
    if not isinstance(status, dict):
        raise ReviewFailed("lookup failed: the token review has no status")
    if status.get("authenticated") is not True:
        raise ReviewFailed("lookup failed: service account jwt not valid")
    return _account(status)
