"""ParameterFilters (and the older Filters) of DescribeParameters and GetParametersByPath."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from hush.engines.ssm.errors import InvalidFilter, SsmValidation
from hush.engines.ssm.model import Parameter

__all__ = ["BY_PATH_KEYS", "DESCRIBE_KEYS", "ParameterFilter", "matches", "parse_filters"]

_OPTIONS: Final = {
    "Name": ("Equals", "BeginsWith", "Contains"),
    "Type": ("Equals",),
    "KeyId": ("Equals", "BeginsWith"),
    "Path": ("Recursive", "OneLevel"),
    "Tier": ("Equals",),
    "DataType": ("Equals",),
    "Label": ("Equals",),
}
DESCRIBE_KEYS: Final = frozenset(_OPTIONS)
BY_PATH_KEYS: Final = frozenset({"Type", "KeyId", "Label"})
_TYPES: Final = ("String", "StringList", "SecureString")
_TIERS: Final = ("Standard", "Advanced", "Intelligent-Tiering")


@dataclass(frozen=True, slots=True)
class ParameterFilter:
    """One validated filter."""

    key: str
    option: str
    values: tuple[str, ...]


def parse_filters(raw: Any, allowed: frozenset[str], legacy: Any = None) -> list[ParameterFilter]:
    """Validate ``ParameterFilters`` (and DescribeParameters' older ``Filters``)."""
    result = [_parse(item, allowed) for item in _as_list(raw, "ParameterFilters")]
    for item in _as_list(legacy, "Filters"):
        key = item.get("Key") if isinstance(item, dict) else None
        if key not in ("Name", "Type", "KeyId"):
            raise InvalidFilter(
                "InvalidFilterKey",
                f"The following filter key is not valid: {str(key)[:40]}. "
                "Valid filter keys include: [Name, Type, KeyId].",
            )
        result.append(ParameterFilter(str(key), "Equals", _values(item, str(key))))
    return result


def _as_list(raw: Any, member: str) -> list[Any]:
    if raw is None:
        return []
    if not isinstance(raw, list) or len(raw) > 50:
        raise SsmValidation(f"{member} must be a list of at most 50 filters")
    return raw


def _values(item: dict[str, Any], key: str) -> tuple[str, ...]:
    values = item.get("Values", [])
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise InvalidFilter("InvalidFilterValue", f"The filter values of {key[:40]} are not valid.")
    if len(values) > 50 or any(not 1 <= len(v) <= 1024 for v in values):
        raise InvalidFilter("InvalidFilterValue", f"The filter values of {key[:40]} are not valid.")
    return tuple(values)


def _parse(item: Any, allowed: frozenset[str]) -> ParameterFilter:
    key = item.get("Key") if isinstance(item, dict) else None
    if not isinstance(key, str) or not (key in allowed or key.startswith("tag:")):
        names = ", ".join(sorted(allowed))
        raise InvalidFilter(
            "InvalidFilterKey",
            f"The following filter key is not valid: {str(key)[:40]}. "
            f"Valid filter keys include: [{names}].",
        )
    assert isinstance(item, dict)
    options = _OPTIONS.get(key, ("Equals", "BeginsWith"))
    option = item.get("Option") or ("OneLevel" if key == "Path" else "Equals")
    if option not in options:
        raise InvalidFilter(
            "InvalidFilterOption",
            f"The following filter option is not valid: {str(option)[:40]}. "
            f"Valid options include: [{', '.join(options)}].",
        )
    values = _values(item, key)
    if not values and not key.startswith("tag:"):
        raise InvalidFilter("InvalidFilterValue", f"The filter {key} needs at least one value.")
    if key == "Type" and any(v not in _TYPES for v in values):
        raise InvalidFilter(
            "InvalidFilterValue",
            "The following filter value is not valid. Valid values include: "
            "[String, StringList, SecureString].",
        )
    if key == "Tier" and any(v not in _TIERS for v in values):
        raise InvalidFilter(
            "InvalidFilterValue",
            "The following filter value is not valid. Valid values include: "
            "[Standard, Advanced, Intelligent-Tiering].",
        )
    if key == "Path" and any(not v.startswith("/") for v in values):
        raise InvalidFilter("InvalidFilterValue", "A Path filter value must begin with /.")
    return ParameterFilter(key, str(option), values)


def matches(parameter: Parameter, filters: Sequence[ParameterFilter]) -> bool:
    """Whether ``parameter`` passes every filter (values within one filter are alternatives)."""
    return all(_one(parameter, f) for f in filters)


def _one(parameter: Parameter, f: ParameterFilter) -> bool:
    latest = parameter.latest
    if f.key == "Name":
        name = parameter.name
        if f.option == "BeginsWith":
            return any(name.startswith(v) for v in f.values)
        if f.option == "Contains":
            return any(v in name for v in f.values)
        return name in f.values or name.lstrip("/") in (v.lstrip("/") for v in f.values)
    if f.key == "Type":
        return latest.type in f.values
    if f.key == "KeyId":
        ids = (latest.key_id, latest.kms_key_id)
        if f.option == "BeginsWith":
            return any(i.startswith(v) for i in ids if i for v in f.values)
        return any(i in f.values for i in ids if i)
    if f.key == "Path":
        parent = parameter.name.rsplit("/", 1)[0] or "/"
        for value in f.values:
            base = value.rstrip("/") or "/"
            if f.option == "OneLevel" and parent == base:
                return True
            if f.option == "Recursive" and parameter.name.startswith(base.rstrip("/") + "/"):
                return True
        return False
    if f.key == "Tier":
        return latest.tier in f.values
    if f.key == "DataType":
        return latest.data_type in f.values
    if f.key == "Label":
        return any(label in f.values for v in parameter.versions for label in v.labels)
    tag = f.key[len("tag:") :]
    if tag not in parameter.tags:
        return False
    if not f.values:
        return True
    value = parameter.tags[tag]
    if f.option == "BeginsWith":
        return any(value.startswith(v) for v in f.values)
    return value in f.values
