"""What the ssm path modules share: the mount's settings, page tokens, name/path agreement."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Final

import orjson

from hush.core.request import Request
from hush.core.rotation.due import DueIndex
from hush.engines.ssm.errors import InvalidNextToken, SsmValidation
from hush.engines.ssm.model import parameter_arn
from hush.engines.ssm.names import logical_name
from hush.engines.ssm.store import ParameterStore
from hush.framework.fields import Field, FieldData, FieldType

__all__ = [
    "NAME_FIELD",
    "PATH",
    "PATH_FIELD",
    "SsmSettings",
    "decode_token",
    "encode_token",
    "page_limit",
    "requested_name",
    "require_path_matches",
    "user_arn",
]

PATH: Final = r"(?P<Path>.+)"
PATH_FIELD: Final = Field(FieldType.STRING, "The parameter name without its leading slash.")
NAME_FIELD: Final = Field(FieldType.STRING, "The parameter name (or ARN), as AWS takes it.")


@dataclass(frozen=True, slots=True)
class SsmSettings:
    """The store, due-time index, region and account of one ssm mount."""

    store: ParameterStore
    due: DueIndex
    region: str = "us-east-1"
    account: str = "000000000000"

    def arn(self, name: str) -> str:
        """The parameter's ARN."""
        return parameter_arn(self.region, self.account, name)


def requested_name(fields: FieldData) -> str:
    """The ``Name`` member, or for a Vault API caller who left it out, ``/`` + the path.

    (A flat name such as ``db`` must then be given as ``Name``: the path cannot tell it from
    ``/db``.)
    """
    return fields.string("Name") or "/" + fields.string("Path")


def require_path_matches(path: str, name: str) -> None:
    """The logical path must name the parameter in the body, so the ACL judged this one."""
    if logical_name(name) != path:
        raise SsmValidation("The request path does not match the parameter name.")


def user_arn(request: Request, account: str) -> str:
    """``LastModifiedUser``: an IAM-style ARN of the caller's display name."""
    entry = request.token_entry
    name = entry.display_name if entry is not None and entry.display_name else "hush"
    return f"arn:aws:iam::{account}:user/{name}"


def encode_token(position: str) -> str:
    """An opaque NextToken for "continue after ``position``"."""
    return base64.urlsafe_b64encode(orjson.dumps({"after": position})).decode("ascii")


def decode_token(token: str) -> str:
    """Inverse of :func:`encode_token`; anything else is ``InvalidNextToken``."""
    try:
        raw = orjson.loads(base64.urlsafe_b64decode(token.encode("ascii")))
        after = raw["after"]
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeEncodeError):
        raise InvalidNextToken("The nextToken is not valid.") from None
    if not isinstance(after, str):
        raise InvalidNextToken("The nextToken is not valid.")
    return after


def page_limit(value: int | None, default: int, maximum: int) -> int:
    """MaxResults within ``1..maximum`` (AWS's ValidationException otherwise)."""
    limit = default if value is None else value
    if not 1 <= limit <= maximum:
        raise SsmValidation(
            f"1 validation error detected: Value '{limit}' at 'maxResults' failed to satisfy "
            f"constraint: Member must have value less than or equal to {maximum}"
        )
    return limit
