"""The userpass auth method (Vault's ``userpass``): usernames and argon2id-hashed passwords."""

from hush.auth.userpass.backend import UserpassBackend, canonical_username

__all__ = ["UserpassBackend", "canonical_username"]
