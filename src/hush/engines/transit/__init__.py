"""The transit secrets engine (Vault's ``transit``): encryption, signing and HMAC as a service."""

from hush.engines.transit.backend import TransitBackend

__all__ = ["TransitBackend"]
