"""The AWS services the AWS front end speaks, keyed by their ``X-Amz-Target`` prefix.

Each service is a small table: the mount type it is served from, the AWS error types it uses for
bad input, and for every action a *mapper* that turns the action's JSON body into one logical
request (operation, mount-relative path, data) on that mount. The front end runs the logical
request through the core's pipeline, so ACL, audit and metrics are the Vault API's. Actions that
fan out into several logical requests (``BatchGetSecretValue``) are *composite*: they get a
callable that runs logical requests one by one.

To add a service (SSM's ``AmazonSSM.``, KMS's ``TrentService.``): write a module with an
:class:`AwsService` and add it to :data:`SERVICES`.
"""

from __future__ import annotations

from hush.api.aws_services.base import (
    ActionContext,
    AwsService,
    CompositeAction,
    LogicalCall,
    Mapper,
    RunCall,
)
from hush.api.aws_services.kms import KMS
from hush.api.aws_services.secretsmanager import SECRETS_MANAGER
from hush.api.aws_services.ssm import SSM

__all__ = [
    "SERVICES",
    "ActionContext",
    "AwsService",
    "CompositeAction",
    "LogicalCall",
    "Mapper",
    "RunCall",
]

#: ``X-Amz-Target`` prefix (the part before the dot) → service.
SERVICES: dict[str, AwsService] = {
    service.target_prefix: service for service in (SECRETS_MANAGER, KMS, SSM)
}
