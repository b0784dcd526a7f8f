"""Profiling Hush under load with py-spy, and naming where the time goes.

``py-spy record --pid --subprocesses`` attaches to the running server, its supervisor and
worker processes (it needs ptrace rights; as root in this sandbox it has them) while wrk drives
the scenario. Two recordings per scenario: a flame graph
(``bench/out/<scenario>.svg``) for people, and collapsed stacks (``bench/out/<scenario>.txt``)
that :func:`summarise` turns into a cost breakdown by pipeline stage for the report.

Stage attribution: inside the ASGI app (below ``VaultAPI.__call__``) a sample belongs to the
outermost frame that names a stage (audit, token lookup, ACL, routing and validation, engine
handler, metrics, HTTP protocol), so a decrypt inside the token lookup counts as token lookup;
samples with no such frame are glue (``api/vault.py``, ``core.py``). Outside the app a sample
belongs to its innermost recognisable frame: HTTP parsing, or the event loop and its syscalls.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.wrk import WrkJob, WrkResult, run_wrk

__all__ = ["ProfileSummary", "StageCost", "py_spy_path", "record_profile", "summarise"]

OUT_DIR = Path(__file__).parent / "out"
_APP_ENTRIES = ("VaultAPI.__call__", "AwsAPI.__call__")
# Leaf frames of threads that wait for work: the storage writer's and asyncio's executor threads
# block in ``_worker`` on their queue, which py-spy samples as active.
_IDLE_LEAVES = ("_worker (concurrent/futures/thread.py",)

# (stage, markers): a frame matches when its text contains a marker. Checked in this order.
_STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("SigV4 check (botocore canonicalisation, HMAC chain)", ("hush/api/sigv4.py",)),
    ("audit (HMAC, JSON, chain hash, file write)", ("hush/core/audit/",)),
    ("token lookup (hash, storage read, decrypt)", ("Core.authenticate", "hush/core/tokens.py")),
    ("policy/ACL check", ("Core.acl_for", "hush/core/acl", "hush/core/policies.py", "ACL.check")),
    ("engine handler (storage read/write, crypto)", ("PreparedCall.run", "hush/engines/")),
    ("routing + field validation (framework)", ("Backend.prepare", "hush/framework/")),
    ("metrics", ("hush/core/metrics.py", "prometheus_client/")),
    (
        "HTTP server (uvicorn + httptools, socket writes)",
        ("uvicorn/", "h11/", "httptools/", "hush/server/http_protocol"),
    ),
    ("event loop + socket syscalls", ("asyncio/", "selectors.py")),
)
_GLUE = (
    ("AWS request translation (api/aws*)", "hush/api/aws"),
    ("request translation (api/vault.py)", "hush/api/"),
    ("pipeline glue (core.py)", "hush/core/core.py"),
)


@dataclass(frozen=True, slots=True)
class StageCost:
    """One stage's share of the sampled CPU time, with its heaviest leaf functions."""

    stage: str
    share: float
    top_functions: tuple[tuple[str, float], ...]


@dataclass(frozen=True, slots=True)
class ProfileSummary:
    """What one profiled run found (or why it could not run)."""

    scenario: str
    samples: int = 0
    stages: tuple[StageCost, ...] = ()
    svg: Path | None = None
    raw: Path | None = None
    error: str | None = None
    result: WrkResult | None = field(default=None, compare=False)


def py_spy_path() -> Path | None:
    """The ``py-spy`` executable next to this interpreter, or on ``PATH``."""
    local = Path(sys.executable).parent / "py-spy"
    if local.exists():
        return local
    found = shutil.which("py-spy")
    return Path(found) if found else None


def _frame_name(frame: str) -> str:
    """``func (path/file.py:line)`` → ``func (path/file.py)``: one entry per function."""
    name, _, where = frame.partition(" (")
    return f"{name} ({where.rsplit(':', 1)[0]})" if where else name


def _match(frame: str) -> str | None:
    for stage, markers in _STAGES:
        if any(marker in frame for marker in markers):
            return stage
    return None


def _stage_of(frames: list[str]) -> str:
    """The pipeline stage one sampled stack (outermost frame first) is charged to."""
    entries = [i for i, frame in enumerate(frames) if frame.startswith(_APP_ENTRIES)]
    if not entries:
        # Outside the app: the innermost recognisable frame (HTTP parsing, epoll wait...).
        for frame in reversed(frames):
            stage = _match(frame)
            if stage is not None:
                return stage
        return "other"
    inside = frames[entries[-1] :]
    for frame in inside[1:]:
        stage = _match(frame)
        if stage is not None:
            return stage
    for frame in reversed(inside):
        for stage, marker in _GLUE:
            if marker in frame:
                return stage
    return "other"


def summarise(scenario: str, collapsed: str) -> ProfileSummary:
    """Stage breakdown of py-spy's collapsed stacks (``frame;frame;... count`` lines)."""
    by_stage: Counter[str] = Counter()
    leaves: dict[str, Counter[str]] = {}
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rstrip().rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        if frames[-1].startswith(_IDLE_LEAVES):
            continue  # a pool thread waiting for work (py-spy cannot tell it is idle)
        stage = _stage_of(frames)
        by_stage[stage] += count
        leaves.setdefault(stage, Counter())[_frame_name(frames[-1])] += count
        total += count
    stages = tuple(
        StageCost(
            stage,
            count / total,
            tuple((name, n / total) for name, n in leaves[stage].most_common(3)),
        )
        for stage, count in by_stage.most_common()
    )
    return ProfileSummary(scenario, total, stages)


def _record(
    py_spy: Path, pid: int, job: WrkJob, duration_s: float, output: Path, fmt: str
) -> tuple[WrkResult, str | None]:
    command = [
        str(py_spy),
        "record",
        "--pid",
        str(pid),
        "--subprocesses",
        "--duration",
        str(max(1, round(duration_s)) + 1),
        "--rate",
        "200",
        "--format",
        fmt,
        "--output",
        str(output),
    ]
    recorder = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    time.sleep(0.5)  # let it attach before the load starts
    if recorder.poll() is not None:
        message = recorder.stdout.read().decode(errors="replace") if recorder.stdout else ""
        raise RuntimeError(f"py-spy could not attach: {message.strip()[-500:]}")
    result = run_wrk(job, duration_s)
    try:
        out, _ = recorder.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        recorder.kill()
        out, _ = recorder.communicate()
    error = None
    if recorder.returncode != 0 or not output.exists():
        error = out.decode(errors="replace").strip()[-500:]
    return result, error


def record_profile(scenario: str, pid: int, job: WrkJob, duration_s: float) -> ProfileSummary:
    """Profile ``pid`` under ``job``: write the SVG and the collapsed stacks, summarise them."""
    py_spy = py_spy_path()
    if py_spy is None:
        return ProfileSummary(scenario, error="py-spy is not installed (pip install py-spy)")
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    raw_path = OUT_DIR / f"{scenario}.txt"
    svg_path = OUT_DIR / f"{scenario}.svg"
    try:
        result, error = _record(py_spy, pid, job, duration_s, raw_path, "raw")
        if error is not None:
            return ProfileSummary(scenario, error=f"py-spy failed: {error}")
        _, svg_error = _record(py_spy, pid, job, duration_s, svg_path, "flamegraph")
    except (RuntimeError, OSError) as exc:
        return ProfileSummary(scenario, error=str(exc))
    summary = summarise(scenario, raw_path.read_text())
    return ProfileSummary(
        scenario,
        summary.samples,
        summary.stages,
        svg=None if svg_error else svg_path,
        raw=raw_path,
        result=result,
    )
