"""Running wrk and reading its results.

Every run uses one of the Lua scripts in ``bench/lua/`` with ``done.lua`` appended: its ``done``
hook prints one ``BENCH_JSON {...}`` line (requests, duration, error counts, p50/p90/p99/max in
microseconds), which is all this module parses. wrk's own text output is kept only for error
messages.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "WrkError",
    "WrkJob",
    "WrkResult",
    "parse_output",
    "run_wrk",
    "run_wrk_until",
    "wrk_available",
]

LUA_DIR = Path(__file__).parent / "lua"
SCRIPT_DIR = Path(__file__).parent / "out" / "lua"
_MARKER = "BENCH_JSON "
ERROR_TOLERANCE = 0.001  # fraction of failed requests a measured run may have


class WrkError(RuntimeError):
    """wrk failed, printed no summary, or the server answered errors."""


@dataclass(frozen=True, slots=True)
class WrkJob:
    """One wrk invocation: which script, against what, with which arguments and headers."""

    url: str
    script: str
    script_args: tuple[str, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    connections: int = 32
    threads: int = 1
    timeout_s: float = 10.0
    # Called right before every run (S7 re-signs its SigV4 pool so the dates stay current).
    prepare: Callable[[], None] | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class WrkResult:
    """What one wrk run measured (latencies in milliseconds)."""

    requests: int
    duration_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        """Completed requests per second."""
        return self.requests / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def error_count(self) -> int:
        """Socket errors, timeouts and non-2xx/3xx answers together."""
        return sum(self.errors.values())


def wrk_available() -> bool:
    """Whether a ``wrk`` binary is on ``PATH``."""
    return shutil.which("wrk") is not None


def _compose_script(name: str) -> Path:
    """``bench/lua/<name>.lua`` with ``done.lua`` appended, written under ``bench/out/lua``."""
    SCRIPT_DIR.mkdir(parents=True, exist_ok=True)
    target = SCRIPT_DIR / f"{name}.lua"
    body = (LUA_DIR / f"{name}.lua").read_text() + "\n" + (LUA_DIR / "done.lua").read_text()
    if not target.exists() or target.read_text() != body:
        target.write_text(body)
    return target


def parse_output(stdout: str) -> WrkResult:
    """The :class:`WrkResult` in wrk's output (the ``BENCH_JSON`` line of ``done.lua``)."""
    for line in stdout.splitlines():
        if line.startswith(_MARKER):
            raw = json.loads(line[len(_MARKER) :])
            errors = {
                name[len("errors_") :]: int(value)
                for name, value in raw.items()
                if name.startswith("errors_") and value
            }
            return WrkResult(
                requests=int(raw["requests"]),
                duration_s=raw["duration_us"] / 1e6,
                p50_ms=raw["p50_us"] / 1000,
                p90_ms=raw["p90_us"] / 1000,
                p99_ms=raw["p99_us"] / 1000,
                max_ms=raw["max_us"] / 1000,
                mean_ms=raw["mean_us"] / 1000,
                errors=errors,
            )
    raise WrkError(f"wrk printed no summary:\n{stdout[-2000:]}")


def _command(job: WrkJob, duration_s: float) -> list[str]:
    command = [
        "wrk",
        f"-t{job.threads}",
        f"-c{job.connections}",
        f"-d{max(1, round(duration_s))}s",
        f"--timeout={max(1, round(job.timeout_s))}s",
        "-s",
        str(_compose_script(job.script)),
    ]
    for name, value in job.headers:
        command += ["-H", f"{name}: {value}"]
    command.append(job.url)
    if job.script_args:
        command += ["--", *job.script_args]
    return command


def _run(job: WrkJob, duration_s: float) -> str:
    if job.prepare is not None:
        job.prepare()
    completed = subprocess.run(
        _command(job, duration_s),
        check=False,
        capture_output=True,
        text=True,
        timeout=duration_s + job.timeout_s + 60,
    )
    if completed.returncode != 0:
        raise WrkError(f"wrk exited {completed.returncode}: {completed.stderr.strip()[-2000:]}")
    return completed.stdout


def run_wrk(job: WrkJob, duration_s: float) -> WrkResult:
    """Run ``job`` for ``duration_s`` seconds; raise :class:`WrkError` on failed requests."""
    result = parse_output(_run(job, duration_s))
    if result.requests == 0:
        raise WrkError(f"wrk completed no request against {job.url}")
    # A stray socket error at the end of a run is tolerated; a misconfigured scenario (every
    # answer a 403, say) is not.
    if result.error_count > result.requests * ERROR_TOLERANCE:
        raise WrkError(
            f"{result.error_count} failed request(s) of {result.requests} against {job.url}: "
            f"{result.errors}"
        )
    return result


def run_wrk_until(job: WrkJob, marker: str, max_duration_s: float) -> str:
    """Run ``job`` until it prints a line starting with ``marker``; return that line.

    For scripts that finish by themselves (``seed``): wrk's main thread would otherwise sleep out
    the whole ``-d`` duration, so it is interrupted (SIGINT, its own "stop now") at the marker.
    """
    process = subprocess.Popen(
        _command(job, max_duration_s),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    found = ""
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith(marker):
                found = line.strip()
                process.send_signal(signal.SIGINT)
                break
        process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    if not found:
        raise WrkError(f"wrk ended without printing {marker.strip()!r} (rc {process.returncode})")
    return found
