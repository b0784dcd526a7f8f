"""Declared endpoints: one :class:`Path` per route, from which routing, validation, help and the
OpenAPI document are all derived (Vault's ``framework.Path``, typed).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hush.core.request import Operation, Request, Response
from hush.framework.fields import Field, FieldData

__all__ = ["ExistenceCheck", "Handler", "OperationSpec", "Path", "PathMatch", "ops"]

Handler = Callable[[Request, FieldData], Awaitable[Response | None]]
ExistenceCheck = Callable[[Request, FieldData], Awaitable[bool]]


@dataclass(frozen=True, slots=True)
class OperationSpec:
    """One operation of a path: its handler and a one-line summary for help and OpenAPI."""

    handler: Handler
    summary: str = ""


def ops(**handlers: Handler) -> Mapping[Operation, OperationSpec]:
    """``ops(read=h1, update=h2)`` → an operations mapping with summaries from the docstrings."""
    return {
        Operation(name): OperationSpec(handler, (handler.__doc__ or "").strip().split("\n")[0])
        for name, handler in handlers.items()
    }


@dataclass(frozen=True, slots=True)
class PathMatch:
    """A path matched against a request: captured URL parameters included."""

    path: Path
    params: dict[str, str]


@dataclass(frozen=True)
class Path:
    """One endpoint of a backend.

    ``pattern`` is a regular expression matched against the whole mount-relative path; named groups
    become fields (declare them in ``fields`` too). ``arbitrary_input`` marks paths whose body is
    free data (KV secrets), so unknown keys draw no warning. ``exists`` decides whether a write is a
    ``create`` or an ``update`` (for ACL); without it every write is an ``update``, as in Vault.
    """

    pattern: str
    synopsis: str
    operations: Mapping[Operation, OperationSpec]
    fields: Mapping[str, Field] = field(default_factory=dict)
    description: str = ""
    exists: ExistenceCheck | None = None
    arbitrary_input: bool = False
    _regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_regex", re.compile(self.pattern))

    def match(self, path: str) -> PathMatch | None:
        """Match the whole of ``path``; ``None`` if it does not fit."""
        found = self._regex.fullmatch(path)
        if found is None:
            return None
        params = {k: v for k, v in found.groupdict().items() if v is not None}
        return PathMatch(self, params)

    def help_text(self) -> str:
        """Human help for ``?help=1``: synopsis, description, fields."""
        lines = [f"Request:        {self.pattern}", f"Matching Route: ^{self.pattern}$", ""]
        lines += [self.synopsis, ""]
        if self.fields:
            lines.append("## PARAMETERS")
            lines.append("")
            for name, spec in sorted(self.fields.items()):
                lines.append(f"{name} ({spec.type.value})")
                lines.append(f"    {spec.description}")
                lines.append("")
        if self.description:
            lines += ["## DESCRIPTION", "", self.description.strip(), ""]
        return "\n".join(lines)

    def openapi_path(self) -> str:
        """The pattern rendered as an OpenAPI path template (``{name}`` for named groups)."""
        template = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", self.pattern)
        return re.sub(r"[\\^$?()|]", "", template).replace(".*", "").replace(".+", "")

    def openapi_item(self, mount: str = "") -> dict[str, Any]:
        """An OpenAPI path item object for this endpoint mounted at ``mount``.

        The mount goes into every ``operationId``, which OpenAPI requires to be unique in the
        document (two KV mounts declare the same patterns).
        """
        params = re.findall(r"\(\?P<(\w+)>", self.pattern)
        item: dict[str, Any] = {"description": self.synopsis}
        if params:
            item["parameters"] = [
                {
                    "name": p,
                    "in": "path",
                    "required": True,
                    "description": self.fields[p].description if p in self.fields else p,
                    "schema": {"type": "string"},
                }
                for p in params
            ]
        body_fields = {k: v for k, v in self.fields.items() if k not in params}
        for op, spec in self.operations.items():
            method, extra = _OPENAPI_METHODS[op]
            entry: dict[str, Any] = {
                "summary": spec.summary or self.synopsis,
                "operationId": _operation_id(mount + self.pattern, op),
                "responses": {"200": {"description": "OK"}, "204": {"description": "empty body"}},
            }
            entry.update(extra)
            if method in ("post", "patch") and body_fields:
                schema: dict[str, Any] = {
                    "type": "object",
                    "properties": {k: v.openapi_schema() for k, v in body_fields.items()},
                }
                required = sorted(k for k, v in body_fields.items() if v.required)
                if required:  # OpenAPI 3.0 (JSON Schema draft 4): "required" must not be empty
                    schema["required"] = required
                entry["requestBody"] = {"content": {"application/json": {"schema": schema}}}
            item.setdefault(method, entry)
        return item


_LIST_PARAM = {
    "name": "list",
    "in": "query",
    "required": True,
    "description": "Must be set to true",
    "schema": {"type": "string", "enum": ["true"]},
}

_OPENAPI_METHODS: dict[Operation, tuple[str, dict[str, Any]]] = {
    Operation.READ: ("get", {}),
    Operation.LIST: ("get", {"parameters": [_LIST_PARAM]}),
    Operation.CREATE: ("post", {}),
    Operation.UPDATE: ("post", {}),
    Operation.PATCH: ("patch", {}),
    Operation.DELETE: ("delete", {}),
    Operation.HELP: ("get", {}),
}


def _operation_id(pattern: str, op: Operation) -> str:
    words = re.findall(r"[A-Za-z0-9]+", re.sub(r"\(\?P<(\w+)>[^)]*\)", r"\1", pattern))
    return "-".join([op.value, *words]) or op.value
