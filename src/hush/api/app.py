"""The one ASGI application a listener serves: Vault's ``/v1`` API and the AWS JSON protocol.

Requests carrying ``X-Amz-Target`` outside ``/v1/`` go to :class:`~hush.api.aws.AwsAPI`;
everything else (lifespan included) to :class:`~hush.api.vault.VaultAPI`.
"""

from __future__ import annotations

from hush.api.asgi import Receive, Scope, Send
from hush.api.aws import AwsAPI, is_aws_request
from hush.api.vault import VaultAPI
from hush.core.core import Core

__all__ = ["HushApp"]


class HushApp:
    """Routes each request to the front end of its protocol."""

    def __init__(self, core: Core, *, max_request_size: int) -> None:
        self.vault = VaultAPI(core, max_request_size=max_request_size)
        self.aws = AwsAPI(core)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        if scope["type"] == "http" and is_aws_request(scope):
            await self.aws(scope, receive, send)
            return
        await self.vault(scope, receive, send)
