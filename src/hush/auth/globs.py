"""Vault's glob rule for auth bindings (``ryanuber/go-glob``), shared by jwt and kubernetes.

One wildcard, ``*``, matches any run of characters including ``/``; everything else is literal.
:mod:`fnmatch` is deliberately not used: its ``?`` and ``[...]`` would give characters that are
legal in branch names and service-account names a meaning Vault does not give them.
"""

from __future__ import annotations

__all__ = ["glob_match"]


def glob_match(pattern: str, value: str) -> bool:
    """Whether ``value`` matches ``pattern`` (``*`` is the only wildcard)."""
    if "*" not in pattern:
        return pattern == value
    parts = pattern.split("*")
    first, last = parts[0], parts[-1]
    if not value.startswith(first) or len(value) < len(first) + len(last):
        return False
    position = len(first)
    end = len(value) - len(last)
    for middle in parts[1:-1]:
        found = value.find(middle, position, end)
        if found < 0:
            return False
        position = found + len(middle)
    return value.endswith(last)
