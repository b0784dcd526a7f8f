"""Password policies: Vault's HCL rule format, parsing, validation and generation.

A policy is a ``length`` and ``rule "charset" { charset = "..." min-chars = N }`` blocks (or the
same structure as JSON). A generated password has ``length`` characters drawn from the union of
every rule's charset and satisfies every rule's ``min-chars``. Randomness comes from
:mod:`secrets` only. Impossible policies (rules needing more characters than ``length``, empty or
non-printable charsets) are refused when written, with Vault's messages.

Generation draws each rule's minimum from its own charset first, fills the rest from the union
and shuffles with a CSPRNG, so it never needs Vault's generate-and-retry loop to succeed.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

import hcl2
from hcl2.utils import process_escape_sequences

from hush.barrier.view import LogicalStorage
from hush.core.errors import InvalidRequest, NotFound

__all__ = [
    "DEFAULT_PASSWORD_POLICY",
    "MAX_PASSWORD_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "CharsetRule",
    "PasswordPolicy",
    "PasswordPolicyStore",
    "parse_password_policy",
]

# Vault's sys/policies/password bounds.
MIN_PASSWORD_LENGTH = 4
MAX_PASSWORD_LENGTH = 100
_LOWER = "abcdefghijklmnopqrstuvwxyz"
_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_DIGITS = "0123456789"
_HCL_OPTIONS = hcl2.SerializationOptions(
    with_comments=False, preserve_heredocs=False, preserve_scientific_notation=False
)


@dataclass(frozen=True, slots=True)
class CharsetRule:
    """At least ``min_chars`` characters of the password come from ``charset``."""

    charset: str
    min_chars: int = 0


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    """A parsed password policy; :meth:`generate` draws a fresh password from it."""

    length: int
    rules: tuple[CharsetRule, ...]

    @property
    def charset(self) -> str:
        """The union of every rule's charset, in first-seen order, without repeats."""
        return "".join(dict.fromkeys("".join(rule.charset for rule in self.rules)))

    def validate(self) -> None:
        """Raise :class:`InvalidRequest` when no password can satisfy the policy."""
        problems: list[str] = []
        if self.length <= 0:
            problems.append("length must be > 0")
        if not self.charset:
            problems.append("no charset specified")
        if any(not ch.isprintable() for ch in self.charset):
            problems.append("non-printable character in charset")
        needed = sum(rule.min_chars for rule in self.rules)
        if needed > self.length:
            problems.append(
                f"specified rules require at least {needed} characters but {self.length} is "
                "specified"
            )
        if problems:
            raise InvalidRequest("invalid password policy: " + "; ".join(problems))

    def generate(self) -> str:
        """A new password satisfying every rule (CSPRNG only)."""
        picked: list[str] = []
        for rule in self.rules:
            picked.extend(secrets.choice(rule.charset) for _ in range(rule.min_chars))
        union = self.charset
        picked.extend(secrets.choice(union) for _ in range(self.length - len(picked)))
        # Fisher-Yates with the CSPRNG, so the guaranteed characters are not at the front.
        for i in range(len(picked) - 1, 0, -1):
            j = secrets.randbelow(i + 1)
            picked[i], picked[j] = picked[j], picked[i]
        return "".join(picked)


#: Vault's default for generated database passwords: 20 characters, at least one lowercase,
#: uppercase, digit and dash.
DEFAULT_PASSWORD_POLICY = PasswordPolicy(
    20,
    (
        CharsetRule(_LOWER, 1),
        CharsetRule(_UPPER, 1),
        CharsetRule(_DIGITS, 1),
        CharsetRule("-", 1),
    ),
)


def parse_password_policy(text: str) -> PasswordPolicy:
    """Parse an HCL (or JSON) password policy and check it is satisfiable; 400 on any mistake."""
    document = _json_document(text) if text.lstrip().startswith("{") else _hcl_document(text)
    unknown = sorted(set(document) - {"length", "rule"})
    if unknown:
        raise InvalidRequest(f"invalid password policy: unknown key(s): {', '.join(unknown)}")
    length = document.get("length")
    if isinstance(length, bool) or not isinstance(length, int):
        raise InvalidRequest("invalid password policy: length must be an integer")
    rules = tuple(_rule(block) for block in _rule_blocks(document.get("rule", [])))
    policy = PasswordPolicy(length, rules)
    policy.validate()
    if not MIN_PASSWORD_LENGTH <= length <= MAX_PASSWORD_LENGTH:
        raise InvalidRequest(
            f"passwords must be between {MIN_PASSWORD_LENGTH} and {MAX_PASSWORD_LENGTH} characters"
        )
    return policy


def _hcl_document(text: str) -> dict[str, Any]:
    try:
        parsed = hcl2.loads(text, serialization_options=_HCL_OPTIONS)
    except Exception as exc:  # python-hcl2 raises lark errors, and others on odd input
        line = getattr(exc, "line", None)
        where = f" at line {line}" if isinstance(line, int) and line > 0 else ""
        raise InvalidRequest(f"invalid password policy: invalid HCL{where}") from None
    return {key: _plain(value) for key, value in parsed.items()}


def _json_document(text: str) -> dict[str, Any]:
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidRequest(f"invalid password policy: line {exc.lineno}: {exc.msg}") from None
    if not isinstance(parsed, dict):
        raise InvalidRequest("invalid password policy: expected a JSON object")
    return parsed


def _plain(value: Any) -> Any:
    """python-hcl2's serialisation (quoted strings, labelled blocks) → plain values."""
    if isinstance(value, str):
        if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
            return process_escape_sequences(value[1:-1])
        raise InvalidRequest(f"invalid password policy: {value} is not a literal")
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {_plain_label(k): _plain(v) for k, v in value.items() if k != "__is_block__"}
    return value


def _plain_label(key: str) -> str:
    return process_escape_sequences(key[1:-1]) if key.startswith('"') else key


def _rule_blocks(raw: Any) -> list[tuple[str, dict[str, Any]]]:
    """``[{"charset": {...}}, ...]`` (HCL) or ``{"charset": [{...}]}`` (JSON) → (type, body)."""
    blocks: list[tuple[str, dict[str, Any]]] = []
    groups = raw if isinstance(raw, list) else [raw]
    for group in groups:
        if not isinstance(group, dict):
            raise InvalidRequest('invalid password policy: "rule" must be a block')
        for kind, body in group.items():
            bodies = body if isinstance(body, list) else [body]
            for item in bodies:
                if not isinstance(item, dict):
                    raise InvalidRequest('invalid password policy: "rule" must be a block')
                blocks.append((kind, item))
    return blocks


def _rule(block: tuple[str, dict[str, Any]]) -> CharsetRule:
    kind, body = block
    if kind != "charset":
        raise InvalidRequest(f'invalid password policy: unrecognized rule type "{kind}"')
    unknown = sorted(set(body) - {"charset", "min-chars"})
    if unknown:
        raise InvalidRequest(
            f"invalid password policy: unknown key(s) in charset rule: {', '.join(unknown)}"
        )
    charset = body.get("charset")
    min_chars = body.get("min-chars", 0)
    if not isinstance(charset, str) or not charset:
        raise InvalidRequest("invalid password policy: charset rule needs a non-empty charset")
    if isinstance(min_chars, bool) or not isinstance(min_chars, int) or min_chars < 0:
        raise InvalidRequest("invalid password policy: min-chars must be a non-negative integer")
    return CharsetRule(charset, min_chars)


def _key(name: str) -> str:
    return quote(name, safe="")


class PasswordPolicyStore:
    """Password policies by name in the system's storage (``sys/password_policy/``)."""

    def __init__(self, storage: LogicalStorage) -> None:
        self._storage = storage

    async def put(self, name: str, text: str) -> None:
        """Validate ``text`` (parse and one trial generation) and store it."""
        parse_password_policy(text).generate()
        await self._storage.put(_key(name), json.dumps({"policy": text}).encode())

    async def get_text(self, name: str) -> str | None:
        """The stored policy text, or ``None``."""
        blob = await self._storage.get(_key(name))
        return None if blob is None else str(json.loads(blob)["policy"])

    async def get(self, name: str) -> PasswordPolicy | None:
        """The parsed policy, or ``None`` when there is no such policy."""
        text = await self.get_text(name)
        return None if text is None else parse_password_policy(text)

    async def delete(self, name: str) -> None:
        """Remove a policy (missing is fine)."""
        await self._storage.delete(_key(name))

    async def names(self) -> Sequence[str]:
        """Every policy name, sorted."""

        return sorted(unquote(k) for k in await self._storage.list("") if not k.endswith("/"))

    async def generate(self, name: str) -> str:
        """A password from the named policy; 404 when it does not exist."""
        policy = await self.get(name)
        if policy is None:
            raise NotFound("policy does not exist")
        return policy.generate()
