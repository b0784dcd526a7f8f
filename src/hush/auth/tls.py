"""TLS contexts for auth methods that call out (JWKS, OIDC providers, the Kubernetes API)."""

from __future__ import annotations

import ssl

__all__ = ["ssl_context"]


def ssl_context(ca_pem: str) -> ssl.SSLContext | bool:
    """A TLS context trusting only ``ca_pem`` (the system's CAs when it is empty).

    Raises :class:`ValueError` when the PEM holds no usable certificate.
    """
    if not ca_pem.strip():
        return True
    try:
        return ssl.create_default_context(cadata=ca_pem)
    except (ssl.SSLError, ValueError) as exc:
        raise ValueError(f"could not parse CA PEM: {type(exc).__name__}") from None
