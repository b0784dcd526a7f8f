"""The jwt/oidc auth method."""

from hush.auth.jwt.backend import JWTBackend

__all__ = ["JWTBackend"]
