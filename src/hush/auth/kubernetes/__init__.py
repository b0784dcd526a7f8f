"""The kubernetes auth method."""

from hush.auth.kubernetes.backend import KubernetesBackend

__all__ = ["KubernetesBackend"]
