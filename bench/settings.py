"""The benchmark's knobs, read once from the environment (``make bench VAR=...`` works too).

=====================  =========  ==============================================================
Variable               Default    Meaning
=====================  =========  ==============================================================
BENCH_DURATION         10         seconds of load per measured run
BENCH_ROUNDS           3          rounds; every scenario runs once per peer per round
BENCH_CONNECTIONS      32         wrk connections (one wrk thread)
BENCH_WARMUP           2          seconds of unmeasured load per scenario and peer before round 1
BENCH_KV_SECRETS       100000     secrets seeded for the random-key read scenario
BENCH_UNSEAL_SIZES     10000,100000  stored secrets for the unseal-to-ready scenario
BENCH_SCENARIOS        (all)      comma-separated keys to run: ceiling,s1,...,s8
BENCH_WORKERS          0          Hush (and ceiling) worker processes; 0: one per core, as
                                  ``hush server -workers=0`` in production
BENCH_OPENBAO_STORAGE  raft       OpenBao's storage: ``raft`` (on disk, initialised and unsealed
                                  like Hush on SQLite) or ``inmem`` (``bao server -dev``)
PROFILE                0          1: also record py-spy profiles of every Hush scenario
BENCH_PROFILE_MISSES   1          1: profile the Hush scenarios whose targets were missed
BENCH_DOCS             1          0: do not append the results to docs/benchmarks.md
BENCH_KEEP             0          1: keep the work directory (server logs, audit logs)
BENCH_NICE             -10 as     niceness of the bench and every process it starts (servers,
                       root, else 0  wrk), so background jobs disturb the figures less
=====================  =========  ==============================================================
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["ALL_SCENARIOS", "Settings"]

ALL_SCENARIOS = ("ceiling", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8")


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip().lower().removesuffix("s")
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SystemExit(f"{name} must be a number, not {env[name]!r}") from None
    if value < 0:
        raise SystemExit(f"{name} must not be negative")
    return value


def _integer(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    try:
        return int(raw) if raw else default
    except ValueError:
        raise SystemExit(f"{name} must be an integer, not {raw!r}") from None


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    return default if not raw else raw in ("1", "true", "yes", "on")


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return choices[0]
    if raw not in choices:
        raise SystemExit(f"{name} must be one of {list(choices)}, not {raw!r}")
    return raw


@dataclass(frozen=True, slots=True)
class Settings:
    """Every knob of one benchmark run."""

    duration_s: float = 10.0
    rounds: int = 3
    connections: int = 32
    warmup_s: float = 2.0
    kv_secrets: int = 100_000
    unseal_sizes: tuple[int, ...] = (10_000, 100_000)
    scenarios: tuple[str, ...] = ALL_SCENARIOS
    profile: bool = False
    profile_misses: bool = True
    write_docs: bool = True
    keep: bool = False
    nice: int = 0
    workers: int = 0
    openbao_storage: str = "raft"

    @property
    def worker_count(self) -> int:
        """The worker processes Hush and the ceiling apps run (``0`` resolved to the cores)."""
        if self.workers:
            return self.workers
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # pragma: no cover - not Linux
            return max(1, os.cpu_count() or 1)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Settings from ``BENCH_*`` and ``PROFILE`` variables (see the module docstring)."""
        env = os.environ if env is None else env
        sizes = tuple(
            int(part)
            for part in env.get("BENCH_UNSEAL_SIZES", "").replace(" ", "").split(",")
            if part
        )
        chosen = tuple(
            part
            for part in env.get("BENCH_SCENARIOS", "").replace(" ", "").lower().split(",")
            if part
        )
        unknown = sorted(set(chosen) - set(ALL_SCENARIOS))
        if unknown:
            raise SystemExit(f"unknown scenario(s) {unknown}; choose from {list(ALL_SCENARIOS)}")
        return cls(
            duration_s=max(1.0, _number(env, "BENCH_DURATION", 10.0)),
            rounds=max(1, int(_number(env, "BENCH_ROUNDS", 3))),
            connections=max(1, int(_number(env, "BENCH_CONNECTIONS", 32))),
            warmup_s=_number(env, "BENCH_WARMUP", 2.0),
            kv_secrets=max(1, int(_number(env, "BENCH_KV_SECRETS", 100_000))),
            unseal_sizes=sizes or (10_000, 100_000),
            scenarios=chosen or ALL_SCENARIOS,
            profile=_flag(env, "PROFILE", False),
            profile_misses=_flag(env, "BENCH_PROFILE_MISSES", True),
            write_docs=_flag(env, "BENCH_DOCS", True),
            keep=_flag(env, "BENCH_KEEP", False),
            nice=_integer(env, "BENCH_NICE", -10 if os.geteuid() == 0 else 0),
            workers=max(0, _integer(env, "BENCH_WORKERS", 0)),
            openbao_storage=_choice(env, "BENCH_OPENBAO_STORAGE", ("raft", "inmem")),
        )
