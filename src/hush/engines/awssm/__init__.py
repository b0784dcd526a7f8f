"""The ``awssm`` secrets engine: AWS Secrets Manager semantics (served on the AWS JSON API)."""

from __future__ import annotations

from hush.engines.awssm.backend import AwssmBackend

__all__ = ["AwssmBackend"]
