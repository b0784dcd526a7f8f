"""Constant-time comparisons: secrets are compared only through ``constant_time_equal``.

``==`` on bytes or str returns at the first differing byte, so comparing a caller's guess with a
secret leaks, through timing, how much of the guess was right. This test reads every module of
``src/hush`` and flags each ``==``/``!=`` whose operand is named like secret material (token,
secret, share, hmac, password, otp, key, salt, digest, hash, signature) unless the other side is
a literal, plus any ``compare_digest`` outside :mod:`hush.crypto` (the one place allowed to call
it). Membership tests (``in``) are not scanned: set and dict lookups hash, they do not compare.
Comparisons that are not secret are listed in :data:`ALLOWED` with the reason; an entry that no
longer matches anything fails the test, so the list cannot rot.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import hush

SOURCE = Path(hush.__file__).parent
SECRET_WORDS = frozenset(
    {
        "token", "tokens", "secret", "secrets", "share", "shares", "hmac", "password",
        "passphrase", "otp", "key", "salt", "digest", "hash", "signature",
    }
)  # fmt: skip
# A name ending in one of these describes secret material without being it (key_type, token_ttl).
DESCRIPTIVE_SUFFIXES = frozenset(
    {
        "type", "types", "size", "length", "len", "name", "names", "count", "version", "id",
        "path", "prefix", "format", "kind", "bits", "ttl", "index", "policies", "keys",
    }
)  # fmt: skip
HARMLESS_CALLS = frozenset({"len", "type", "isinstance", "bool", "int", "str", "sorted"})
# Methods that return the same material in another form: the receiver names the operand.
CONVERSIONS = frozenset({"reveal", "encode", "decode", "hex", "hexdigest", "lower", "strip"})

# (module relative to src/hush, comparison as ast.unparse renders it) -> why it is not secret.
ALLOWED: dict[tuple[str, str], str] = {
    (
        "storage/migrate.py",
        "key != CHECKPOINT_KEY",
    ): "a storage key name (the migration checkpoint's), not secret",
    (
        "core/shares.py",
        "s.reveal()[-1] == share.reveal()[-1]",
    ): "the last byte of a Shamir share is its x-coordinate (public index), not secret",
    (
        "core/audit/verify.py",
        "key != self.pinned_key",
    ): "audit chain public verification keys read from the log file",
    (
        "core/audit/verify.py",
        "nxt.prev == cur.digest",
    ): "hash-chain digests of audit lines, which are written in the log itself",
    (
        "core/audit/verify.py",
        "cur.prev != self.prev_hash",
    ): "hash-chain links of audit lines, written in the log itself",
    (
        "core/audit/verify.py",
        "cur.prev == self.prev_hash",
    ): "hash-chain links of audit lines, written in the log itself",
    (
        "core/audit/devices.py",
        "line_hash(tail) == self._chain.last_hash",
    ): "hash of the audit file's last line, public chain state",
    (
        "core/audit/shared_file.py",
        "later.prev != link.digest",
    ): "hash-chain links of audit lines read back from the log file, written in the log itself",
    (
        "core/audit/shared_file.py",
        "record.get('public_key') != public_key",
    ): "the audit chain's public verification key, written in the log itself",
    (
        "engines/awssm/values.py",
        "(env.kms_key or '') != record.kms_key",
    ): "KMS key identifiers (transit key names), not secret",
    (
        "engines/transit/material.py",
        "expected[0] != secret",
    ): "both sides are SecretBytes, whose __eq__ is constant_time_equal",
    (
        "core/identity/service.py",
        "accessor == TOKEN_MOUNT_ACCESSOR",
    ): "a mount accessor, and the token store's is a public constant listed by sys/auth",
    # Reported, not fixed here (src/hush/auth/ is owned elsewhere): remove once it uses
    # constant_time_equal. The HMAC is recomputed from stored data, so no caller-supplied guess
    # is timed, but the rule has no exceptions for HMACs.
}


@dataclass(frozen=True, slots=True)
class Finding:
    module: str
    line: int
    source: str

    def __str__(self) -> str:
        return f"src/hush/{self.module}:{self.line}: {self.source}"


def _words(name: str) -> list[str]:
    """``role_name_hmac`` -> [role, name, hmac]; ``otpValue`` -> [otp, value]."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()
    return [w for w in spaced.strip("_").split("_") if w]


def _operand_name(node: ast.expr) -> str:
    """The identifier an operand is known by: the variable, the attribute, the key or the call."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Subscript):
        key = node.slice
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            return key.value
        return _operand_name(node.value)
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in CONVERSIONS:
            return _operand_name(func.value)
        return _operand_name(func)
    return ""


def _is_secret_name(name: str) -> bool:
    words = _words(name)
    if not words or words[-1] in DESCRIPTIVE_SUFFIXES:
        return False
    return any(w in SECRET_WORDS for w in words)


def _is_exempt(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant | ast.JoinedStr):
        return True
    return isinstance(node, ast.Call) and _operand_name(node.func) in HARMLESS_CALLS


def _suspect_comparisons(tree: ast.AST) -> list[ast.Compare]:
    """Every ``==``/``!=`` in ``tree`` with an operand named like a secret and no literal side."""
    found: list[ast.Compare] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        operands = [node.left, *node.comparators]
        for op, left, right in zip(node.ops, operands, operands[1:], strict=False):
            if not isinstance(op, ast.Eq | ast.NotEq) or _is_exempt(left) or _is_exempt(right):
                continue
            if _is_secret_name(_operand_name(left)) or _is_secret_name(_operand_name(right)):
                found.append(node)
                break
    return found


def _findings_in(path: Path) -> list[Finding]:
    module = path.relative_to(SOURCE).as_posix()
    tree = ast.parse(path.read_text(), filename=str(path))
    return [Finding(module, n.lineno, ast.unparse(n)) for n in _suspect_comparisons(tree)]


def _compare_digest_uses(path: Path) -> list[Finding]:
    module = path.relative_to(SOURCE).as_posix()
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        named = (
            (isinstance(node, ast.Attribute) and node.attr == "compare_digest")
            or (isinstance(node, ast.Name) and node.id == "compare_digest")
            or (
                isinstance(node, ast.ImportFrom)
                and any(alias.name == "compare_digest" for alias in node.names)
            )
        )
        if named:
            found.append(Finding(module, getattr(node, "lineno", 0), ast.unparse(node)))
    return found


def _modules() -> list[Path]:
    modules = sorted(SOURCE.rglob("*.py"))
    assert len(modules) > 50, "the scan found too few modules to prove anything"
    return modules


def test_secrets_are_never_compared_with_equality_operators() -> None:
    findings = [f for path in _modules() for f in _findings_in(path)]
    unexplained = [str(f) for f in findings if (f.module, f.source) not in ALLOWED]
    assert not unexplained, (
        "compare secrets with hush.crypto.constant_time_equal (or, if the value is not secret, "
        "add it to ALLOWED with the reason):\n" + "\n".join(unexplained)
    )
    stale = sorted(set(ALLOWED) - {(f.module, f.source) for f in findings})
    assert not stale, f"ALLOWED entries that match nothing any more (remove them): {stale}"


def test_compare_digest_is_called_only_inside_hush_crypto() -> None:
    uses = [f for path in _modules() for f in _compare_digest_uses(path)]
    assert [f.module for f in uses if f.module != "crypto.py"] == [], [str(f) for f in uses]
    assert any(f.module == "crypto.py" for f in uses), "constant_time_equal lost its primitive"


def test_the_scanner_catches_what_it_is_meant_to_catch() -> None:
    # The scan is only worth something if it flags the shapes a real mistake takes.
    samples = {
        "if token == presented: pass": True,
        "if raw['role_name_hmac'] != self._hmac(x): pass": True,
        "if entry.password == guess: pass": True,
        "if otpValue != expected: pass": True,
        "if share.reveal() == other: pass": True,
        "if key_type == other_type: pass": False,
        "if token == '': pass": False,
        "if len(secret) != 32: pass": False,
        "if token.type == kind: pass": False,
    }
    for source, flagged in samples.items():
        assert bool(_suspect_comparisons(ast.parse(source))) is flagged, source
