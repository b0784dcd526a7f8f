"""Hush: a self-hosted secrets manager speaking Vault's HTTP API and AWS's JSON APIs."""

__version__ = "0.1.0"

__all__ = ["__version__"]
