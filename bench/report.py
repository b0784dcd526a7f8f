"""Results: medians per scenario and peer, the targets, the rich table and ``docs/benchmarks.md``.

Each cell's req/s, p50 and p99 are the medians of that cell's rounds, taken separately. Ratios
are Hush's median over the peer's: above 1 is better for req/s, below 1 is better for p99. The
ceiling rows compare Hush's KV read (S1) with the bare app.
"""

from __future__ import annotations

import datetime as dt
import platform
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.peers import peer_label
from bench.profiling import ProfileSummary
from bench.scenarios import Scenario
from bench.settings import Settings
from bench.unseal import UnsealTiming
from bench.wrk import WrkResult

__all__ = [
    "Cell",
    "Report",
    "Target",
    "UnsealRow",
    "append_markdown",
    "evaluate_targets",
    "print_report",
    "render_markdown",
]

DOCS_PATH = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
_DOCS_HEADER = """# Benchmarks

`make bench` runs Hush and OpenBao (and a bare-ASGI ceiling) on the same machine in the same run,
alternating peers, and appends a dated section below. Everything is loopback only. Knobs
(environment variables): `BENCH_DURATION` (seconds per run, default 10), `BENCH_ROUNDS` (default
3), `BENCH_CONNECTIONS` (default 32), `BENCH_WARMUP` (default 2), `BENCH_KV_SECRETS` (default
100000), `BENCH_UNSEAL_SIZES` (default `10000,100000`; add `1000000` for the 1M figure, about
3 minutes of seeding), `BENCH_SCENARIOS` (e.g. `s1,s2,ceiling`), `PROFILE=1` (py-spy flame graphs
of every Hush scenario in `bench/out/`), `BENCH_PROFILE_MISSES=0` (skip profiling missed targets),
`BENCH_DOCS=0` (do not write this file), `BENCH_KEEP=1` (keep server and audit logs),
`BENCH_NICE` (niceness of the bench and everything it starts; default -10 when run as root, so
that other jobs on the machine disturb the figures less).

Numbers are medians of the rounds; req/s and latencies come from wrk (one thread) through a Lua
`done` hook. These are single-machine figures on a 2-core VM: read them as ratios between peers
measured side by side, not as absolute capacity.
"""


@dataclass
class Cell:
    """One scenario on one peer: its measured rounds, or why it has none."""

    scenario: Scenario
    peer: str
    runs: list[WrkResult] = field(default_factory=list)
    not_yet: str | None = None
    error: str | None = None

    @property
    def measured(self) -> bool:
        """Whether at least one round completed."""
        return bool(self.runs)

    @property
    def rps(self) -> float:
        """Median req/s over the rounds."""
        return statistics.median(run.rps for run in self.runs)

    @property
    def units(self) -> float:
        """Median in the scenario's unit (items/s, logins/s...)."""
        return self.rps * self.scenario.per_request

    @property
    def p50(self) -> float:
        """Median p50 latency (ms)."""
        return statistics.median(run.p50_ms for run in self.runs)

    @property
    def p99(self) -> float:
        """Median p99 latency (ms)."""
        return statistics.median(run.p99_ms for run in self.runs)

    @property
    def errors(self) -> int:
        """Failed requests over all rounds (tolerated stray socket errors)."""
        return sum(run.error_count for run in self.runs)


@dataclass
class UnsealRow:
    """Unseal-to-ready rounds for one store size."""

    secrets: int
    seed_seconds: float
    timings: list[UnsealTiming] = field(default_factory=list)

    @property
    def ready(self) -> float:
        """Median seconds from process start to the first successful KV read."""
        return statistics.median(t.ready_s for t in self.timings)

    @property
    def listening(self) -> float:
        """Median seconds from process start to the first HTTP answer."""
        return statistics.median(t.listening_s for t in self.timings)

    @property
    def unseal_call(self) -> float:
        """Median duration of the unseal call."""
        return statistics.median(t.unseal_call_s for t in self.timings)

    @property
    def first_read(self) -> float:
        """Median time from unsealed to the first successful read."""
        return statistics.median(t.ready_s - t.unsealed_s for t in self.timings)


@dataclass(frozen=True, slots=True)
class Target:
    """One goal from the design, and whether this run met it."""

    name: str
    met: bool | None  # None: not measured in this run
    detail: str
    profile_scenario: str | None = None


@dataclass
class Report:
    """Everything one run produced."""

    settings: Settings
    started: dt.datetime
    cells: list[Cell]
    unseal: list[UnsealRow]
    machine: dict[str, str]
    peer_notes: list[str]
    profiles: list[ProfileSummary] = field(default_factory=list)
    minutes: float = 0.0

    def cell(self, scenario: str, peer: str) -> Cell | None:
        """The cell of ``scenario`` on ``peer``, if it was part of the run."""
        for cell in self.cells:
            if cell.scenario.key == scenario and cell.peer == peer:
                return cell
        return None

    def hush_reference(self, cell: Cell) -> Cell | None:
        """The Hush cell this cell's ratio compares against."""
        key = cell.scenario.hush_from or cell.scenario.key
        hush = self.cell(key, "hush")
        return hush if hush is not None and hush.measured else None


def _fmt_rate(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def _ratio(numerator: float, denominator: float) -> str:
    return f"{numerator / denominator:.2f}x" if denominator > 0 else "-"


def _rows(report: Report) -> list[tuple[str, str, str, str, str, str, str]]:
    rows = []
    for cell in report.cells:
        label = peer_label(cell.peer, report.settings.openbao_storage)
        title = cell.scenario.title
        if not cell.measured:
            reason = cell.not_yet or f"failed: {(cell.error or '')[:80]}"
            rows.append((title, label, reason, "", "", "", ""))
            continue
        rate = f"{_fmt_rate(cell.rps)}"
        if cell.scenario.unit != "req/s":
            rate += f" ({_fmt_rate(cell.units)} {cell.scenario.unit})"
        hush = report.hush_reference(cell)
        ratio_rps = ratio_p99 = ""
        if cell.peer != "hush" and hush is not None:
            ratio_rps, ratio_p99 = _ratio(hush.rps, cell.rps), _ratio(hush.p99, cell.p99)
        rows.append(
            (title, label, rate, f"{cell.p50:.2f}", f"{cell.p99:.2f}", ratio_rps, ratio_p99)
        )
    return rows


_HEADERS = ("Scenario", "Peer", "req/s", "p50 ms", "p99 ms", "Hush/peer req/s", "Hush/peer p99")


_UNSEAL_HEADERS = ("Secrets", "seeded in", "listening", "unseal call", "first read", "ready")


def _unseal_cells(row: UnsealRow) -> tuple[str, ...]:
    return (
        f"{row.secrets:,}",
        f"{row.seed_seconds:.1f} s",
        f"{row.listening:.3f} s",
        f"{row.unseal_call * 1000:.1f} ms",
        f"{row.first_read * 1000:.1f} ms",
        f"{row.ready:.3f} s",
    )


def evaluate_targets(report: Report) -> list[Target]:
    """The design's targets, checked against this run's medians (reported, never asserted)."""
    targets: list[Target] = []
    s1, bao = report.cell("s1", "hush"), report.cell("s1", "openbao")
    if s1 and bao and s1.measured and bao.measured:
        met = s1.rps >= 2 * bao.rps and s1.p99 <= bao.p99
        targets.append(
            Target(
                "S1: Hush >= 2x OpenBao req/s, p99 no worse",
                met,
                f"{s1.rps / bao.rps:.2f}x req/s; p99 {s1.p99:.2f} ms vs {bao.p99:.2f} ms",
                "s1",
            )
        )
    s2 = report.cell("s2", "hush")
    if s1 and s2 and s1.measured and s2.measured:
        met = s2.p50 <= 1.2 * s1.p50 and s2.p99 <= 1.2 * s1.p99
        targets.append(
            Target(
                "S2: random-key read latency within 1.2x of S1",
                met,
                f"p50 {s2.p50 / s1.p50:.2f}x, p99 {s2.p99 / s1.p99:.2f}x of S1",
                "s2",
            )
        )
    if len(report.unseal) >= 2 and all(row.timings for row in report.unseal):
        small, large = report.unseal[0], report.unseal[-1]
        met = large.ready <= 1.5 * small.ready
        targets.append(
            Target(
                f"S8: unseal-to-ready flat ({large.secrets:,} within 1.5x of {small.secrets:,})",
                met,
                f"{large.ready:.3f} s vs {small.ready:.3f} s ({large.ready / small.ready:.2f}x)",
            )
        )
    ceiling = report.cell("ceiling", "ceiling-hush")
    if s1 and ceiling and s1.measured and ceiling.measured:
        met = s1.rps >= 0.5 * ceiling.rps
        targets.append(
            Target(
                "Hush KV read >= 0.5x the bare-ASGI ceiling (same HTTP protocol)",
                met,
                f"{s1.rps / ceiling.rps:.2f}x ({_fmt_rate(s1.rps)} vs {_fmt_rate(ceiling.rps)})",
                "s1",
            )
        )
    return targets


def _verdict(target: Target) -> str:
    return "met" if target.met else ("MISSED" if target.met is False else "not measured")


def print_report(report: Report, console: Console) -> None:
    """The results as rich tables."""
    table = Table(title="Hush vs peers (median of rounds)", show_lines=False)
    for header in _HEADERS:
        table.add_column(header, justify="left" if header in ("Scenario", "Peer") else "right")
    previous = None
    for row in _rows(report):
        if previous is not None and row[0] != previous:
            table.add_section()
        table.add_row(*(row if row[0] != previous else ("", *row[1:])))
        previous = row[0]
    if report.cells:
        console.print(table)
    if report.unseal:
        unseal = Table(title="S8 unseal to ready (Hush, SQLite, file audit on; median)")
        for header in _UNSEAL_HEADERS:
            unseal.add_column(header, justify="right")
        for unseal_row in report.unseal:
            if unseal_row.timings:
                unseal.add_row(*_unseal_cells(unseal_row))
        console.print(unseal)
    for target in evaluate_targets(report):
        style = "green" if target.met else "red"
        console.print(f"[{style}]{_verdict(target):>8}[/] {target.name}: {target.detail}")
    for profile in report.profiles:
        if profile.error:
            console.print(f"profile {profile.scenario}: {profile.error}")
            continue
        top = "; ".join(f"{s.stage} {s.share:.0%}" for s in profile.stages[:3])
        console.print(f"profile {profile.scenario} ({profile.samples} samples): {top}")


def _md_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |"]
    lines.append("| " + " | ".join("---" if i < 2 else "---:" for i in range(len(headers))) + " |")
    lines += ["| " + " | ".join(cell.replace("|", "/") for cell in row) + " |" for row in rows]
    return lines


def _blank_repeats(
    rows: list[tuple[str, str, str, str, str, str, str]],
) -> list[tuple[str, ...]]:
    """Show each scenario's title on its first row only."""
    shown: list[tuple[str, ...]] = []
    previous = None
    for row in rows:
        shown.append(row if row[0] != previous else ("", *row[1:]))
        previous = row[0]
    return shown


def render_markdown(report: Report) -> str:
    """The dated section appended to ``docs/benchmarks.md``."""
    s = report.settings
    when = report.started.strftime("%Y-%m-%d %H:%M UTC")
    m = report.machine
    lines = [
        f"## {when} — `make bench`",
        "",
        f"Machine: `nproc` = {m['nproc']}, {m['cpu']}, {m['memory']}, {m['kernel']}; "
        f"Python {platform.python_version()}; {m['wrk']}. "
        f"Load: wrk, 1 thread, {s.connections} connections, {s.duration_s:g} s per run, "
        f"{s.rounds} rounds with peers alternating (order reversed every other round), "
        f"{s.warmup_s:g} s warm-up per scenario and peer; median of rounds. "
        f"Whole run: {report.minutes:.1f} min; {m['load']}.",
    ]
    if report.cells:
        lines += ["", *_md_table(_HEADERS, _blank_repeats(_rows(report)))]
    if report.unseal:
        lines += [
            "",
            "S8, unseal to ready (Hush only: `hush server -config` on SQLite, file audit device "
            "enabled, init done once when seeding; time from process start to the first "
            "successful KV read after `PUT sys/unseal`). OpenBao is not measured: its dev "
            "server keeps data in memory and cannot be restarted sealed with data.",
            "",
            *_md_table(
                ("Stored secrets", *_UNSEAL_HEADERS[1:]),
                [_unseal_cells(row) for row in report.unseal if row.timings],
            ),
        ]
    targets = evaluate_targets(report)
    if targets:
        lines += ["", "Targets (reported, not asserted):", ""]
        lines += [f"- **{_verdict(t)}** — {t.name}: {t.detail}" for t in targets]
    titles = {cell.scenario.key: cell.scenario.title for cell in report.cells}
    for profile in report.profiles:
        lines += ["", _profile_markdown(profile, titles.get(profile.scenario, profile.scenario))]
    lines += ["", "How the peers' configurations differ:", ""]
    lines += [f"- {note}" for note in report.peer_notes]
    return "\n".join(lines) + "\n"


def _profile_markdown(profile: ProfileSummary, title: str) -> str:
    if profile.error:
        return f"Profile of Hush in {title}: not recorded ({profile.error})."
    where = f" (flame graph: `bench/out/{profile.svg.name}`)" if profile.svg else ""
    lines = [
        f"Where Hush's time goes in {title} (py-spy, {profile.samples} samples "
        f"of busy CPU){where}; top costs by pipeline stage:",
        "",
    ]
    for rank, stage in enumerate(profile.stages[:5], start=1):
        heavy = ", ".join(f"`{name}` {share:.1%}" for name, share in stage.top_functions)
        lines.append(f"{rank}. {stage.stage}: {stage.share:.0%} (heaviest leaves: {heavy})")
    return "\n".join(lines)


def append_markdown(report: Report, path: Path = DOCS_PATH) -> Path:
    """Append this run's section to ``docs/benchmarks.md`` (created with a header if missing)."""
    existing = path.read_text() if path.exists() else _DOCS_HEADER
    path.write_text(existing.rstrip("\n") + "\n\n" + render_markdown(report))
    return path
