"""Lease TTL arithmetic (pure): defaults, caps and renewal, as Vault computes them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hush.core.errors import InvalidRequest
from hush.core.expiration.limits import LeaseLimits, initial_ttl, renewal

HOUR = 3600


def test_mount_tune_falls_back_to_the_system_and_never_exceeds_it() -> None:
    assert LeaseLimits.for_mount({}) == LeaseLimits(768 * HOUR, 768 * HOUR)
    assert LeaseLimits.for_mount({"default_lease_ttl": 60, "max_lease_ttl": 120}) == LeaseLimits(
        60, 120
    )
    # A default above the mount's max is cut to the max; a mount max above the system's too.
    assert (
        LeaseLimits.for_mount({"default_lease_ttl": 500, "max_lease_ttl": 120}).default_ttl == 120
    )
    assert LeaseLimits.for_mount({"max_lease_ttl": 10 * HOUR}, HOUR, 2 * HOUR).max_ttl == 2 * HOUR
    assert LeaseLimits.for_mount({}, HOUR, 2 * HOUR) == LeaseLimits(HOUR, 2 * HOUR)


def test_initial_ttl() -> None:
    limits = LeaseLimits(100, 200)
    assert initial_ttl(0, 0, limits) == 100
    assert initial_ttl(150, 0, limits) == 150
    assert initial_ttl(500, 0, limits) == 200
    assert initial_ttl(500, 50, limits) == 50


def test_renewal_prefers_increment_then_backend_ttl_then_default() -> None:
    limits = LeaseLimits(100, 10_000)
    common = {"now": 1000.0, "issue_time": 1000.0, "lease_max_ttl": 0, "limits": limits}
    assert renewal(increment=60, backend_ttl=30, **common).ttl == 60  # type: ignore[arg-type]
    assert renewal(increment=0, backend_ttl=30, **common).ttl == 30  # type: ignore[arg-type]
    assert renewal(increment=0, backend_ttl=0, **common).ttl == 100  # type: ignore[arg-type]


def test_renewal_is_cut_at_the_max_ttl_from_issue_with_vaults_warning() -> None:
    outcome = renewal(
        now=1100.0,
        issue_time=1000.0,
        increment=HOUR,
        backend_ttl=0,
        lease_max_ttl=300,
        limits=LeaseLimits(100, 10_000),
    )
    assert outcome.ttl == 200
    assert outcome.warnings == (
        'TTL of "1h0m0s" exceeded the effective max_ttl of "3m20s"; '
        "TTL value is capped accordingly",
    )
    with pytest.raises(InvalidRequest, match="past the max TTL, cannot renew"):
        renewal(
            now=1300.0,
            issue_time=1000.0,
            increment=10,
            backend_ttl=0,
            lease_max_ttl=300,
            limits=LeaseLimits(100, 10_000),
        )


@given(
    elapsed=st.integers(0, 10_000),
    increment=st.integers(0, 100_000),
    backend_ttl=st.integers(0, 100_000),
    lease_max=st.integers(0, 100_000),
    mount_max=st.integers(1, 100_000),
)
def test_a_renewed_lease_never_outlives_its_effective_max(
    elapsed: int, increment: int, backend_ttl: int, lease_max: int, mount_max: int
) -> None:
    limits = LeaseLimits(min(50, mount_max), mount_max)
    cap = min(lease_max, mount_max) if lease_max else mount_max
    try:
        outcome = renewal(
            now=float(elapsed),
            issue_time=0.0,
            increment=increment,
            backend_ttl=backend_ttl,
            lease_max_ttl=lease_max,
            limits=limits,
        )
    except InvalidRequest:
        assert elapsed >= cap
        return
    assert elapsed + outcome.ttl <= cap
    assert outcome.ttl >= 0
    assert bool(outcome.warnings) == (
        outcome.ttl < (increment or backend_ttl or limits.default_ttl)
    )
