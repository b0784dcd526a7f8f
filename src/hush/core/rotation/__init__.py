"""Rotation scheduling shared by engines (awssm, and later ssm and database static roles).

* :mod:`.due` — a due-time index in a backend's storage view;
* :mod:`.schedule` — AWS ``RotationRules`` (``rate(...)``, ``cron(...)``, ``Duration``) to due
  times, staggered over the rotation window;
* :mod:`.cron` — AWS's six-field cron expressions.
"""

from __future__ import annotations

from hush.core.rotation.cron import CronError, CronExpression, parse_cron
from hush.core.rotation.due import DueEntry, DueIndex
from hush.core.rotation.schedule import (
    RotationSchedule,
    ScheduleError,
    parse_rules,
    stagger_offset,
)

__all__ = [
    "CronError",
    "CronExpression",
    "DueEntry",
    "DueIndex",
    "RotationSchedule",
    "ScheduleError",
    "parse_cron",
    "parse_rules",
    "stagger_offset",
]
