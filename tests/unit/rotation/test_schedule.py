"""Rotation schedules: AWS rate/cron expressions, rotation windows and staggering."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hush.core.rotation import ScheduleError, parse_cron, parse_rules, stagger_offset

DAY = 86400


def _ts(*args: int) -> float:
    return datetime.datetime(*args, tzinfo=datetime.UTC).timestamp()


def test_rate_in_days_opens_at_midnight_and_closes_at_end_of_day() -> None:
    schedule = parse_rules({"ScheduleExpression": "rate(30 days)"})
    opens, closes = schedule.window_after(_ts(2026, 1, 1, 15, 30))
    assert opens == _ts(2026, 1, 31)
    assert closes == _ts(2026, 2, 1)


def test_duration_shortens_the_window() -> None:
    schedule = parse_rules({"AutomaticallyAfterDays": 7, "Duration": "3h"})
    opens, closes = schedule.window_after(_ts(2026, 1, 1, 12))
    assert (opens, closes) == (_ts(2026, 1, 8), _ts(2026, 1, 8, 3))


def test_rate_in_hours_window_is_one_hour_by_default() -> None:
    schedule = parse_rules({"ScheduleExpression": "rate(6 hours)"})
    opens, closes = schedule.window_after(_ts(2026, 1, 1, 12, 10))
    assert (opens, closes) == (_ts(2026, 1, 1, 18, 10), _ts(2026, 1, 1, 19, 10))


def test_cron_fires_at_the_next_matching_minute() -> None:
    # 16:00 UTC on the 1st and 15th of every month.
    schedule = parse_rules({"ScheduleExpression": "cron(0 16 1,15 * ? *)", "Duration": "2h"})
    opens, closes = schedule.window_after(_ts(2026, 3, 1, 16, 0))
    assert (opens, closes) == (_ts(2026, 3, 15, 16), _ts(2026, 3, 15, 18))


def test_cron_day_of_week_names_and_steps() -> None:
    cron = parse_cron("0/30 8-9 ? * MON-FRI 2026")
    fire = cron.next_after(datetime.datetime(2026, 1, 3, 12, tzinfo=datetime.UTC))  # Saturday
    assert fire == datetime.datetime(2026, 1, 5, 8, 0, tzinfo=datetime.UTC)  # Monday
    assert cron.next_after(fire) == datetime.datetime(2026, 1, 5, 8, 30, tzinfo=datetime.UTC)
    assert cron.next_after(datetime.datetime(2027, 1, 1, tzinfo=datetime.UTC)) is None


@pytest.mark.parametrize(
    "rules",
    [
        {},
        {"AutomaticallyAfterDays": 0},
        {"AutomaticallyAfterDays": 1001},
        {"AutomaticallyAfterDays": 5, "ScheduleExpression": "rate(5 days)"},
        {"ScheduleExpression": "rate(2 hours)"},
        {"ScheduleExpression": "rate(10 weeks)"},
        {"ScheduleExpression": "cron(0 16 * * * *)"},
        {"ScheduleExpression": "cron(0 16 L * ? *)"},
        {"ScheduleExpression": "cron(0 25 1 * ? *)"},
        {"ScheduleExpression": "cron(0 16 1 *)"},
        {"ScheduleExpression": "rate(1 days)", "Duration": "25h"},
        {"ScheduleExpression": "rate(6 hours)", "Duration": "7h"},
    ],
)
def test_bad_rules_are_refused_with_a_message(rules: dict[str, object]) -> None:
    with pytest.raises(ScheduleError) as exc:
        parse_rules(rules)
    assert str(exc.value)


def test_many_secrets_due_together_are_spread_over_the_window() -> None:
    schedule = parse_rules({"ScheduleExpression": "rate(1 days)", "Duration": "4h"})
    last = _ts(2026, 5, 1, 9)
    opens, closes = schedule.window_after(last)
    due = [schedule.due_after(f"app/secret-{i}", last) for i in range(2000)]
    assert all(opens <= d < closes for d in due)
    buckets = [0] * 8
    for d in due:
        buckets[int((d - opens) / (closes - opens) * 8)] += 1
    assert min(buckets) > 2000 / 8 * 0.75, buckets
    assert max(buckets) < 2000 / 8 * 1.25, buckets


@given(st.text(min_size=1, max_size=50), st.floats(min_value=1, max_value=10 * DAY))
def test_stagger_offset_is_stable_and_inside_the_window(name: str, window: float) -> None:
    offset = stagger_offset(name, window)
    assert 0 <= offset < window
    assert stagger_offset(name, window) == offset
