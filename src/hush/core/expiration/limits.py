"""Lease TTL arithmetic: defaults and caps from the mount's tune and the system (pure functions).

The rules are Vault's: a secret's TTL is what the backend asked for, else the mount's
``default_lease_ttl``, else the system default; it never exceeds the backend's max TTL for the
lease, the mount's ``max_lease_ttl`` or the system maximum. On renewal (Vault's
``framework.CalculateTTL``) the caller's ``increment`` wins over the backend's TTL, and the result
is cut so the lease never outlives ``issue_time`` plus the effective max TTL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hush.core.errors import InvalidRequest
from hush.core.ttl import go_duration

__all__ = [
    "SYSTEM_DEFAULT_TTL",
    "SYSTEM_MAX_TTL",
    "LeaseLimits",
    "Renewal",
    "initial_ttl",
    "renewal",
]

SYSTEM_DEFAULT_TTL = 768 * 3600  # Vault's defaults: 32 days for both.
SYSTEM_MAX_TTL = 768 * 3600


@dataclass(frozen=True, slots=True)
class LeaseLimits:
    """The default and maximum TTL that apply on one mount."""

    default_ttl: int
    max_ttl: int

    @classmethod
    def for_mount(
        cls,
        config: Mapping[str, Any],
        system_default: int = SYSTEM_DEFAULT_TTL,
        system_max: int = SYSTEM_MAX_TTL,
    ) -> LeaseLimits:
        """The mount's tune values, falling back to (and never above) the system's."""
        maximum = min(int(config.get("max_lease_ttl") or 0) or system_max, system_max)
        default = int(config.get("default_lease_ttl") or 0) or system_default
        return cls(min(default, maximum), maximum)

    def cap(self, lease_max_ttl: int) -> int:
        """The effective max TTL of a lease whose backend set ``lease_max_ttl`` (0: none)."""
        return min(lease_max_ttl, self.max_ttl) if lease_max_ttl > 0 else self.max_ttl


def initial_ttl(requested: int, lease_max_ttl: int, limits: LeaseLimits) -> int:
    """The TTL a new lease gets."""
    return min(requested if requested > 0 else limits.default_ttl, limits.cap(lease_max_ttl))


@dataclass(frozen=True, slots=True)
class Renewal:
    """The outcome of a renewal: the TTL granted from now, and Vault's capping warning if any."""

    ttl: int
    warnings: tuple[str, ...] = ()


def renewal(
    *,
    now: float,
    issue_time: float,
    increment: int,
    backend_ttl: int,
    lease_max_ttl: int,
    limits: LeaseLimits,
) -> Renewal:
    """The TTL a renewal grants; refuses when the lease is already past its max TTL."""
    if increment > 0:
        ttl = increment
    elif backend_ttl > 0:
        ttl = backend_ttl
    else:
        ttl = limits.default_ttl
    max_valid = issue_time + limits.cap(lease_max_ttl)
    if max_valid <= now:
        raise InvalidRequest("past the max TTL, cannot renew")
    remaining = int(max_valid - now)
    if ttl <= remaining:
        return Renewal(ttl)
    return Renewal(
        remaining,
        (
            f'TTL of "{go_duration(ttl)}" exceeded the effective max_ttl of '
            f'"{go_duration(remaining)}"; TTL value is capped accordingly',
        ),
    )
