"""The TOTP secrets engine: RFC 6238 codes with Vault's API (mount type ``totp``)."""

from __future__ import annotations

from hush.engines.totp.backend import TotpBackend

__all__ = ["TotpBackend"]
