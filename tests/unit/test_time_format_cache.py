"""The per-second caches of the RFC3339Nano formatters give exactly the uncached text.

Audit ``time`` fields and KV v2 version times keep their format byte for byte: checked against a
direct ``strftime`` rendering, over more distinct seconds than the caches keep (so they are
emptied and refilled on the way), twice (cache hits the second time).
"""

from __future__ import annotations

import time

import pytest

from hush.core.audit.entry import format_time
from hush.engines.kv.v2_model import rfc3339_nano


def _reference(ns: int) -> str:
    seconds, fraction = divmod(ns, 1_000_000_000)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    if fraction:
        text += "." + f"{fraction:09d}".rstrip("0")
    return text + "Z"


STAMPS = [
    (1_700_000_000 + n * 7919) * 1_000_000_000 + fraction
    for n in range(5000)
    for fraction in (0, 1, 120_000_000, 123_456_789)
]


@pytest.mark.parametrize("formatter", [format_time, rfc3339_nano])
def test_cached_formatting_matches_strftime(formatter: object) -> None:
    assert callable(formatter)
    for _ in range(2):
        for ns in STAMPS:
            assert formatter(ns) == _reference(ns)


def test_zero_is_the_epoch_for_audit_and_empty_for_kv() -> None:
    assert format_time(0) == "1970-01-01T00:00:00Z"
    assert rfc3339_nano(0) == ""


def test_now_is_formatted_like_any_stamp() -> None:
    before = time.time_ns()
    text = format_time()
    assert text.endswith("Z") and text[:19] >= _reference(before)[:19]
