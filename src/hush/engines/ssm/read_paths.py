"""Reading parameters: GetParameter (``parameter/<name>`` read), GetParameterHistory
(``history/<name>``), DescribeParameters (list ``parameters``) and the names of
GetParametersByPath (list ``by-path/<path>``).

Values come back as stored: a SecureString's is its KMS ciphertext, which the AWS front end
decrypts with the caller's own permission on the KMS key when ``WithDecryption`` is asked for.
GetParametersByPath answers names only; the front end reads each one with GetParameter, so every
value is authorised and audited on its own.
"""

from __future__ import annotations

from typing import Any, Final

from hush.core.request import Operation, Request, Response
from hush.engines.ssm.common import (
    NAME_FIELD,
    PATH,
    PATH_FIELD,
    SsmSettings,
    decode_token,
    encode_token,
    page_limit,
    requested_name,
    require_path_matches,
)
from hush.engines.ssm.errors import ParameterNotFound, ParameterVersionNotFound
from hush.engines.ssm.filters import BY_PATH_KEYS, DESCRIBE_KEYS, matches, parse_filters
from hush.engines.ssm.model import render_history, render_metadata, render_parameter
from hush.engines.ssm.names import check_path, parse_selector
from hush.framework.fields import Field, FieldData, FieldType
from hush.framework.path import OperationSpec, Path

__all__ = ["GET_FIELDS", "ReadPaths"]

_PAGE: Final = {
    "MaxResults": Field(FieldType.INT, "Page size."),
    "NextToken": Field(FieldType.STRING, "NextToken of the previous page."),
}
GET_FIELDS: Final = {"Name": NAME_FIELD, "Path": PATH_FIELD}


def _limit(fields: FieldData, default: int, maximum: int) -> int:
    return page_limit(
        fields.integer("MaxResults") if fields.has("MaxResults") else None, default, maximum
    )


def _after(fields: FieldData) -> str | None:
    token = fields.string("NextToken")
    return decode_token(token) if token else None


def _page(items: list[str], after: str | None, limit: int) -> tuple[list[str], str]:
    start = 0 if after is None else next((i for i, n in enumerate(items) if n > after), len(items))
    chunk = items[start : start + limit]
    more = start + limit < len(items)
    return chunk, encode_token(chunk[-1]) if more and chunk else ""


class ReadPaths:
    """The endpoints that read parameters."""

    def __init__(self, settings: SsmSettings) -> None:
        self.settings = settings
        self.store = settings.store

    def paths(self) -> list[Path]:
        """``history/<name>``, ``parameters`` and ``by-path/<path>``."""
        return [
            Path(
                rf"history/{PATH}",
                "Every version of a parameter (GetParameterHistory).",
                {Operation.READ: OperationSpec(self.history, "Version history.")},
                fields={**GET_FIELDS, **_PAGE},
            ),
            Path(
                r"parameters",
                "Parameter metadata, filtered and paged (DescribeParameters).",
                {Operation.LIST: OperationSpec(self.describe, "Describe parameters.")},
                fields={
                    **_PAGE,
                    "Filters": Field(FieldType.RAW, "Older Key/Values filters."),
                    "ParameterFilters": Field(FieldType.RAW, "Key/Option/Values filters."),
                    "Shared": Field(FieldType.BOOL, "Shared parameters (none here).", False),
                },
            ),
            Path(
                r"by-path(?P<Path>/.*)",
                "Names of the parameters under a path (for GetParametersByPath).",
                {Operation.LIST: OperationSpec(self.by_path, "Names under a path.")},
                fields={
                    **_PAGE,
                    "Path": Field(FieldType.STRING, "The hierarchy, starting with /."),
                    "Recursive": Field(FieldType.BOOL, "All levels below the path.", False),
                    "ParameterFilters": Field(FieldType.RAW, "Type, KeyId, Label, tag filters."),
                },
            ),
        ]

    async def get(self, request: Request, fields: FieldData) -> Response:
        """GetParameter, with a ``name:version`` or ``name:label`` selector."""
        selector = parse_selector(requested_name(fields))
        require_path_matches(fields.string("Path"), selector.name)
        parameter = await self.store.get(selector.name)
        if parameter is None:
            raise ParameterNotFound(f"Parameter {selector.name} not found.")
        version = parameter.select(selector)
        if version is None:
            if selector.version is not None:
                raise ParameterVersionNotFound(
                    f"Systems Manager could not find version {selector.version} of "
                    f"{selector.name}. Verify the version and try again."
                )
            raise ParameterNotFound(f"Parameter {selector.name}{selector.suffix} not found.")
        arn = self.settings.arn(parameter.name)
        return Response(
            data={"Parameter": render_parameter(parameter, version, arn, selector.suffix)}
        )

    async def history(self, request: Request, fields: FieldData) -> Response:
        """GetParameterHistory, oldest first, paged."""
        selector = parse_selector(requested_name(fields))
        require_path_matches(fields.string("Path"), selector.name)
        parameter = await self.store.get(selector.name)
        if parameter is None:
            raise ParameterNotFound(f"Parameter {selector.name} not found.")
        limit = _limit(fields, 50, 50)
        numbers = [f"{v.version:09d}" for v in parameter.versions]
        chunk, token = _page(numbers, _after(fields), limit)
        wanted = {int(n) for n in chunk}
        data: dict[str, Any] = {
            "Parameters": [
                render_history(parameter, v, self.settings.arn(parameter.name))
                for v in parameter.versions
                if v.version in wanted
            ]
        }
        if token:
            data["NextToken"] = token
        return Response(data=data)

    async def describe(self, request: Request, fields: FieldData) -> Response:
        """DescribeParameters."""
        filters = parse_filters(
            fields.raw("ParameterFilters"), DESCRIBE_KEYS, fields.raw("Filters")
        )
        limit = _limit(fields, 50, 50)
        after = _after(fields)
        found: list[dict[str, Any]] = []
        names = await self.store.all_names()
        token = ""
        for name in names:
            if after is not None and name <= after:
                continue
            parameter = await self.store.get(name)
            if parameter is None or not matches(parameter, filters):
                continue
            if len(found) == limit:
                token = encode_token(found[-1]["Name"])
                break
            found.append(render_metadata(parameter, self.settings.arn(name)))
        data: dict[str, Any] = {"Parameters": found}
        if token:
            data["NextToken"] = token
        return Response(data=data)

    async def by_path(self, request: Request, fields: FieldData) -> Response:
        """The names GetParametersByPath returns on this page (filters applied)."""
        path = check_path(fields.string("Path"))
        filters = parse_filters(fields.raw("ParameterFilters"), BY_PATH_KEYS)
        limit = _limit(fields, 10, 10)
        after = _after(fields)
        names: list[str] = []
        token = ""
        for name in await self.store.names_under(path, fields.boolean("Recursive")):
            if after is not None and name <= after:
                continue
            parameter = await self.store.get(name)
            if parameter is None or not matches(parameter, filters):
                continue
            if len(names) == limit:
                token = encode_token(names[-1])
                break
            names.append(name)
        data: dict[str, Any] = {"Names": names}
        if token:
            data["NextToken"] = token
        return Response(data=data)
