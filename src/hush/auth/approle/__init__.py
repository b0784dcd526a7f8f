"""The AppRole auth method (Vault's ``approle``): role IDs and HMAC-stored secret IDs."""

from hush.auth.approle.backend import AppRoleBackend

__all__ = ["AppRoleBackend"]
