"""ACL policy endpoints: ``sys/policy`` (Vault's older API) and ``sys/policies/acl``."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable

from hush.core.errors import InvalidRequest, NotFound
from hush.core.policies import PolicyStore
from hush.core.request import Request, Response
from hush.core.system.common import ops
from hush.framework.fields import Field, FieldData, FieldType
from hush.framework.path import Path

__all__ = ["policy_paths"]

_NAME = Field(FieldType.STRING, "Name of the policy (lowercased).", required=True)
_POLICY = Field(FieldType.STRING, "The policy document, in HCL or JSON (may be base64-encoded).")
_RULES = Field(FieldType.STRING, "Deprecated alias of policy.")


def _policy_text(fields: FieldData) -> str:
    # "rules" is declared only on the older sys/policy API; sys/policies/acl knows "policy" alone.
    text = fields.string("policy") or (fields.string("rules") if fields.has("rules") else "")
    if not text:
        raise InvalidRequest("'policy' parameter not supplied or empty")
    # Vault accepts the document base64-encoded as well (no HCL or JSON policy is valid base64).
    try:
        return base64.b64decode(text, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return text


def policy_paths(store_getter: Callable[[], PolicyStore]) -> list[Path]:
    """The policy endpoints of the system backend; ``store_getter`` is read at each call."""

    async def list_policies(request: Request, fields: FieldData) -> Response:
        """Every ACL policy name (``policies`` and ``keys``)."""
        names = await store_getter().list()
        return Response(data={"policies": names, "keys": names}, flatten=True)

    async def list_acl(request: Request, fields: FieldData) -> Response:
        """Every ACL policy name."""
        return Response(data={"keys": await store_getter().list()})

    async def read_legacy(request: Request, fields: FieldData) -> Response:
        """One policy: its name and rules."""
        policy = await store_getter().get(fields.string("name"))
        if policy is None:
            raise NotFound
        return Response(data={"name": policy.name, "rules": policy.raw}, flatten=True)

    async def read_acl(request: Request, fields: FieldData) -> Response:
        """One policy: its name and document."""
        policy = await store_getter().get(fields.string("name"))
        if policy is None:
            raise NotFound
        return Response(data={"name": policy.name, "policy": policy.raw})

    async def write(request: Request, fields: FieldData) -> None:
        """Create or replace a policy."""
        await store_getter().put(fields.string("name"), _policy_text(fields))

    async def delete(request: Request, fields: FieldData) -> None:
        """Delete a policy (root and default cannot be deleted)."""
        await store_getter().delete(fields.string("name"))

    named = {"name": _NAME, "policy": _POLICY}
    return [
        Path("policy/?", "List ACL policies.", ops(read=list_policies, list=list_policies)),
        Path(
            "policy/(?P<name>.+)",
            "Read, write or delete an ACL policy (older API).",
            ops(read=read_legacy, update=write, delete=delete),
            fields={**named, "rules": _RULES},
        ),
        Path("policies/acl/?", "List ACL policies.", ops(list=list_acl)),
        Path(
            "policies/acl/(?P<name>.+)",
            "Read, write or delete an ACL policy.",
            ops(read=read_acl, update=write, delete=delete),
            fields=named,
        ),
    ]
