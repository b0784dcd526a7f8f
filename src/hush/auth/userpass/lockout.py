"""User lockout for userpass (Vault's ``user_lockout``): too many failed logins lock a name.

Defaults match Vault: 5 failures lock the user for 15 minutes; a failure older than 15 minutes
no longer counts. The mount's settings come from its tune config (``user_lockout_config`` with
Vault's ``lockout_threshold``/``lockout_duration``/``lockout_counter_reset``/``lockout_disable``
keys, or the flat ``user_lockout_*`` keys in its config or options).

Counters live in the mount's storage (``lockout/<name>``), so they survive restarts and every
node sees them. Names are counted whether or not the user exists, so an unknown user's failure
does the same work as a known one's and costs the same time; :meth:`LockoutTracker.tidy` drops
counters once they no longer matter.

Concurrent guesses cannot overshoot the threshold: an attempt is *reserved* before its password
is checked, then recorded as a failure or cleared on success. Failures stored plus attempts in
flight on this node must stay under the threshold; an attempt that would cross it waits for the
ones in flight to finish (so legitimate parallel logins are delayed near the limit, not refused).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson

from hush.barrier.view import LogicalStorage
from hush.core.ttl import parse_ttl
from hush.framework.fields import Field, FieldType, coerce

__all__ = [
    "LOCKOUT_PREFIX",
    "Attempt",
    "FailureRecord",
    "LockoutPolicy",
    "LockoutTracker",
    "rfc3339",
]

LOCKOUT_PREFIX = "lockout/"
_STRIPES = 64
_BOOL = Field(FieldType.BOOL, "lockout_disable")
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    """A mount's lockout settings (seconds)."""

    threshold: int = 5
    duration: int = 15 * 60
    counter_reset: int = 15 * 60
    disabled: bool = False

    @classmethod
    def from_mount(cls, config: Mapping[str, Any], options: Mapping[str, Any]) -> LockoutPolicy:
        """The settings of a mount; a missing or unreadable value keeps Vault's default."""
        merged: dict[str, Any] = {}
        nested = config.get("user_lockout_config")
        if isinstance(nested, Mapping):
            merged.update({f"user_{key}": value for key, value in nested.items()})
        for source in (options, config):
            merged.update({k: v for k, v in source.items() if k.startswith("user_lockout_")})
        default = cls()
        return cls(
            threshold=_setting(merged, "user_lockout_threshold", _positive_int, default.threshold),
            duration=_setting(merged, "user_lockout_duration", _duration, default.duration),
            counter_reset=_setting(
                merged, "user_lockout_counter_reset", _duration, default.counter_reset
            ),
            disabled=_setting(merged, "user_lockout_disable", _boolean, default.disabled),
        )


def _setting(values: Mapping[str, Any], key: str, parse: Callable[[Any], _T], default: _T) -> _T:
    if values.get(key) in (None, ""):
        return default
    try:
        return parse(values[key])
    except (ValueError, TypeError, LookupError):
        return default


def _positive_int(value: Any) -> int:
    number = int(value)
    if number < 1:
        raise ValueError("threshold must be positive")
    return number


def _duration(value: Any) -> int:
    seconds = parse_ttl(value if isinstance(value, str | int) else int(value))
    if seconds < 1:
        raise ValueError("duration must be positive")
    return seconds


def _boolean(value: Any) -> bool:
    return bool(coerce("user_lockout_disable", _BOOL, value))


@dataclass(frozen=True, slots=True)
class FailureRecord:
    """Failed logins of one name: how many, and when the latest was."""

    count: int
    last_failed: float

    def current_count(self, policy: LockoutPolicy, now: float) -> int:
        """The failures that still count at ``now`` (0 once the lockout or reset window ends)."""
        if self.count >= policy.threshold:
            return self.count if now < self.last_failed + policy.duration else 0
        return self.count if now < self.last_failed + policy.counter_reset else 0


@dataclass(slots=True)
class Attempt:
    """One login attempt's lockout state; the handler sets ``succeeded`` when it passes."""

    allowed: bool
    tracked: bool
    succeeded: bool = False


class LockoutTracker:
    """Counts failed logins per name in storage and decides whether a name is locked out."""

    def __init__(
        self,
        storage: LogicalStorage,
        policy: Callable[[], LockoutPolicy],
        clock: Callable[[], float],
    ) -> None:
        self._storage = storage
        self._policy = policy
        self._clock = clock
        self._in_flight: dict[str, int] = {}
        # Striped conditions: bounded memory however many names are tried, little contention.
        self._conditions = [asyncio.Condition() for _ in range(_STRIPES)]

    def _lock(self, name: str) -> asyncio.Condition:
        return self._conditions[hash(name) % _STRIPES]

    async def _load(self, name: str) -> FailureRecord | None:
        blob = await self._storage.get(LOCKOUT_PREFIX + name)
        if blob is None:
            return None
        raw = orjson.loads(blob)
        return FailureRecord(int(raw["count"]), float(raw["last_failed"]))

    @contextlib.asynccontextmanager
    async def attempt(self, name: str) -> AsyncIterator[Attempt]:
        """Reserve a login attempt for ``name``; on exit record its outcome.

        ``allowed`` is false while the name is locked out; such an attempt must fail and is not
        counted (so it does not extend the lockout).
        """
        current = await self._begin(name)
        try:
            yield current
        finally:
            if current.tracked:
                await self._finish(name, current.succeeded)

    async def _begin(self, name: str) -> Attempt:
        policy = self._policy()
        if policy.disabled:
            return Attempt(allowed=True, tracked=False)
        condition = self._lock(name)
        async with condition:
            while True:
                record = await self._load(name)
                count = record.current_count(policy, self._clock()) if record else 0
                if count >= policy.threshold:
                    return Attempt(allowed=False, tracked=False)
                in_flight = self._in_flight.get(name, 0)
                if count + in_flight < policy.threshold:
                    self._in_flight[name] = in_flight + 1
                    return Attempt(allowed=True, tracked=True)
                await condition.wait()

    async def _finish(self, name: str, succeeded: bool) -> None:
        policy = self._policy()
        condition = self._lock(name)
        async with condition:
            condition.notify_all()
            remaining = self._in_flight.get(name, 1) - 1
            if remaining > 0:
                self._in_flight[name] = remaining
            else:
                self._in_flight.pop(name, None)
            # Store-wide lock: nodes and worker processes sharing the store never lose a count.
            async with self._storage.exclusive(LOCKOUT_PREFIX + name):
                record = await self._load(name)
                if succeeded:
                    if record is not None:
                        await self._storage.delete(LOCKOUT_PREFIX + name)
                    return
                now = self._clock()
                count = record.current_count(policy, now) if record else 0
                await self._storage.put(
                    LOCKOUT_PREFIX + name, orjson.dumps({"count": count + 1, "last_failed": now})
                )

    async def clear(self, name: str) -> bool:
        """Forget ``name``'s failures; whether it was locked out."""
        async with self._lock(name):
            record = await self._load(name)
            if record is None:
                return False
            await self._storage.delete(LOCKOUT_PREFIX + name)
        policy = self._policy()
        return record.current_count(policy, self._clock()) >= policy.threshold

    async def locked(self) -> list[tuple[str, FailureRecord]]:
        """Every name locked out now, sorted, with its failure record."""
        policy = self._policy()
        now = self._clock()
        found: list[tuple[str, FailureRecord]] = []
        for name in await self._storage.list(LOCKOUT_PREFIX):
            record = await self._load(name)
            if record is not None and record.current_count(policy, now) >= policy.threshold:
                found.append((name, record))
        return found

    async def tidy(self) -> int:
        """Delete counters that no longer count; returns how many went.

        Each name is re-read and deleted under its lock, so a failure recorded meanwhile stays.
        """
        policy = self._policy()
        removed = 0
        for name in await self._storage.list(LOCKOUT_PREFIX):
            async with self._lock(name):
                record = await self._load(name)
                if record is None or record.current_count(policy, self._clock()) > 0:
                    continue
                await self._storage.delete(LOCKOUT_PREFIX + name)
                removed += 1
        return removed


def rfc3339(moment: float) -> str:
    """A Unix time as Vault renders times (RFC 3339, UTC)."""
    return datetime.fromtimestamp(moment, UTC).isoformat().replace("+00:00", "Z")
