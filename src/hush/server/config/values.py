"""Step 2 helpers: checking the names in a body and turning attributes into typed values.

Error messages never repeat option values that may be secret (storage URLs, seal tokens, PINs).
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping

from hush.core.ttl import parse_ttl
from hush.server.config.reader import Attr, Block, Invalid, at_line

__all__ = [
    "bad_value",
    "block_type",
    "bool_value",
    "choice_value",
    "collect",
    "hours",
    "integer_value",
    "option_string",
    "scalar_value",
    "string_value",
    "ttl_value",
    "unknown_key",
    "url_value",
]

# Go's strconv.ParseBool, which Vault's parseutil applies to quoted booleans.
_TRUE_STRINGS = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE_STRINGS = frozenset({"0", "f", "F", "FALSE", "false", "False"})


def collect(
    items: tuple[Attr | Block, ...],
    *,
    allowed: frozenset[str],
    blocks: frozenset[str],
    where: str,
    unsupported: frozenset[str] = frozenset(),
) -> tuple[dict[str, Attr], dict[str, list[Block]]]:
    """Check the names and shapes in one body; return its values and its blocks by name.

    ``allowed`` names must be values (set once), ``blocks`` names must be blocks (the caller
    decides how many it accepts), ``unsupported`` names are known but refused.
    """
    values: dict[str, Attr] = {}
    found_blocks: dict[str, list[Block]] = {}
    for item in items:
        name, line = item.name, item.line
        if name in unsupported:
            raise Invalid(line, f'"{name}"{where}{at_line(line)} is not supported yet; remove it')
        if name in blocks and isinstance(item, Block):
            found_blocks.setdefault(name, []).append(item)
        elif name in allowed and isinstance(item, Attr):
            if name in values:
                raise Invalid(
                    line,
                    f'"{name}"{where} is set twice{at_line(values[name].line)} and{at_line(line)}',
                )
            values[name] = item
        elif name in allowed or name in blocks:
            shape = "a block" if name in blocks else "a value, not a block"
            raise Invalid(line, f'"{name}"{where}{at_line(line)} must be {shape}')
        else:
            raise Invalid(line, unknown_key(name, where, line, allowed | blocks))
    return values, found_blocks


def unknown_key(name: str, where: str, line: int | None, valid: frozenset[str]) -> str:
    close = difflib.get_close_matches(name, sorted(valid), n=1)
    hint = f'did you mean "{close[0]}"?' if close else "valid keys: " + ", ".join(sorted(valid))
    return f"unknown key {json.dumps(name)}{where}{at_line(line)} ({hint})"


def block_type(block: Block, what: str, example: str) -> str:
    if len(block.labels) != 1:
        raise Invalid(
            block.line,
            f"{what} block{at_line(block.line)} needs exactly one type label, "
            f'for example {what} "{example}" {{ ... }}',
        )
    return block.labels[0]


def hours(seconds: int) -> str:
    return f"{seconds // 3600}h" if seconds % 3600 == 0 else f"{seconds}s"


def bad_value(attr: Attr, problem: str, where: str = "") -> Invalid:
    return Invalid(attr.line, f'"{attr.name}"{where}{at_line(attr.line)} {problem}')


def scalar_value(attr: Attr, where: str = "") -> str | int | float | bool:
    if not attr.literal:
        problem = "must be a literal value; expressions and variables are not supported"
        raise bad_value(attr, problem, where)
    if not isinstance(attr.value, str | int | float | bool):
        raise bad_value(attr, "must be a string, number or boolean", where)
    return attr.value


def string_value(attr: Attr | None) -> str | None:
    if attr is None:
        return None
    value = scalar_value(attr)
    if not isinstance(value, str):
        raise bad_value(attr, "must be a string")
    return value


def bool_value(attr: Attr | None, *, default: bool) -> bool:
    if attr is None:
        return default
    value = scalar_value(attr)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value in _TRUE_STRINGS | _FALSE_STRINGS:
        return value in _TRUE_STRINGS
    raise bad_value(attr, f"must be true or false, not {json.dumps(value)}")


def integer_value(attr: Attr | None, *, default: int) -> int:
    if attr is None:
        return default
    value = scalar_value(attr)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value):
        return int(value)
    raise bad_value(attr, f"must be a whole number of bytes, not {json.dumps(value)}")


def ttl_value(attr: Attr | None) -> int:
    if attr is None:
        return 0
    value = scalar_value(attr)
    try:
        if isinstance(value, bool | float):
            raise ValueError(f"time: invalid duration {json.dumps(value)}")
        return parse_ttl(value)
    except ValueError as exc:
        hint = 'use seconds or a duration such as "768h" or "1h30m"'
        raise bad_value(attr, f"is not a valid duration: {exc} ({hint})") from None


def choice_value(attr: Attr | None, choices: Mapping[str, str], *, default: str) -> str:
    """One of ``choices`` (case-insensitive, aliases allowed), returned under its canonical name."""
    value = string_value(attr)
    if attr is None or value is None:
        return default
    canonical = choices.get(value.strip().lower())
    if canonical is None:
        listed = ", ".join(sorted(set(choices.values())))
        raise bad_value(attr, f"is {json.dumps(value)}; use one of {listed}")
    return canonical


def url_value(attr: Attr | None) -> str | None:
    value = string_value(attr)
    if attr is not None and value is not None and not value.startswith(("http://", "https://")):
        example = '"https://hush.example.com:8200"'
        raise bad_value(attr, f"must be a full URL such as {example}, not {json.dumps(value)}")
    return value


def option_string(attr: Attr, where: str) -> str:
    """A storage option as a string; its value is never put in an error (it may be a password)."""
    value = scalar_value(attr, where)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
