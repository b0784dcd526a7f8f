"""The ``ssm`` secrets engine: AWS Systems Manager Parameter Store on Hush."""

from hush.engines.ssm.backend import SsmBackend

__all__ = ["SsmBackend"]
