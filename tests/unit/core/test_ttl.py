"""TTL parsing: Vault's seconds-or-Go-duration syntax, checked by example and by property."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hush.core.ttl import go_duration, parse_ttl

PROPERTIES = settings(deadline=None)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (0, 0),
        (3600, 3600),
        ("0", 0),
        ("90", 90),
        ("+90", 90),
        ("768h", 768 * 3600),
        ("1h30m", 5400),
        ("90s", 90),
        ("10m", 600),
        ("1.5h", 5400),
        (".5m", 30),
        ("1.s", 1),
        ("1500ms", 1),
        ("999ms", 0),
        ("2000000us", 2),
        ("2000000\u00b5s", 2),
        ("2000000\u03bcs", 2),
        ("3000000000ns", 3),
        ("7d", 7 * 86400),
        ("1d12h", 36 * 3600),
        ("1h1h", 7200),
        ("-0", 0),
        ("-0s", 0),
    ],
)
def test_valid_ttls(value: str | int, seconds: int) -> None:
    assert parse_ttl(value) == seconds


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", 'time: invalid duration ""'),
        ("1x", 'time: unknown unit "x" in duration "1x"'),
        ("1h5y", 'time: unknown unit "y" in duration "1h5y"'),
        ("1.5", 'time: missing unit in duration "1.5"'),
        ("1h30", 'time: missing unit in duration "1h30"'),
        ("h", 'time: invalid duration "h"'),
        (".h", 'time: invalid duration ".h"'),
        ("-", 'time: invalid duration "-"'),
        ("abc", 'time: invalid duration "abc"'),
        ("1 h", 'time: unknown unit " h" in duration "1 h"'),
        ("-1h", 'time: negative duration "-1h" not allowed'),
        ("-5", "time: negative duration -5 not allowed"),
        (-5, "time: negative duration -5 not allowed"),
        ("\u00b2", 'time: invalid duration "\u00b2"'),  # a digit to str.isdigit(), not to Go
        ("2562048h", 'time: invalid duration "2562048h"'),  # beyond Go's int64 nanoseconds
        (10**12, "too long"),
    ],
)
def test_invalid_ttls_have_go_style_messages(value: str | int, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_ttl(value)
    assert message in str(caught.value)


@pytest.mark.parametrize("value", [True, False, 1.5, None, b"1h"])
def test_values_of_other_types_are_refused(value: object) -> None:
    with pytest.raises(ValueError, match="expected a string or an integer"):
        parse_ttl(value)  # type: ignore[arg-type]


@PROPERTIES
@given(
    hours=st.integers(min_value=0, max_value=100_000),
    minutes=st.integers(min_value=0, max_value=10_000),
    seconds=st.integers(min_value=0, max_value=10_000),
)
def test_hours_minutes_seconds_add_up(hours: int, minutes: int, seconds: int) -> None:
    expected = hours * 3600 + minutes * 60 + seconds
    assert parse_ttl(f"{hours}h{minutes}m{seconds}s") == expected
    assert parse_ttl(f"{seconds}s{hours}h{minutes}m") == expected


@PROPERTIES
@given(st.integers(min_value=0, max_value=9_000_000_000))
def test_whole_seconds_read_the_same_as_int_string_and_duration(seconds: int) -> None:
    assert parse_ttl(seconds) == seconds
    assert parse_ttl(str(seconds)) == seconds
    assert parse_ttl(f"{seconds}s") == seconds


@PROPERTIES
@given(st.integers(min_value=0, max_value=9 * 10**12))
def test_sub_second_units_round_down(milliseconds: int) -> None:
    assert parse_ttl(f"{milliseconds}ms") == milliseconds // 1000
    assert parse_ttl(f"{milliseconds}us") == milliseconds // 1_000_000


@PROPERTIES
@given(
    whole=st.integers(min_value=0, max_value=1000),
    fraction=st.text(alphabet="0123456789", min_size=1, max_size=12),
)
def test_fractional_hours_are_exact_then_rounded_down(whole: int, fraction: str) -> None:
    exact_seconds = (int(whole) * 10 ** len(fraction) + int(fraction)) * 3600
    assert parse_ttl(f"{whole}.{fraction}h") == exact_seconds // 10 ** len(fraction)


@PROPERTIES
@given(st.integers(min_value=1, max_value=100_000))
def test_days_are_24_hours(days: int) -> None:
    assert parse_ttl(f"{days}d") == parse_ttl(f"{days * 24}h") == days * 86400


@PROPERTIES
@given(st.text(max_size=30))
def test_any_text_is_a_duration_or_a_value_error(text: str) -> None:
    try:
        seconds = parse_ttl(text)
    except ValueError:
        return
    assert isinstance(seconds, int)
    assert seconds >= 0


@PROPERTIES
@given(st.text(alphabet="0123456789.+-hmsdnuµx ", max_size=20))
def test_duration_like_text_is_a_duration_or_a_value_error(text: str) -> None:
    try:
        seconds = parse_ttl(text)
    except ValueError as error:
        assert str(error).startswith("time: ")
        return
    assert seconds >= 0


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (45, "45s"), (90, "1m30s"), (3600, "1h0m0s"), (768 * 3600 + 61, "768h1m1s")],
)
def test_go_duration_formats_like_go(seconds: int, text: str) -> None:
    assert go_duration(seconds) == text
