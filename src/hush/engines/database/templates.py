"""Templates of the database engine: Vault's username templates and statement placeholders.

Username templates are a subset of Go's ``text/template`` as Vault uses it: ``{{ ... }}``
actions holding a pipeline (``cmd | cmd``, the left result passed as the last argument), with
fields ``.RoleName``/``.DisplayName``, string and integer literals, parenthesised pipelines and
Vault's functions (``printf`` with ``%s``/``%d``/``%v``, ``truncate``, ``random``,
``unix_time``, ``unix_time_millis``, ``timestamp``, ``uppercase``, ``lowercase``, ``replace``,
``truncate_sha256``, ``sha256``, ``base64``, ``uuid``). That covers every default template of
Vault's database plugins. Anything else is refused when the template is written.

Statement templates replace ``{{name}}``/``{{username}}``/``{{password}}``/``{{expiration}}``
literally, as Vault's ``dbutil.QueryHelper`` does.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from hush.core.errors import InvalidRequest

__all__ = ["UsernameTemplate", "render_statement", "split_statements"]

_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
# Usernames are at most 63 characters in any supported database; a template asking for megabytes
# of randomness would only stall the server.
_MAX_RANDOM = 256
_MAX_RESULT = 4096
_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>"(?:[^"\\]|\\.)*")
    | (?P<number>-?\d+)
    | (?P<field>\.[A-Za-z_]\w*)
    | (?P<name>[A-Za-z_]\w*)
    | (?P<punct>[|()])
    )""",
    re.VERBOSE,
)


def _printf(fmt: str, *args: Any) -> str:
    values = iter(args)

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "%%":
            return "%"
        return str(next(values, ""))

    return re.sub(r"%%|%[svd]", one, fmt)


def _truncate(length: int, text: str) -> str:
    if length < 0:
        raise ValueError("truncate length must be >= 0")
    return text[:length]


def _random(length: int) -> str:
    if not 0 <= length <= _MAX_RANDOM:
        raise ValueError(f"random length must be between 0 and {_MAX_RANDOM}")
    return "".join(secrets.choice(_ALNUM) for _ in range(length))


def _truncate_sha256(length: int, text: str) -> str:
    if len(text) <= length:
        return text
    keep = max(length - 8, 0)
    return text[:keep] + hashlib.sha256(text[keep:].encode()).hexdigest()[:8]


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "printf": _printf,
    "truncate": _truncate,
    "truncate_sha256": _truncate_sha256,
    "random": _random,
    "unix_time": lambda: int(time.time()),
    "unix_time_millis": lambda: int(time.time() * 1000),
    "timestamp": lambda fmt="": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()),
    "uppercase": lambda s: str(s).upper(),
    "lowercase": lambda s: str(s).lower(),
    "replace": lambda old, new, s: str(s).replace(old, new),
    "sha256": lambda s: hashlib.sha256(str(s).encode()).hexdigest(),
    "base64": lambda s: base64.b64encode(str(s).encode()).decode(),
    "uuid": lambda: str(uuid.uuid4()),
}
_FIELDS = ("RoleName", "DisplayName")


@dataclass(frozen=True, slots=True)
class _Literal:
    value: Any


@dataclass(frozen=True, slots=True)
class _Field:
    name: str


@dataclass(frozen=True, slots=True)
class _Call:
    function: str
    args: tuple[_Node, ...]


@dataclass(frozen=True, slots=True)
class _Pipeline:
    commands: tuple[_Call | _Literal | _Field | _Pipeline, ...]


_Node = _Literal | _Field | _Call | _Pipeline


class _Parser:
    def __init__(self, source: str) -> None:
        self.tokens: list[tuple[str, str]] = []
        position = 0
        while position < len(source):
            if source[position:].strip() == "":
                break
            match = _TOKEN.match(source, position)
            if match is None or match.lastgroup is None:
                raise ValueError(f"unexpected {source[position:].strip()[:10]!r}")
            self.tokens.append((match.lastgroup, match.group(match.lastgroup)))
            position = match.end()
        self.index = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise ValueError("unexpected end of action")
        self.index += 1
        return token

    def pipeline(self) -> _Pipeline:
        commands = [self.command()]
        while self.peek() == ("punct", "|"):
            self.take()
            commands.append(self.command())
        return _Pipeline(tuple(commands))

    def command(self) -> _Call | _Literal | _Field | _Pipeline:
        kind, text = self.take()
        if kind == "name":
            if text not in _FUNCTIONS:
                raise ValueError(f'function "{text}" not defined')
            args: list[_Node] = []
            while (token := self.peek()) is not None and token[1] not in ("|", ")"):
                args.append(self.operand())
            return _Call(text, tuple(args))
        self.index -= 1
        return self.operand()

    def operand(self) -> _Node:
        kind, text = self.take()
        if kind == "string":
            return _Literal(bytes(text[1:-1], "utf-8").decode("unicode_escape"))
        if kind == "number":
            return _Literal(int(text))
        if kind == "field":
            if text[1:] not in _FIELDS:
                raise ValueError(f"can't evaluate field {text[1:]}")
            return _Field(text[1:])
        if kind == "name":  # a function without arguments used as an operand (unix_time)
            if text not in _FUNCTIONS:
                raise ValueError(f'function "{text}" not defined')
            return _Call(text, ())
        if (kind, text) == ("punct", "("):
            inner = self.pipeline()
            if self.take() != ("punct", ")"):
                raise ValueError("unclosed parenthesis")
            return inner
        raise ValueError(f"unexpected {text!r}")


def _evaluate(node: _Node, fields: Mapping[str, str], piped: tuple[Any, ...] = ()) -> Any:
    if isinstance(node, _Literal):
        return node.value
    if isinstance(node, _Field):
        return fields.get(node.name, "")
    if isinstance(node, _Pipeline):
        result: tuple[Any, ...] = piped
        for command in node.commands:
            result = (_evaluate(command, fields, result),)
        return result[0]
    args = [_evaluate(arg, fields) for arg in node.args] + list(piped)
    value = _FUNCTIONS[node.function](*args)
    # Every step is bounded, so chained pipes (replace "" "xx" | replace ...) cannot grow
    # the result exponentially.
    if isinstance(value, str) and len(value) > _MAX_RESULT:
        raise ValueError(f"result longer than {_MAX_RESULT} characters")
    return value


class UsernameTemplate:
    """A compiled username template; :meth:`render` fills in the role and display names."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._parts: list[str | _Pipeline] = []
        position = 0
        try:
            for match in re.finditer(r"\{\{-?(.*?)-?\}\}", source, re.DOTALL):
                self._parts.append(source[position : match.start()])
                parser = _Parser(match.group(1))
                pipeline = parser.pipeline()
                leftover = parser.peek()
                if leftover is not None:
                    raise ValueError(f"unexpected {leftover[1]!r}")
                self._parts.append(pipeline)
                position = match.end()
        except ValueError as exc:
            raise InvalidRequest(f"unable to initialize username template: {exc}") from None
        self._parts.append(source[position:])
        # A trial render catches wrong argument types and counts now, not at credential time.
        self.render("role", "token")

    def render(self, role_name: str, display_name: str) -> str:
        """The username for a new credential."""
        fields = {"RoleName": role_name, "DisplayName": display_name}
        try:
            result = "".join(
                part if isinstance(part, str) else str(_evaluate(part, fields))
                for part in self._parts
            )
        except (TypeError, ValueError) as exc:
            raise InvalidRequest(f"unable to generate username: {exc}") from None
        if len(result) > _MAX_RESULT:
            raise InvalidRequest(f"unable to generate username: longer than {_MAX_RESULT}")
        return result


def render_statement(statement: str, values: Mapping[str, str]) -> str:
    """``{{key}}`` → value for each key (Vault's QueryHelper: plain substitution)."""
    for key, value in values.items():
        statement = statement.replace("{{" + key + "}}", value)
    return statement


def split_statements(statements: list[str]) -> list[str]:
    """Each stored statement split on ``;`` into single queries, empty ones dropped (Vault)."""
    return [query.strip() for stmt in statements for query in stmt.split(";") if query.strip()]
