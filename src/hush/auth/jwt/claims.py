"""Pure claim logic shared by JWT logins and the OIDC callback (Vault's ``claims.go``).

Claims are named either plainly (``repository``) or, starting with ``/``, as a JSON pointer
(``/project/path``, RFC 6901) into nested claims. Bound claims match when any configured value
equals (or, with ``bound_claims_type=glob``, glob-matches) any value of the token's claim;
globs have one wildcard, ``*``, matching any run of characters including ``/`` (go-glob's rule,
not :mod:`fnmatch`'s, whose ``?`` and ``[...]`` would make ``refs/heads/[a-z]*`` mean something
surprising; see :mod:`hush.auth.globs`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from hush.auth.globs import glob_match

__all__ = [
    "RESERVED_METADATA",
    "ClaimError",
    "check_bound_claims",
    "claim_value",
    "group_names",
    "mapped_metadata",
    "scalar_text",
    "user_name",
    "validate_bound_claims_config",
]

RESERVED_METADATA: Final = ("role",)
_MISSING: Final = object()


class ClaimError(Exception):
    """A claim is missing or does not satisfy the role; the message names the claim only."""


def _pointer(claims: Mapping[str, Any], pointer: str) -> Any:
    current: Any = claims
    for raw in pointer.split("/")[1:]:
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(current, Mapping) and token in current:
            current = current[token]
        elif isinstance(current, list) and token.isdigit() and int(token) < len(current):
            current = current[int(token)]
        else:
            return None
    return current


def claim_value(claims: Mapping[str, Any], name: str, *, pointer: bool | None = None) -> Any:
    """The value of claim ``name`` (a JSON pointer when it starts with ``/``), or ``None``."""
    use_pointer = name.startswith("/") if pointer is None else pointer
    return _pointer(claims, name) if use_pointer else claims.get(name)


def scalar_text(value: Any) -> str | None:
    """A claim value as metadata text: strings as they are, numbers and booleans spelled out."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return None


def _as_list(value: Any) -> list[Any] | None:
    if isinstance(value, list):
        return value
    if isinstance(value, str | int | float | bool):
        return [value]
    return None


def _equal(expected: Any, actual: Any) -> bool:
    # Python's True == 1 must not let a boolean claim satisfy a numeric binding (Go compares types).
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return expected == actual
    return type(expected) is type(actual) and bool(expected == actual)


def validate_bound_claims_config(bound: Mapping[str, Any], glob: bool) -> None:
    """Reject bindings that cannot be matched; raises :class:`ClaimError`."""
    for name, values in bound.items():
        listed = _as_list(values)
        if listed is None:
            raise ClaimError(f'bound claim "{name}" is not a string, number, boolean or list')
        for item in listed:
            if glob and not isinstance(item, str):
                raise ClaimError(f'bound claim "{name}" has a value that is not a string')
            if not isinstance(item, str | int | float | bool):
                raise ClaimError(f'bound claim "{name}" has a value that is not a scalar')


def check_bound_claims(bound: Mapping[str, Any], claims: Mapping[str, Any], glob: bool) -> None:
    """Every bound claim must be present and match one of its values; raises :class:`ClaimError`."""
    for name, expected_raw in bound.items():
        actual_raw = claim_value(claims, name)
        if actual_raw is None:
            raise ClaimError(f'claim "{name}" is missing')
        actual = _as_list(actual_raw)
        if actual is None:
            raise ClaimError(f'claim "{name}" is not a string, number, boolean or list')
        expected = _as_list(expected_raw) or []
        if not any(_matches(e, a, glob) for e in expected for a in actual):
            raise ClaimError(f'claim "{name}" does not match any associated bound claim values')


def _matches(expected: Any, actual: Any, glob: bool) -> bool:
    if glob:
        return (
            isinstance(expected, str) and isinstance(actual, str) and glob_match(expected, actual)
        )
    return _equal(expected, actual)


def user_name(claims: Mapping[str, Any], user_claim: str, *, json_pointer: bool) -> str:
    """The ``user_claim`` value (the identity alias name); raises :class:`ClaimError`."""
    raw = claim_value(claims, user_claim, pointer=json_pointer)
    if raw is None:
        raise ClaimError(f'claim "{user_claim}" not found in token')
    text = scalar_text(raw)
    if text is None or isinstance(raw, bool) or not text:
        raise ClaimError(f'claim "{user_claim}" could not be converted to string')
    return text


def group_names(claims: Mapping[str, Any], groups_claim: str) -> tuple[str, ...]:
    """The ``groups_claim`` values (a string or a list of strings); raises :class:`ClaimError`."""
    if not groups_claim:
        return ()
    raw = claim_value(claims, groups_claim)
    if raw is None:
        raise ClaimError(f'failed to fetch groups: "{groups_claim}" claim not found in token')
    listed = _as_list(raw)
    names = [scalar_text(item) for item in listed] if listed is not None else [None]
    if any(name is None for name in names):
        raise ClaimError(f'"{groups_claim}" claim could not be converted to string list')
    return tuple(name for name in names if name)


def mapped_metadata(claims: Mapping[str, Any], mappings: Mapping[str, str]) -> dict[str, str]:
    """``claim_mappings`` applied: metadata key → claim text (lists joined with commas)."""
    metadata: dict[str, str] = {}
    for claim, key in mappings.items():
        raw = claim_value(claims, claim)
        if raw is None:
            continue
        listed = raw if isinstance(raw, list) else [raw]
        texts = [scalar_text(item) for item in listed]
        if any(text is None for text in texts):
            raise ClaimError(f'error converting claim "{claim}" to string')
        metadata[key] = ",".join(text for text in texts if text is not None)
    return metadata
