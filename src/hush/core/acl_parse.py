"""Parsing Vault ACL policies (HCL or JSON) into immutable :class:`Policy` objects.

The accepted language is Vault's: ``path "<pattern>" { ... }`` blocks with ``capabilities``, the
legacy ``policy = "read"`` shorthand, ``allowed_parameters``, ``denied_parameters``,
``required_parameters`` and ``min_wrapping_ttl``/``max_wrapping_ttl``; or the same structure as
JSON (``{"path": {"secret/*": {"capabilities": ["read"]}}}``). Every mistake is a
:class:`PolicyError` (400) that says where: line and column for syntax errors, the path pattern
and key for everything else. Matching lives in :mod:`hush.core.acl`.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import hcl2
from hcl2.utils import process_escape_sequences
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedToken

from hush.core.errors import InvalidRequest
from hush.core.ttl import parse_ttl

__all__ = [
    "CAPABILITIES",
    "PathRule",
    "Policy",
    "PolicyError",
    "merge_path_rules",
    "parse_policy",
]

#: Every capability a path rule may grant (Vault's list; ``deny`` overrides all others).
CAPABILITIES = frozenset(
    {"create", "read", "update", "patch", "delete", "list", "sudo", "deny", "subscribe", "recover"}
)
DENY = "deny"

# Vault's pre-0.5 ``policy = "..."`` shorthand and the capabilities it stands for.
_LEGACY_POLICIES: dict[str, frozenset[str]] = {
    "deny": frozenset({"deny"}),
    "read": frozenset({"read", "list"}),
    "write": frozenset({"create", "read", "update", "delete", "list"}),
    "sudo": frozenset({"create", "read", "update", "delete", "list", "sudo"}),
}
_TOP_KEYS = ("name", "path")
_PATH_KEYS = (
    "allowed_parameters",
    "capabilities",
    "comment",
    "denied_parameters",
    "max_wrapping_ttl",
    "min_wrapping_ttl",
    "policy",
    "required_parameters",
    "subscribe_event_types",
)
# Enterprise features Hush does not enforce: refusing them beats silently granting without them.
_UNSUPPORTED_KEYS = ("control_group", "mfa_methods")
# Lark terminal names worth showing in "expected ..." hints; the rest are grammar noise.
_TERMINALS = {
    "COMMA": ",",
    "EQ": "=",
    "LBRACE": "{",
    "RBRACE": "}",
    "LSQB": "[",
    "RSQB": "]",
    "RPAR": ")",
    "DBLQUOTE": '"',
    "COLON": ":",
    "NAME": "a name",
}
_HCL_OPTIONS = hcl2.SerializationOptions(
    with_comments=False, preserve_heredocs=False, preserve_scientific_notation=False
)


class PolicyError(InvalidRequest):
    """A policy text that cannot be parsed or uses an unknown capability, key or value (400)."""


@dataclass(frozen=True, slots=True)
class PathRule:
    """One ``path`` block: a pattern and what it grants (Vault's ``PathRules``/``ACLPermissions``).

    Parameter names are lowercased; ``capabilities`` is ``{"deny"}`` alone when it denies.
    """

    pattern: str
    capabilities: frozenset[str]
    allowed_parameters: Mapping[str, tuple[Any, ...]]
    denied_parameters: Mapping[str, tuple[Any, ...]]
    required_parameters: tuple[str, ...]
    min_wrapping_ttl: int
    max_wrapping_ttl: int


@dataclass(frozen=True, slots=True)
class Policy:
    """A named, parsed policy: its rules (one per distinct pattern) and the text it came from."""

    name: str
    rules: tuple[PathRule, ...]
    raw: str


def parse_policy(name: str, text: str) -> Policy:
    """Parse HCL or JSON policy ``text`` (JSON when it starts with ``{``); raises PolicyError."""
    if not text.strip():
        raise PolicyError("'policy' parameter not supplied or empty")
    entries = _json_entries(text) if text.lstrip().startswith("{") else _hcl_entries(text)
    rules: dict[str, PathRule] = {}
    for pattern, body in entries:
        rule = _path_rule(pattern, body)
        # Vault: several blocks for one pattern merge exactly as they would across policies.
        existing = rules.get(rule.pattern)
        rules[rule.pattern] = rule if existing is None else merge_path_rules(existing, rule)
    return Policy(name=name, rules=tuple(rules.values()), raw=text)


def merge_path_rules(existing: PathRule, new: PathRule) -> PathRule:
    """Combine two rules for the same pattern the way Vault's ``NewACL`` does.

    ``deny`` on either side wins outright; otherwise capabilities are unioned, the smaller of two
    set wrapping TTLs is kept, parameter lists are concatenated (an empty list, meaning "any
    value", absorbs the other side) and required parameters are unioned.
    """
    if DENY in existing.capabilities:
        return existing
    if DENY in new.capabilities:
        return PathRule(
            existing.pattern,
            frozenset({DENY}),
            _frozen({}),
            _frozen({}),
            existing.required_parameters,
            existing.min_wrapping_ttl,
            existing.max_wrapping_ttl,
        )
    required = existing.required_parameters + tuple(
        p for p in new.required_parameters if p not in existing.required_parameters
    )
    return PathRule(
        existing.pattern,
        existing.capabilities | new.capabilities,
        _merge_parameters(existing.allowed_parameters, new.allowed_parameters),
        _merge_parameters(existing.denied_parameters, new.denied_parameters),
        required,
        _smaller_set_ttl(existing.min_wrapping_ttl, new.min_wrapping_ttl),
        _smaller_set_ttl(existing.max_wrapping_ttl, new.max_wrapping_ttl),
    )


def _merge_parameters(
    existing: Mapping[str, tuple[Any, ...]], new: Mapping[str, tuple[Any, ...]]
) -> Mapping[str, tuple[Any, ...]]:
    merged = dict(existing)
    for key, values in new.items():
        if key in merged and (not values or not merged[key]):
            merged[key] = ()
        else:
            merged[key] = values + merged.get(key, ())
    return _frozen(merged)


def _smaller_set_ttl(existing: int, new: int) -> int:
    return new if new > 0 and (existing == 0 or new < existing) else existing


def _frozen(mapping: dict[str, tuple[Any, ...]]) -> Mapping[str, tuple[Any, ...]]:
    return MappingProxyType(mapping)


# --- HCL and JSON front ends: both produce [(pattern, plain body), ...] ---------------------


class _NotLiteral(Exception):
    """An HCL expression (bare name, interpolation, arithmetic) where a literal is required."""


def _hcl_entries(text: str) -> list[tuple[str, dict[str, Any]]]:
    try:
        document = hcl2.loads(text, serialization_options=_HCL_OPTIONS)
    except Exception as exc:  # python-hcl2 raises lark errors, and others on odd input
        raise _syntax_error(exc) from None
    entries: list[tuple[str, dict[str, Any]]] = []
    for key, value in document.items():
        _check_key("", key, _TOP_KEYS)
        if key != "path":
            continue
        if not isinstance(value, list):
            raise PolicyError(_NOT_A_BLOCK)
        entries.extend(_hcl_block(block) for block in value)
    return entries


_NOT_A_BLOCK = 'failed to parse policy: "path" must be a block: path "<pattern>" { ... }'


def _hcl_block(block: Any) -> tuple[str, dict[str, Any]]:
    # A block serialises as {label: {..., "__is_block__": True}}; two labels nest one level
    # deeper, none leaves only the marker.
    labels = [k for k in block if k != "__is_block__"] if isinstance(block, dict) else []
    if not isinstance(block, dict) or _is_block(block) or len(labels) != 1:
        raise PolicyError(_NOT_A_BLOCK)
    pattern = _label(labels[0])
    body = block[labels[0]]
    if not _is_block(body):
        raise PolicyError(
            f"failed to parse policy: path {_quote(pattern)}: a path block takes exactly one label"
        )
    plain: dict[str, Any] = {}
    for key, raw in body.items():
        if key == "__is_block__":
            continue
        # ``allowed_parameters { foo = [] }`` (block form) means the same as the attribute.
        value = raw[0] if isinstance(raw, list) and len(raw) == 1 and _is_block(raw[0]) else raw
        try:
            plain[key] = _literal(value)
        except _NotLiteral as exc:
            where = f"path {_quote(pattern)}"
            raise PolicyError(
                f'failed to parse policy: {where}: invalid value for "{key}": {exc} is not a '
                "literal (quote strings; expressions are not allowed)"
            ) from None
    return pattern, plain


def _is_block(value: Any) -> bool:
    return isinstance(value, dict) and bool(value.get("__is_block__"))


def _literal(value: Any) -> Any:
    """A value as python-hcl2 serialises it (strings keep their quotes) → the plain value."""
    if isinstance(value, str):
        if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
            return process_escape_sequences(value[1:-1])
        raise _NotLiteral(value)
    if isinstance(value, list):
        return [_literal(item) for item in value]
    if isinstance(value, dict):
        return {_label(k): _literal(v) for k, v in value.items() if k != "__is_block__"}
    return value


def _label(key: str) -> str:
    if len(key) >= 2 and key[0] == '"' and key[-1] == '"':
        return process_escape_sequences(key[1:-1])
    return key


def _json_entries(text: str) -> list[tuple[str, dict[str, Any]]]:
    try:
        document = json.loads(text, object_pairs_hook=_JsonObject)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise PolicyError(f"failed to parse policy: {where}: {exc.msg}") from None
    if not isinstance(document, dict):
        raise PolicyError("failed to parse policy: expected a JSON object")
    entries: list[tuple[str, dict[str, Any]]] = []
    for key in document:
        _check_key("", key, _TOP_KEYS)
    value = document.get("path", _JsonObject([]))
    for group in value if isinstance(value, list) else [value]:
        if not isinstance(group, _JsonObject):
            raise PolicyError('failed to parse policy: "path" must be an object of path blocks')
        for pattern, body in group.pairs:  # pairs, so a repeated pattern merges like in HCL
            if not isinstance(body, dict):
                where = f"path {_quote(pattern)}"
                raise PolicyError(f"failed to parse policy: {where}: expected an object")
            entries.append((pattern, dict(body)))
    return entries


class _JsonObject(dict[str, Any]):
    """A decoded JSON object that remembers repeated keys (``pairs``) in document order."""

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        super().__init__(pairs)
        self.pairs = pairs


def _syntax_error(exc: Exception) -> PolicyError:
    line, column = getattr(exc, "line", -1), getattr(exc, "column", -1)
    where = f"line {line}, column {column}: " if isinstance(line, int) and line > 0 else ""
    expected: Iterable[str] = ()
    if isinstance(exc, UnexpectedEOF) or (
        isinstance(exc, UnexpectedToken) and exc.token.type == "$END"
    ):
        what = "unexpected end of policy"
        expected = getattr(exc, "expected", None) or getattr(exc, "accepts", None) or ()
    elif isinstance(exc, UnexpectedToken):
        token = str(exc.token).strip()
        what = f"unexpected token {_quote(token)}" if token else "unexpected end of line"
        expected = exc.expected
    elif isinstance(exc, UnexpectedCharacters):
        what = f"unexpected character {_quote(exc.char)}"
        expected = exc.allowed or ()
    else:
        what = "invalid syntax"
    hints = sorted({_TERMINALS[name] for name in expected if name in _TERMINALS})
    hint = f" (expected one of: {', '.join(_quote(h) for h in hints)})" if hints else ""
    return PolicyError(f"failed to parse policy: {where}{what}{hint}")


# --- one path block → PathRule --------------------------------------------------------------


def _path_rule(raw_pattern: str, body: Mapping[str, Any]) -> PathRule:
    where = f"path {_quote(raw_pattern)}"
    # Vault: patterns are relative to /v1/, so one leading slash is dropped.
    pattern = raw_pattern[1:] if raw_pattern.startswith("/") else raw_pattern
    if "+*" in pattern:
        raise PolicyError(f"failed to parse policy: {where}: invalid use of wildcards ('+*')")
    for key in body:
        _check_key(where, key, _PATH_KEYS)
    capabilities: set[str] = set()
    legacy = body.get("policy")
    if legacy is not None:
        if not isinstance(legacy, str) or legacy not in _LEGACY_POLICIES:
            choices = ", ".join(sorted(_LEGACY_POLICIES))
            raise PolicyError(
                f"failed to parse policy: {where}: invalid policy {_quote(str(legacy))} "
                f"(one of: {choices})"
            )
        capabilities |= _LEGACY_POLICIES[legacy]
    for capability in _strings(where, "capabilities", body.get("capabilities")):
        if capability not in CAPABILITIES:
            raise PolicyError(
                f"failed to parse policy: {where}: unknown capability {_quote(capability)}"
                + _suggestion(capability, CAPABILITIES)
            )
        capabilities.add(capability)
    if not isinstance(body.get("comment", ""), str):
        raise PolicyError(f'failed to parse policy: {where}: "comment" must be a string')
    _strings(where, "subscribe_event_types", body.get("subscribe_event_types"))
    allowed = _parameters(where, "allowed_parameters", body.get("allowed_parameters"))
    denied = _parameters(where, "denied_parameters", body.get("denied_parameters"))
    required = tuple(_strings(where, "required_parameters", body.get("required_parameters")))
    min_ttl = _wrapping_ttl(where, "min_wrapping_ttl", body.get("min_wrapping_ttl"))
    max_ttl = _wrapping_ttl(where, "max_wrapping_ttl", body.get("max_wrapping_ttl"))
    if min_ttl and max_ttl and max_ttl < min_ttl:
        raise PolicyError(
            f"failed to parse policy: {where}: max_wrapping_ttl cannot be less than "
            "min_wrapping_ttl"
        )
    if DENY in capabilities:  # Vault keeps nothing else of a denying block
        return PathRule(pattern, frozenset({DENY}), _frozen({}), _frozen({}), (), 0, 0)
    return PathRule(pattern, frozenset(capabilities), allowed, denied, required, min_ttl, max_ttl)


def _check_key(where: str, key: str, valid: tuple[str, ...]) -> None:
    prefix = f"failed to parse policy: {where}: " if where else "failed to parse policy: "
    if key in _UNSUPPORTED_KEYS:
        raise PolicyError(f'{prefix}"{key}" is not supported by Hush')
    if key not in valid:
        raise PolicyError(f"{prefix}unknown key {_quote(key)}" + _suggestion(key, valid))


def _strings(where: str, key: str, value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise PolicyError(f'failed to parse policy: {where}: "{key}" must be a list of strings')
    return value


def _parameters(where: str, key: str, value: Any) -> Mapping[str, tuple[Any, ...]]:
    if value is None:
        return _frozen({})
    if not isinstance(value, dict):
        raise PolicyError(f'failed to parse policy: {where}: "{key}" must be an object')
    result: dict[str, tuple[Any, ...]] = {}
    for name, values in value.items():
        if not isinstance(values, list):
            raise PolicyError(
                f'failed to parse policy: {where}: "{key}.{name}" must be a list of values'
            )
        # Vault lowercases parameter names; two spellings of one name merge rather than
        # letting the last one silently drop the other's values.
        merged = _merge_parameters(result, {name.lower(): tuple(_freeze(v) for v in values)})
        result = dict(merged)
    return _frozen(result)


def _freeze(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_freeze(item) for item in value)
    return value


def _wrapping_ttl(where: str, key: str, value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise PolicyError(f'failed to parse policy: {where}: "{key}" must be a duration')
    try:
        return parse_ttl(value)
    except ValueError as exc:
        raise PolicyError(f'failed to parse policy: {where}: invalid "{key}": {exc}') from None


def _suggestion(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f" (did you mean {_quote(close[0])}?)" if close else ""


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)
