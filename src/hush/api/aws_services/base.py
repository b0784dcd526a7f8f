"""The shape of an AWS service table: logical calls, action mappers and composite actions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hush.core.request import Operation

__all__ = ["ActionContext", "AwsService", "CompositeAction", "LogicalCall", "Mapper", "RunCall"]


@dataclass(frozen=True, slots=True)
class ActionContext:
    """Facts about one AWS call a mapper may need: the action and the signed region."""

    action: str
    region: str


@dataclass(frozen=True, slots=True)
class LogicalCall:
    """One logical request on the service's mount: ``path`` is relative to the mount."""

    operation: Operation
    path: str
    data: dict[str, Any]
    #: The AWS resource named in an ``AccessDeniedException`` message (secret id, key id).
    resource: str = "*"
    #: Run on this service's mount instead of the calling service's (SSM → KMS on transit).
    service: AwsService | None = None


Mapper = Callable[[dict[str, Any], ActionContext], LogicalCall]
RunCall = Callable[[LogicalCall], Awaitable[dict[str, Any]]]
CompositeAction = Callable[[dict[str, Any], ActionContext, RunCall], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class AwsService:
    """One AWS service: how its actions map onto a Hush mount and how its errors are named."""

    target_prefix: str
    signing_name: str
    mount_type: str
    default_mount: str
    #: ``__type`` for field validation failures (Secrets Manager: ``InvalidParameterException``).
    invalid_parameter_type: str
    #: ``__type`` for requests that are well-formed but not allowed in the resource's state.
    invalid_request_type: str
    #: ``__type`` for unexpected server failures.
    internal_error_type: str
    actions: Mapping[str, Mapper]
    composite: Mapping[str, CompositeAction] = field(default_factory=dict)

    def knows(self, action: str) -> bool:
        """Whether ``action`` is one of this service's actions."""
        return action in self.actions or action in self.composite
