"""Vault ACLs: the policies of a token compiled into one fast, pure authorisation check.

Semantics are Vault's (``vault/acl.go``): rules for the same pattern merge across policies
(``deny`` wins); an exact pattern beats every wildcard; otherwise the highest-priority matching
wildcard pattern decides, priority being (1) a later first ``+``/``*``, (2) not ending in ``*``,
(3) fewer ``+`` segments, (4) longer, (5) lexicographically greater. Parsing lives in
:mod:`hush.core.acl_parse`; policy names are normalised only by :func:`canonical_policy_name`.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hush.core.acl_parse import (
    CAPABILITIES,
    PathRule,
    Policy,
    PolicyError,
    merge_path_rules,
    parse_policy,
)
from hush.core.errors import InvalidRequest
from hush.core.request import Operation

__all__ = [
    "ACL",
    "CAPABILITIES",
    "DEFAULT_POLICY",
    "DEFAULT_POLICY_TEXT",
    "MAX_POLICY_NAME_LENGTH",
    "ROOT_POLICY",
    "ACLResult",
    "PathRule",
    "Policy",
    "PolicyError",
    "canonical_policy_name",
    "parse_policy",
    "sanitize_policies",
]

ROOT_POLICY = "root"
DEFAULT_POLICY = "default"
MAX_POLICY_NAME_LENGTH = 256

#: The built-in ``default`` policy every token gets unless it opts out (editable, not deletable).
DEFAULT_POLICY_TEXT = """\
# The built-in "default" policy: what every token may do about itself. It can be edited but
# not deleted; tokens created with no_default_policy do not carry it.

# A token may read its own properties, renew itself and revoke itself.
path "auth/token/lookup-self" {
  capabilities = ["read"]
}
path "auth/token/renew-self" {
  capabilities = ["update"]
}
path "auth/token/revoke-self" {
  capabilities = ["update"]
}

# A token may ask what it may do on a path, and see its merged ACL (used by UIs).
path "sys/capabilities-self" {
  capabilities = ["update"]
}
path "sys/internal/ui/resultant-acl" {
  capabilities = ["read"]
}

# A token may renew and look up the leases it was given.
path "sys/leases/renew" {
  capabilities = ["update"]
}
path "sys/renew" {
  capabilities = ["update"]
}
path "sys/leases/lookup" {
  capabilities = ["update"]
}

# The cubbyhole is private to each token, so a token has full use of its own.
path "cubbyhole/*" {
  capabilities = ["create", "read", "update", "delete", "list"]
}

# Response wrapping: wrap data, inspect a wrapping token, unwrap one.
path "sys/wrapping/wrap" {
  capabilities = ["update"]
}
path "sys/wrapping/lookup" {
  capabilities = ["update"]
}
path "sys/wrapping/unwrap" {
  capabilities = ["update"]
}

# Hashing helpers that reveal nothing stored.
path "sys/tools/hash" {
  capabilities = ["update"]
}
path "sys/tools/hash/*" {
  capabilities = ["update"]
}

# Asking for control-group approval of a request.
path "sys/control-group/request" {
  capabilities = ["update"]
}
"""

_DENY = "deny"
_PARAMETER_OPERATIONS = frozenset(
    {Operation.READ, Operation.CREATE, Operation.UPDATE, Operation.PATCH}
)
_ASCII_WHITESPACE = " \t\n\r\f\v"
_VISIBLE_CAPABILITIES = frozenset({"create", "read", "update", "patch", "delete", "list", "sudo"})


def canonical_policy_name(name: str) -> str:
    """The one normal form of a policy name: NFKC, trimmed, lowercased, printable ASCII.

    Raises :class:`InvalidRequest` for empty names, names made only of ``/``, control or format
    characters, anything non-ASCII after NFKC (so no look-alike of ``root`` exists besides
    ``root`` itself) and names longer than :data:`MAX_POLICY_NAME_LENGTH`.
    """
    if not isinstance(name, str):
        raise InvalidRequest("policy name must be a string")
    text = unicodedata.normalize("NFKC", name).strip(_ASCII_WHITESPACE).lower()
    if not text or set(text) == {"/"}:
        raise InvalidRequest("policy name must not be empty")
    if not text.isascii() or not text.isprintable():
        raise InvalidRequest("policy name must be printable ASCII")
    if len(text) > MAX_POLICY_NAME_LENGTH:
        raise InvalidRequest(f"policy name is longer than {MAX_POLICY_NAME_LENGTH} characters")
    return text


def sanitize_policies(names: Iterable[str], *, add_default: bool) -> list[str]:
    """A token's policy list as Vault stores it: canonical, de-duplicated, sorted.

    Blank entries are dropped; ``root`` swallows every other policy; ``default`` is added when
    asked for (never next to ``root``). Invalid names raise :class:`InvalidRequest`.
    """
    canonical = {canonical_policy_name(n) for n in names if n.strip(_ASCII_WHITESPACE)}
    if ROOT_POLICY in canonical:
        return [ROOT_POLICY]
    if add_default:
        canonical.add(DEFAULT_POLICY)
    return sorted(canonical)


@dataclass(frozen=True, slots=True)
class ACLResult:
    """The outcome of :meth:`ACL.check`; ``reason`` is for logs and never contains data values."""

    allowed: bool
    root: bool
    sudo: bool
    capabilities: tuple[str, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class _Wildcard:
    """A ``+`` pattern, pre-split, with its priority (see the module docstring)."""

    rule: PathRule
    parts: tuple[str, ...]
    is_prefix: bool
    priority: tuple[int, bool, int, int, str]

    def matches(self, segments: Sequence[str]) -> bool:
        count = len(self.parts)
        if len(segments) < count or (not self.is_prefix and len(segments) != count):
            return False
        last = count - 1
        for index, part in enumerate(self.parts):
            if part in ("+", segments[index]):
                continue
            # Vault: a trailing * after a + pattern globs within the last segment and beyond.
            if not (self.is_prefix and index == last and segments[index].startswith(part)):
                return False
        return True

    def may_match_under(self, folder: Sequence[str]) -> bool:
        """Whether some path inside the folder with these segments can match this pattern."""
        last = len(self.parts) - 1
        for index, name in enumerate(folder):
            if index > last:
                return False
            part = self.parts[index]
            if self.is_prefix and index == last and name.startswith(part):
                return True
            if part not in ("+", name):
                return False
        return True


def _visible(rule: PathRule) -> bool:
    return _DENY not in rule.capabilities and bool(rule.capabilities & _VISIBLE_CAPABILITIES)


def _has_segment_wildcard(pattern: str) -> bool:
    # Vault's test exactly: "+" alone, a "/+" anywhere, or a leading "+/".
    return pattern == "+" or "/+" in pattern or pattern.startswith("+/")


class ACL:
    """The merged rules of a set of policies; a policy named ``root`` makes it allow everything."""

    __slots__ = ("_exact", "_prefix", "_prefix_lengths", "_root", "_wildcards", "policy_names")

    def __init__(self, policies: Iterable[Policy]) -> None:
        merged: dict[str, PathRule] = {}
        names: list[str] = []
        for policy in policies:
            names.append(policy.name)
            for rule in policy.rules:
                existing = merged.get(rule.pattern)
                merged[rule.pattern] = (
                    rule if existing is None else merge_path_rules(existing, rule)
                )
        self.policy_names: tuple[str, ...] = tuple(names)
        self._root = ROOT_POLICY in names
        self._exact: dict[str, PathRule] = {}
        self._prefix: dict[str, PathRule] = {}
        wildcards: list[_Wildcard] = []
        for pattern, rule in merged.items():
            is_prefix = pattern.endswith("*")
            stem = pattern[:-1] if is_prefix else pattern
            if _has_segment_wildcard(pattern):
                parts = tuple(stem.split("/"))
                plus = sum(1 for part in parts if part == "+")
                priority = (pattern.find("+"), not is_prefix, -plus, len(stem), stem)
                wildcards.append(_Wildcard(rule, parts, is_prefix, priority))
            elif is_prefix:
                self._prefix[stem] = rule
            else:
                self._exact[pattern] = rule
        self._prefix_lengths = tuple(sorted({len(s) for s in self._prefix}, reverse=True))
        self._wildcards = tuple(wildcards)

    @property
    def root(self) -> bool:
        """Whether this ACL carries the ``root`` policy."""
        return self._root

    def rule_for(self, path: str, *, listing: bool = False) -> PathRule | None:
        """The rule that governs ``path``, if any (``listing`` adds Vault's list fallback)."""
        path = path.lstrip("/")
        exact = self._exact.get(path)
        # Vault: a LIST of "foo/" is also governed by an exact rule for "foo".
        if exact is None and listing and path.endswith("/"):
            exact = self._exact.get(path[:-1])
        if exact is not None:
            return exact
        best: PathRule | None = None
        best_priority: tuple[int, bool, int, int, str] | None = None
        for length in self._prefix_lengths:  # the longest prefix rule is the only candidate
            if length <= len(path) and path[:length] in self._prefix:
                stem = path[:length]
                best, best_priority = self._prefix[stem], (length, False, 0, length, stem)
                break
        if self._wildcards:
            segments = path.split("/")
            for wildcard in self._wildcards:
                if (best_priority is None or wildcard.priority > best_priority) and (
                    wildcard.matches(segments)
                ):
                    best, best_priority = wildcard.rule, wildcard.priority
        return best

    def check(
        self,
        path: str,
        operation: Operation,
        data: Mapping[str, Any] | None = None,
        *,
        wrap_ttl: int | None = None,
    ) -> ACLResult:
        """Whether ``operation`` on ``path`` with request ``data`` is allowed.

        ``wrap_ttl`` is the requested response-wrapping TTL (``None``: not wrapped); a rule with
        ``min_wrapping_ttl``/``max_wrapping_ttl`` refuses unwrapped requests, as Vault does.
        ``help`` is allowed when the caller holds any capability on the path.
        """
        if self._root:
            return ACLResult(True, True, True, (ROOT_POLICY,), "granted by the root policy")
        rule = self.rule_for(path, listing=operation is Operation.LIST)
        if rule is None:
            return ACLResult(False, False, False, (_DENY,), "no policy rule matches the path")
        granted = _listing(rule.capabilities)
        sudo = "sudo" in rule.capabilities
        where = f'rule "{rule.pattern}"'
        problem: str | None
        if _DENY in granted:
            problem = f"{where} denies access"
        elif operation is Operation.HELP:
            problem = None
        elif operation.value not in rule.capabilities:
            problem = f'{where} does not grant "{operation.value}"'
        else:
            problem = _wrapping_problem(rule, wrap_ttl)
            if problem is None and operation in _PARAMETER_OPERATIONS:
                problem = _parameter_problem(rule, data or {})
        if problem is not None:
            return ACLResult(False, False, sudo, granted, problem)
        return ACLResult(True, False, sudo, granted, f"granted by {where}")

    def has_any_under(self, path: str) -> bool:
        """Whether some rule grants a capability on a path under ``path`` (a mount prefix).

        Vault's mount-visibility check (``sys/internal/ui/mounts``): exact and glob rules whose
        pattern starts with ``path``, and ``+`` rules that can match below it; deny rules and
        rules granting only ``subscribe``/``recover`` do not count.
        """
        if self._root:
            return True
        path = path.lstrip("/")
        if any(
            _visible(rule) and pattern.startswith(path)
            for rules in (self._exact, self._prefix)
            for pattern, rule in rules.items()
        ):
            return True
        segments = path.rstrip("/").split("/")
        return any(_visible(w.rule) and w.may_match_under(segments) for w in self._wildcards)

    def capabilities(self, path: str) -> list[str]:
        """Sorted capabilities on ``path`` (``sys/capabilities``): ``["root"]`` or ``["deny"]``."""
        if self._root:
            return [ROOT_POLICY]
        rule = self.rule_for(path, listing=True)
        return list(_listing(rule.capabilities)) if rule is not None else [_DENY]


def _listing(capabilities: frozenset[str]) -> tuple[str, ...]:
    if _DENY in capabilities or not capabilities:
        return (_DENY,)
    return tuple(sorted(capabilities))


def _wrapping_problem(rule: PathRule, wrap_ttl: int | None) -> str | None:
    low, high = rule.min_wrapping_ttl, rule.max_wrapping_ttl
    if high and (wrap_ttl is None or wrap_ttl > high):
        return f"response wrapping with a TTL of at most {high}s is required"
    if low and (wrap_ttl is None or wrap_ttl < low):
        return f"response wrapping with a TTL of at least {low}s is required"
    if low and high and high < low:  # only reachable by merging two policies
        return "the merged wrapping TTL bounds cannot be met"
    return None


def _parameter_problem(rule: PathRule, data: Mapping[str, Any]) -> str | None:
    """Vault's parameter checks, in Vault's order (required, denied, allowed)."""
    for name in rule.required_parameters:
        if name.lower() not in data:
            return f'required parameter "{name}" is missing'
    if not data:
        return None
    denied = rule.denied_parameters
    if "*" in denied:
        return "all parameters are denied"
    for key, value in data.items():
        listed = denied.get(key.lower())
        if listed is not None and _value_listed(value, listed):
            return f'parameter "{key}" is denied'
    allowed = rule.allowed_parameters
    if not allowed:
        return None
    allow_all = "*" in allowed
    if allow_all and len(allowed) == 1:
        return None
    for key, value in data.items():
        listed = allowed.get(key.lower())
        if listed is None and not allow_all:
            return f'parameter "{key}" is not allowed'
        if listed is not None and not _value_listed(value, listed):
            return f'this value of parameter "{key}" is not allowed'
    return None


def _value_listed(value: Any, listed: tuple[Any, ...]) -> bool:
    # An empty list means "any value".
    return not listed or any(_value_matches(item, value) for item in listed)


def _value_matches(item: Any, value: Any) -> bool:
    if item is None or value is None:
        return item is value
    if isinstance(item, str) and isinstance(value, str):
        return _glob_match(item, value)
    return _deep_equal(item, value)


def _glob_match(item: str, value: str) -> bool:
    """Vault's ``GlobbedStringsMatch``: a leading and/or trailing ``*`` in a listed value."""
    if len(item) < 2:
        return value == item
    starts, ends = item.startswith("*"), item.endswith("*")
    if starts and ends:
        return item[1:-1] in value
    if starts:
        return value.endswith(item[1:])
    if ends:
        return value.startswith(item[:-1])
    return value == item


def _deep_equal(left: Any, right: Any) -> bool:
    # Like Go's reflect.DeepEqual on decoded JSON, except that numbers compare by value
    # (Vault compares an HCL int with a JSON number by type and never matches).
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, int | float) and isinstance(right, int | float):
        return left == right
    if isinstance(left, str) or isinstance(right, str):
        return isinstance(left, str) and isinstance(right, str) and left == right
    if isinstance(left, Mapping) and isinstance(right, Mapping):
        return left.keys() == right.keys() and all(_deep_equal(left[k], right[k]) for k in left)
    if isinstance(left, Sequence) and isinstance(right, Sequence):
        return len(left) == len(right) and all(
            _deep_equal(a, b) for a, b in zip(left, right, strict=True)
        )
    return bool(left == right)
