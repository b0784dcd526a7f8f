"""Rotation schedules: AWS ``RotationRules`` turned into due times, with staggering.

``RotationRules`` has ``AutomaticallyAfterDays`` (1-1000) or ``ScheduleExpression`` —
``rate(N days)`` (1-1000), ``rate(N hours)`` (4-23) or
``cron(...)`` (:mod:`.cron`) — and an optional ``Duration`` (``"3h"``, 1-24 hours): the rotation
window. As in AWS, a window in days closes at the end of the UTC day unless ``Duration`` is
shorter; one in hours closes after an hour.

Staggering: many secrets whose windows open together would all rotate at the window's first
tick. Each secret instead rotates at a fixed, pseudo-random offset into its window (from a hash
of its name), so a thousand secrets due at midnight spread evenly across the window.
"""

from __future__ import annotations

import datetime
import hashlib
import re
from dataclasses import dataclass
from typing import Any, Final

from hush.core.rotation.cron import CronError, CronExpression, parse_cron

__all__ = ["RotationSchedule", "ScheduleError", "parse_rules", "stagger_offset"]

_RATE: Final = re.compile(r"rate\(\s*(\d+)\s+(day|days|hour|hours)\s*\)")
_CRON: Final = re.compile(r"cron\((.*)\)")
_DURATION: Final = re.compile(r"(\d+)h")
_DAY: Final = 86400
_HOUR: Final = 3600


class ScheduleError(ValueError):
    """Rotation rules that cannot be used; the message names the field and the fix."""


@dataclass(frozen=True, slots=True)
class RotationSchedule:
    """When rotation windows open and how long each stays open."""

    every_seconds: int = 0
    cron: CronExpression | None = None
    window_seconds: int = 0
    in_days: bool = True

    def window_after(self, last: float) -> tuple[float, float]:
        """The next window ``(opens, closes)`` after a rotation at ``last`` (epoch seconds)."""
        if self.cron is not None:
            moment = datetime.datetime.fromtimestamp(last, datetime.UTC)
            fire = self.cron.next_after(moment)
            if fire is None:
                raise ScheduleError("the cron expression never fires in the next five years")
            opens = fire.timestamp()
        elif self.in_days:
            due = last + self.every_seconds
            opens = due - due % _DAY  # a window in days opens at midnight UTC
        else:
            opens = last + self.every_seconds
        length: float
        if self.window_seconds:
            length = self.window_seconds
        elif self.in_days:
            length = _DAY - opens % _DAY  # until the end of that UTC day
        else:
            length = _HOUR
        return opens, opens + length

    def due_after(self, name: str, last: float) -> float:
        """When ``name`` rotates next: its staggered moment inside the next window."""
        opens, closes = self.window_after(last)
        return opens + stagger_offset(name, closes - opens)


def stagger_offset(name: str, window: float) -> float:
    """A stable offset in ``[0, window)`` for ``name`` (uniform over names)."""
    if window <= 0:
        return 0.0
    fraction = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") / 2**64
    return fraction * window


def _duration(raw: Any) -> int:
    if raw is None:
        return 0
    found = _DURATION.fullmatch(str(raw)) if isinstance(raw, str) else None
    if found is None or not 1 <= int(found[1]) <= 24:
        raise ScheduleError('RotationRules.Duration must be between 1h and 24h, such as "3h"')
    return int(found[1]) * _HOUR


def parse_rules(rules: dict[str, Any]) -> RotationSchedule:
    """Turn ``RotationRules`` into a schedule (raises :class:`ScheduleError`)."""
    days = rules.get("AutomaticallyAfterDays")
    expression = rules.get("ScheduleExpression")
    window = _duration(rules.get("Duration"))
    if days is not None and expression is not None:
        raise ScheduleError("You can't specify both AutomaticallyAfterDays and ScheduleExpression.")
    if days is not None:
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 1000:
            raise ScheduleError("RotationRules.AutomaticallyAfterDays must be between 1 and 1000")
        return RotationSchedule(every_seconds=days * _DAY, window_seconds=window)
    if not isinstance(expression, str) or not expression:
        raise ScheduleError(
            "RotationRules needs AutomaticallyAfterDays or a ScheduleExpression such as "
            "rate(30 days) or cron(0 16 1,15 * ? *)"
        )
    rate = _RATE.fullmatch(expression.strip())
    if rate is not None:
        count, unit = int(rate[1]), rate[2]
        if unit.startswith("day"):
            if not 1 <= count <= 1000:
                raise ScheduleError("rate(N days) needs N between 1 and 1000")
            return RotationSchedule(every_seconds=count * _DAY, window_seconds=window)
        if not 4 <= count <= 23:
            raise ScheduleError("rate(N hours) needs N between 4 and 23")
        if window > count * _HOUR:
            raise ScheduleError("The rotation window (Duration) must be shorter than the rate")
        return RotationSchedule(every_seconds=count * _HOUR, window_seconds=window, in_days=False)
    cron = _CRON.fullmatch(expression.strip())
    if cron is None:
        raise ScheduleError(f"ScheduleExpression {expression!r} is neither rate(...) nor cron(...)")
    try:
        parsed = parse_cron(cron[1])
    except CronError as exc:
        raise ScheduleError(f"ScheduleExpression: {exc}") from None
    return RotationSchedule(cron=parsed, window_seconds=window, in_days=len(parsed.hours) == 24)
