"""Typed fields of declared endpoints and the conversion of raw request values into them.

Conversions follow Vault's weak decoding (``"10"`` is an int, ``"true"`` a bool, ``"a,b"`` a comma
list, ``"1h30m"`` a duration) so clients that send strings keep working, and every failure becomes
one clear :class:`~hush.core.errors.InvalidRequest`.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hush.core.errors import InvalidRequest
from hush.core.ttl import parse_ttl

__all__ = ["Field", "FieldData", "FieldType", "coerce"]


class FieldType(enum.Enum):
    """The value types a declared field can have (names as in Vault's OpenAPI output)."""

    STRING = "string"
    LOWER_STRING = "lowercase_string"
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    DURATION = "duration_second"
    MAP = "map"
    KV_PAIRS = "kv_pairs"
    STRING_LIST = "string_slice"
    COMMA_STRING_LIST = "comma_string_slice"
    RAW = "raw"


_OPENAPI_TYPES: dict[FieldType, dict[str, Any]] = {
    FieldType.STRING: {"type": "string"},
    FieldType.LOWER_STRING: {"type": "string"},
    FieldType.INT: {"type": "integer"},
    FieldType.FLOAT: {"type": "number"},
    FieldType.BOOL: {"type": "boolean"},
    FieldType.DURATION: {"type": "string", "format": "duration"},
    FieldType.MAP: {"type": "object"},
    FieldType.KV_PAIRS: {"type": "object", "additionalProperties": {"type": "string"}},
    FieldType.STRING_LIST: {"type": "array", "items": {"type": "string"}},
    FieldType.COMMA_STRING_LIST: {"type": "array", "items": {"type": "string"}},
    FieldType.RAW: {},
}


@dataclass(frozen=True, slots=True)
class Field:
    """One declared request field: its type, default, description and constraints."""

    type: FieldType
    description: str
    default: Any = None
    required: bool = False
    allowed: tuple[Any, ...] = ()
    sensitive: bool = False
    max_length: int | None = None

    def openapi_schema(self) -> dict[str, Any]:
        """The OpenAPI schema object of this field."""
        schema = dict(_OPENAPI_TYPES[self.type])
        schema["description"] = self.description
        if self.default is not None:
            schema["default"] = self.default
        if self.allowed:
            schema["enum"] = list(self.allowed)
        if self.sensitive:
            schema["x-hush-sensitive"] = True
        return schema


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("1", "t", "true", "yes", "y", "on"):
            return True
        if lowered in ("", "0", "f", "false", "no", "n", "off"):
            return False
    raise ValueError("expected a boolean")


_INT64 = range(-(2**63), 2**63)  # Vault's integers are Go's int: wider ones cannot be stored


def _int(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        result = value
    elif isinstance(value, float) and value.is_integer():
        result = int(value)
    elif isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        result = int(value.strip())
    else:
        raise ValueError("expected an integer")
    if result not in _INT64:
        raise ValueError("integer out of the 64-bit range")
    return result


def _float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("expected a number")
    result = float(value)
    if not math.isfinite(result):
        raise ValueError("expected a finite number")
    return result


def _string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    raise ValueError("expected a string")


def _string_list(value: Any, *, comma: bool) -> list[str]:
    if isinstance(value, str):
        if not value:
            return []
        return [part.strip() for part in value.split(",")] if comma else [value]
    if isinstance(value, Sequence):
        return [_string(item) for item in value]
    raise ValueError("expected a list of strings")


def _map(value: Any) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return dict(value)
    raise ValueError("expected a JSON object")


def _kv_pairs(value: Any) -> dict[str, str]:
    if isinstance(value, Mapping):
        return {str(k): _string(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str):
        pairs: dict[str, str] = {}
        for item in value:
            key, sep, val = _string(item).partition("=")
            if not sep:
                raise ValueError("expected key=value pairs")
            pairs[key] = val
        return pairs
    raise ValueError("expected an object of string values")


def coerce(name: str, spec: Field, value: Any) -> Any:
    """Convert ``value`` to ``spec``'s type or raise :class:`InvalidRequest` naming ``name``."""
    try:
        result: Any
        match spec.type:
            case FieldType.STRING:
                result = _string(value)
            case FieldType.LOWER_STRING:
                result = _string(value).lower()
            case FieldType.INT:
                result = _int(value)
            case FieldType.FLOAT:
                result = _float(value)
            case FieldType.BOOL:
                result = _bool(value)
            case FieldType.DURATION:
                result = parse_ttl(value if isinstance(value, str | int) else _int(value))
            case FieldType.MAP:
                result = _map(value)
            case FieldType.KV_PAIRS:
                result = _kv_pairs(value)
            case FieldType.STRING_LIST:
                result = _string_list(value, comma=False)
            case FieldType.COMMA_STRING_LIST:
                result = _string_list(value, comma=True)
            case FieldType.RAW:
                result = value
    except (ValueError, TypeError, OverflowError) as exc:
        raise InvalidRequest(
            f'error converting input for field "{name}": {exc}'
            if not spec.sensitive
            else f'error converting input for field "{name}"'
        ) from None
    if spec.allowed and result not in spec.allowed:
        allowed = ", ".join(str(a) for a in spec.allowed)
        raise InvalidRequest(f'field "{name}" must be one of: {allowed}')
    if spec.max_length is not None and isinstance(result, str) and len(result) > spec.max_length:
        raise InvalidRequest(f'field "{name}" is longer than {spec.max_length} characters')
    return result


class FieldData:
    """Validated request fields, read through typed accessors (never raw ``dict`` digging)."""

    __slots__ = ("_present", "_schema", "_values")

    def __init__(self, schema: Mapping[str, Field], raw: Mapping[str, Any]) -> None:
        self._schema = schema
        self._values: dict[str, Any] = {}
        self._present: set[str] = set()
        for name, spec in schema.items():
            if name in raw and raw[name] is not None:
                self._values[name] = coerce(name, spec, raw[name])
                self._present.add(name)
            elif spec.required:
                raise InvalidRequest(f'missing required field "{name}"')

    def has(self, name: str) -> bool:
        """Whether the client sent ``name`` (as opposed to the default applying)."""
        return name in self._present

    def _get(self, name: str) -> Any:
        if name not in self._schema:
            raise KeyError(f"field {name!r} is not declared")
        if name in self._values:
            return self._values[name]
        return self._schema[name].default

    def string(self, name: str) -> str:
        """A string field ("" when absent and no default)."""
        value = self._get(name)
        return "" if value is None else str(value)

    def integer(self, name: str) -> int:
        """An integer or duration field (0 when absent and no default)."""
        value = self._get(name)
        if value is None:
            return 0
        if isinstance(value, str):
            return parse_ttl(value)
        return int(value)

    def number(self, name: str) -> float:
        """A number field."""
        value = self._get(name)
        return 0.0 if value is None else float(value)

    def boolean(self, name: str) -> bool:
        """A boolean field."""
        return bool(self._get(name))

    def mapping(self, name: str) -> dict[str, Any]:
        """An object field (a fresh copy)."""
        value = self._get(name)
        return dict(value) if value else {}

    def strings(self, name: str) -> list[str]:
        """A list-of-strings field (a fresh copy)."""
        value = self._get(name)
        return list(value) if value else []

    def raw(self, name: str) -> Any:
        """A field of type RAW, as sent."""
        return self._get(name)
