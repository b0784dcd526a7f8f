"""The ``aws`` auth method: access key pairs bound to policies, for SigV4-signed AWS API calls."""

from __future__ import annotations

from hush.auth.aws.backend import AwsAuthBackend
from hush.auth.aws.keys import AccessKey, new_access_key_id, new_secret_access_key

__all__ = ["AccessKey", "AwsAuthBackend", "new_access_key_id", "new_secret_access_key"]
