"""AWS ``cron(...)`` expressions (six fields: minutes hours day-of-month month day-of-week year).

Supported per field: ``*``, ``?`` (day fields), numbers, ranges ``a-b``, lists ``a,b``, steps
``*/n`` and ``a/n``, month names ``JAN``-``DEC`` and day names ``SUN``-``SAT`` (AWS numbers days
1-7 from Sunday). ``L``, ``W`` and ``#`` are refused with a clear message. As AWS requires, one of
day-of-month and day-of-week must be ``?``.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Final

__all__ = ["CronError", "CronExpression", "parse_cron"]

_MONTHS: Final = {
    m: i + 1
    for i, m in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    )
}
_DAYS: Final = {d: i + 1 for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])}
_BOUNDS: Final = ((0, 59), (0, 23), (1, 31), (1, 12), (1, 7), (1970, 2199))
_NAMES: Final = ("minutes", "hours", "day-of-month", "month", "day-of-week", "year")
_SEARCH_DAYS: Final = 366 * 5


class CronError(ValueError):
    """A cron expression Hush cannot use; the message says what to fix."""


@dataclass(frozen=True, slots=True)
class CronExpression:
    """The allowed values of each field (``None``: any, for ``?``)."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days_of_month: frozenset[int] | None
    months: frozenset[int]
    days_of_week: frozenset[int] | None
    years: frozenset[int]

    def _day_matches(self, day: datetime.date) -> bool:
        if day.month not in self.months or day.year not in self.years:
            return False
        if self.days_of_month is not None and day.day not in self.days_of_month:
            return False
        aws_weekday = (day.weekday() + 1) % 7 + 1  # Monday=0 in Python; Sunday=1 in AWS
        return self.days_of_week is None or aws_weekday in self.days_of_week

    def next_after(self, moment: datetime.datetime) -> datetime.datetime | None:
        """The first firing time strictly after ``moment`` (UTC), or ``None`` within 5 years."""
        start = moment.astimezone(datetime.UTC).replace(second=0, microsecond=0)
        start += datetime.timedelta(minutes=1)
        day = start.date()
        for _ in range(_SEARCH_DAYS):
            if self._day_matches(day):
                for hour in sorted(self.hours):
                    for minute in sorted(self.minutes):
                        candidate = datetime.datetime(
                            day.year, day.month, day.day, hour, minute, tzinfo=datetime.UTC
                        )
                        if candidate >= start:
                            return candidate
            day += datetime.timedelta(days=1)
        return None


def _value(token: str, index: int) -> int:
    names = _MONTHS if index == 3 else _DAYS if index == 4 else {}
    if token.upper() in names:
        return names[token.upper()]
    if not token.isdigit():
        raise CronError(f"invalid value {token!r} in the {_NAMES[index]} field")
    low, high = _BOUNDS[index]
    number = int(token)
    if not low <= number <= high:
        raise CronError(f"{_NAMES[index]} must be between {low} and {high}, not {number}")
    return number


def _field(text: str, index: int) -> frozenset[int] | None:
    if text == "?":
        if index not in (2, 4):
            raise CronError(
                f"'?' is allowed only in day-of-month and day-of-week, not {_NAMES[index]}"
            )
        return None
    bare = text.upper()
    for name in (*_MONTHS, *_DAYS):
        bare = bare.replace(name, "")
    if any(mark in bare for mark in ("L", "W", "#")):
        raise CronError(f"'L', 'W' and '#' are not supported ({_NAMES[index]} field: {text!r})")
    low, high = _BOUNDS[index]
    values: set[int] = set()
    for item in text.split(","):
        step = 1
        part = item
        if "/" in item:
            part, step_text = item.split("/", 1)
            if not step_text.isdigit() or int(step_text) == 0:
                raise CronError(f"invalid step {step_text!r} in the {_NAMES[index]} field")
            step = int(step_text)
        if part == "*":
            first, last = low, high
        elif "-" in part:
            a, b = part.split("-", 1)
            first, last = _value(a, index), _value(b, index)
        else:
            first = _value(part, index)
            last = high if step != 1 else first
        if first > last:
            raise CronError(f"range {part!r} runs backwards in the {_NAMES[index]} field")
        values.update(range(first, last + 1, step))
    return frozenset(values)


def parse_cron(expression: str) -> CronExpression:
    """Parse the inside of ``cron(...)``."""
    fields = expression.split()
    if len(fields) != 6:
        raise CronError(
            "a cron expression has six fields: minutes hours day-of-month month day-of-week year"
        )
    parsed = [_field(text, i) for i, text in enumerate(fields)]
    if (parsed[2] is None) == (parsed[4] is None):
        raise CronError("exactly one of day-of-month and day-of-week must be '?'")
    minutes, hours, months, years = parsed[0], parsed[1], parsed[3], parsed[5]
    assert minutes is not None and hours is not None and months is not None and years is not None
    return CronExpression(minutes, hours, parsed[2], months, parsed[4], years)
