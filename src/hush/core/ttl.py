"""Time-to-live values: Vault's duration syntax parsed into whole seconds.

Vault (``sdk/helper/parseutil.ParseDurationSecond``) accepts an integer number of seconds, a string
of digits (also seconds), or a Go duration string (``time.ParseDuration``: ``"768h"``,
``"1h30m"``, ``"1.5h"``, ``"90s"``). Hush accepts the same, plus the ``d`` (day) unit anywhere a
Go unit may appear (Vault only takes ``"7d"`` as a whole value, so Hush accepts a superset).
Error texts follow Go's (``time: unknown unit "x" in duration "1x"``) so messages look familiar.
"""

from __future__ import annotations

import json
import re
from fractions import Fraction

__all__ = ["go_duration", "parse_ttl"]

_NANOSECONDS_PER_SECOND = 1_000_000_000
# Go's time.Duration is an int64 of nanoseconds (about 292 years); longer values are an error there
# and would overflow date arithmetic here.
_MAX_NANOSECONDS = 2**63 - 1
_MAX_SECONDS = _MAX_NANOSECONDS // _NANOSECONDS_PER_SECOND

# Go's time.unitMap (both micro signs included, as in Go), plus Vault's day.
_UNIT_NANOSECONDS: dict[str, int] = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,  # U+00B5 MICRO SIGN
    "\u03bcs": 1_000,  # U+03BC GREEK SMALL LETTER MU
    "ms": 1_000_000,
    "s": _NANOSECONDS_PER_SECOND,
    "m": 60 * _NANOSECONDS_PER_SECOND,
    "h": 3600 * _NANOSECONDS_PER_SECOND,
    "d": 86400 * _NANOSECONDS_PER_SECOND,
}

# ASCII digits only: str.isdigit() and \d would also accept "²" or "٣".
_SECONDS = re.compile(r"[+-]?[0-9]+")
# One "<number><unit>" component; the unit runs until the next digit or dot, as in Go.
_COMPONENT = re.compile(r"([0-9]*)(?:\.([0-9]*))?([^0-9.]*)")


def parse_ttl(value: str | int) -> int:
    """Parse a TTL (seconds as an int or digit string, or a Go-style duration) into seconds.

    Fractions of a second are rounded down. Raises :class:`ValueError` for negative values,
    empty strings, a missing or unknown unit, and anything else that is not a duration.
    """
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"time: invalid duration {value!r}: expected a string or an integer")
    if isinstance(value, str) and not _SECONDS.fullmatch(value):
        return _parse_go_duration(value) // _NANOSECONDS_PER_SECOND
    seconds = int(value)
    if seconds < 0:
        raise ValueError(f"time: negative duration {seconds} not allowed")
    if seconds > _MAX_SECONDS:
        raise ValueError(f"time: duration of {seconds} seconds is too long")
    return seconds


def _parse_go_duration(text: str) -> int:
    """Parse a Go duration string into nanoseconds (rounded down), rejecting negative ones."""
    quoted = _quote(text)
    negative = text.startswith("-")
    rest = text[1:] if text[:1] in ("-", "+") else text
    if rest == "0":  # Go's special case: a bare zero needs no unit.
        return 0
    if not rest:
        raise ValueError(f"time: invalid duration {quoted}")
    total = Fraction(0)
    while rest:
        match = _COMPONENT.match(rest)
        # The pattern can match the empty string, so "no digits" is checked explicitly.
        if match is None or not (match.group(1) or match.group(2)):
            raise ValueError(f"time: invalid duration {quoted}")
        whole, fraction, unit = match.group(1), match.group(2) or "", match.group(3)
        if not unit:
            raise ValueError(f"time: missing unit in duration {quoted}")
        if unit not in _UNIT_NANOSECONDS:
            raise ValueError(f"time: unknown unit {_quote(unit)} in duration {quoted}")
        number = Fraction(int(whole or "0"))
        if fraction:
            number += Fraction(int(fraction), 10 ** len(fraction))
        total += number * _UNIT_NANOSECONDS[unit]
        rest = rest[match.end() :]
    if total > _MAX_NANOSECONDS:
        raise ValueError(f"time: invalid duration {quoted}")
    if negative and total:
        raise ValueError(f"time: negative duration {quoted} not allowed")
    return int(total)  # int() truncates toward zero: fractions of a nanosecond are dropped.


def _quote(text: str) -> str:
    """Quote a value for an error message like Go's ``strconv.Quote`` would."""
    return json.dumps(text, ensure_ascii=False)


def go_duration(seconds: int) -> str:
    """Go's ``time.Duration.String`` for whole seconds: ``0s``, ``1m30s``, ``768h0m0s``."""
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"
