"""Step 1 of reading a configuration: HCL or JSON text into neutral items with line numbers.

Both formats become the same list of :class:`Attr` (``key = value``) and :class:`Block` items, so
the typed parsers that follow never care which format the operator wrote.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import hcl2
from hcl2.rules.base import AttributeRule, BlockRule
from lark.exceptions import LarkError, UnexpectedInput, UnexpectedToken

__all__ = ["Attr", "Block", "ConfigError", "Invalid", "at_line", "read_hcl", "read_json"]


class ConfigError(ValueError):
    """The configuration file cannot be used; the message names the file and line."""

    def __init__(self, problem: str, *, filename: str, line: int | None = None) -> None:
        super().__init__(f"{filename}: {problem}")
        self.filename = filename
        self.line = line


class Invalid(Exception):
    """A problem found while reading; the caller turns it into a :class:`ConfigError`."""

    def __init__(self, line: int | None, problem: str) -> None:
        super().__init__(problem)
        self.line = line
        self.problem = problem


@dataclass(frozen=True, slots=True)
class Attr:
    """One ``name = value`` attribute."""

    name: str
    value: object
    line: int | None
    literal: bool = True  # False for an HCL expression such as a variable or function call


@dataclass(frozen=True, slots=True)
class Block:
    """One ``name "label" { ... }`` block."""

    name: str
    labels: tuple[str, ...]
    body: tuple[Attr | Block, ...]
    line: int | None


_HCL_RAW = hcl2.SerializationOptions(
    with_comments=False, preserve_heredocs=False, preserve_scientific_notation=False
)
_HCL_VALUES = dataclasses.replace(_HCL_RAW, strip_string_quotes=True)


def read_hcl(text: str) -> tuple[Attr | Block, ...]:
    """Parse HCL text into items."""
    try:
        tree: Any = hcl2.parses(text)
    except UnexpectedInput as exc:
        line = exc.line if exc.line > 0 else None
        # Never quote the offending token: a broken line may hold a password.
        found = " (unexpected end of file)" if _at_end(exc) else ""
        raise Invalid(line, f"syntax error{at_line(line)}, column {exc.column}{found}") from None
    except LarkError:
        raise Invalid(None, "syntax error") from None
    return _hcl_body(tree.body)


def _at_end(exc: UnexpectedInput) -> bool:
    return isinstance(exc, UnexpectedToken) and exc.token.type == "$END"


def _hcl_body(body: Any) -> tuple[Attr | Block, ...]:
    items: list[Attr | Block] = []
    for child in body.children:
        if not isinstance(child, AttributeRule | BlockRule):
            continue  # newlines and comments
        line = getattr(child.to_lark().meta, "line", None)
        if isinstance(child, AttributeRule):
            raw = child.expression.serialize(_HCL_RAW)
            # Quoted strings keep their quotes in the raw form; anything else unquoted that is
            # not a number/bool/list is an expression, which Vault's HCL 1 never evaluated.
            literal = not isinstance(raw, str) or raw.startswith('"')
            value = child.expression.serialize(_HCL_VALUES)
            items.append(Attr(child.identifier.serialize(_HCL_VALUES), value, line, literal))
        else:
            name, *labels = (str(label.serialize(_HCL_VALUES)) for label in child.labels)
            items.append(Block(name, tuple(labels), _hcl_body(child.body), line))
    return tuple(items)


class _JsonObject:
    """A JSON object as its (key, value) pairs in file order (duplicates kept), with key lines."""

    __slots__ = ("lines", "pairs")

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        self.pairs = pairs
        self.lines: list[int | None] = []


# A JSON string followed by a colon is an object key. Run over valid JSON only, matches come
# in document order, so they pair up with a pre-order walk of the parsed objects.
_JSON_KEY = re.compile(r'"(?:[^"\\]|\\.)*"\s*:')
# Blocks that carry a type label: {"storage": {"sqlite": {...}}}.
_LABELED_BLOCKS = frozenset(
    {"storage", "listener", "seal", "ha_storage", "service_registration", "storage_source",
     "storage_destination"}
)  # fmt: skip


def read_json(text: str) -> tuple[Attr | Block, ...]:
    """Parse JSON text into items (labeled blocks as in Vault's JSON form)."""
    try:
        document = json.loads(text, object_pairs_hook=_JsonObject)
    except json.JSONDecodeError as exc:
        raise Invalid(exc.lineno, f"invalid JSON at line {exc.lineno}: {exc.msg}") from None
    if not isinstance(document, _JsonObject):
        raise Invalid(1, "a JSON configuration must be an object")
    lines = (text.count("\n", 0, match.start()) + 1 for match in _JSON_KEY.finditer(text))
    _attach_lines(document, lines)
    return _json_body(document, top_level=True)


def _attach_lines(value: object, lines: Iterator[int]) -> None:
    if isinstance(value, _JsonObject):
        for _key, child in value.pairs:
            value.lines.append(next(lines, None))
            _attach_lines(child, lines)
    elif isinstance(value, list):
        for child in value:
            _attach_lines(child, lines)


def _json_body(obj: _JsonObject, *, top_level: bool = False) -> tuple[Attr | Block, ...]:
    items: list[Attr | Block] = []
    for (key, value), line in zip(obj.pairs, obj.lines, strict=True):
        if top_level and key in _LABELED_BLOCKS:
            items.extend(_json_labeled_blocks(key, value, line))
        elif isinstance(value, _JsonObject):
            items.append(Block(key, (), _json_body(value), line))
        elif isinstance(value, list) and value and all(isinstance(v, _JsonObject) for v in value):
            items.extend(Block(key, (), _json_body(v), line) for v in value)
        else:
            items.append(Attr(key, value, line))
    return tuple(items)


def _json_labeled_blocks(name: str, value: object, line: int | None) -> list[Block]:
    """``{"tcp": {...}}``, ``{"tcp": [{...}, ...]}`` or a list of those -> labeled blocks."""
    groups = value if isinstance(value, list) else [value]
    blocks: list[Block] = []
    for group in groups:
        if not isinstance(group, _JsonObject):
            raise Invalid(
                line, f'"{name}"{at_line(line)} must be an object like {{"<type>": {{...}}}}'
            )
        for (label, bodies), label_line in zip(group.pairs, group.lines, strict=True):
            for body in bodies if isinstance(bodies, list) else [bodies]:
                if not isinstance(body, _JsonObject):
                    raise Invalid(
                        label_line, f'{name} "{label}"{at_line(label_line)} must be an object'
                    )
                blocks.append(Block(name, (label,), _json_body(body), label_line))
    return blocks


def at_line(line: int | None) -> str:
    """`` at line N`` for messages, or nothing when the line is unknown."""
    return f" at line {line}" if line is not None else ""
