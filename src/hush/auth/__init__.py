"""Built-in auth methods; :func:`register_builtin_auth_methods` adds them to a registry."""

from __future__ import annotations

from hush.auth.approle import AppRoleBackend
from hush.auth.aws import AwsAuthBackend
from hush.auth.jwt import JWTBackend
from hush.auth.kubernetes import KubernetesBackend
from hush.auth.userpass import UserpassBackend
from hush.framework.registry import Registry

__all__ = ["register_builtin_auth_methods"]


def register_builtin_auth_methods(registry: Registry) -> None:
    """Register every auth method shipped with Hush."""
    registry.register("userpass", UserpassBackend)
    registry.register("approle", AppRoleBackend)
    # One implementation under both of Vault's names for it.
    registry.register("jwt", JWTBackend)
    registry.register("oidc", JWTBackend)
    registry.register("kubernetes", KubernetesBackend)
    registry.register("aws", AwsAuthBackend)
