"""Password policy endpoints: ``sys/policies/password/:name`` and ``.../generate``."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable

from hush.core.errors import InvalidRequest, NotFound
from hush.core.password_policies import PasswordPolicyStore
from hush.core.request import Request, Response, list_response
from hush.core.system.common import ops
from hush.framework.fields import Field, FieldData, FieldType
from hush.framework.path import Path

__all__ = ["password_policy_paths"]

_NAME = Field(FieldType.STRING, "The name of the password policy.", required=True)
_POLICY = Field(
    FieldType.STRING,
    'The password policy in HCL or JSON (may be base64-encoded): length = N and rule "charset" '
    '{ charset = "..." min-chars = N } blocks.',
)


def _policy_text(fields: FieldData) -> str:
    text = fields.string("policy")
    if not text:
        raise InvalidRequest("missing policy")
    # Vault: the document may be sent base64-encoded (HCL is never valid base64 of itself).
    try:
        return base64.b64decode(text, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return text


def password_policy_paths(store: Callable[[], PasswordPolicyStore]) -> list[Path]:
    """The password policy endpoints of the system backend."""

    async def list_policies(request: Request, fields: FieldData) -> Response:
        """Every password policy name."""
        return list_response(await store().names())

    async def read(request: Request, fields: FieldData) -> Response:
        """One password policy's text."""
        text = await store().get_text(fields.string("name"))
        if text is None:
            raise NotFound
        return Response(data={"policy": text})

    async def write(request: Request, fields: FieldData) -> None:
        """Create or replace a password policy; impossible policies are refused."""
        text = _policy_text(fields)
        try:
            await store().put(fields.string("name"), text)
        except InvalidRequest:
            raise
        except Exception:
            raise InvalidRequest(
                "unable to generate password from provided policy: are the rules impossible?"
            ) from None

    async def delete(request: Request, fields: FieldData) -> None:
        """Delete a password policy."""
        await store().delete(fields.string("name"))

    async def generate(request: Request, fields: FieldData) -> Response:
        """A fresh password from the policy."""
        return Response(data={"password": await store().generate(fields.string("name"))})

    name_pattern = r"(?P<name>[^/]+)"
    return [
        Path("policies/password/?", "List password policies.", ops(list=list_policies)),
        Path(
            f"policies/password/{name_pattern}/generate",
            "Generate a password from a password policy.",
            ops(read=generate),
            fields={"name": _NAME},
        ),
        Path(
            f"policies/password/{name_pattern}",
            "Read, write or delete a password policy.",
            ops(read=read, update=write, delete=delete),
            fields={"name": _NAME, "policy": _POLICY},
        ),
    ]
