"""``hush audit ...``: verify, tail and search the log files of file audit devices.

These commands read files locally (no server needed): ``verify`` checks the hash chain and signed
checkpoints (exit 0 ``OK: ...``, exit 2 ``FAIL at line N: ...``), ``tail`` prints or follows the
last lines, ``search`` filters entries by path, token accessor and time and prints them as JSON
lines. Files over 1 MB show a progress bar on a terminal.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import IO, Any

import click
import orjson

from hush.core.audit.verify import detect_prefix, parse_line, verify_log

__all__ = ["audit_group"]

_PROGRESS_MIN_BYTES = 1024 * 1024
_FAIL_EXIT = 2
_FOLLOW_POLL_SECONDS = 0.25
_TAIL_CHUNK = 65536


@contextlib.contextmanager
def _progress(size: int, label: str) -> Iterator[Callable[[int], None]]:
    """Yield ``advance(nbytes)``; draws a bar on stderr for big files on a terminal."""
    if size <= _PROGRESS_MIN_BYTES or not sys.stderr.isatty():
        yield lambda _n: None
        return
    from rich.console import Console  # imported on use: rich is slow to import
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    columns = (label, BarColumn(), DownloadColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=size)
        yield lambda n: bar.advance(task, n)


def _counted(lines: Iterable[bytes], advance: Callable[[int], None]) -> Iterator[bytes]:
    for line in lines:
        advance(len(line))
        yield line


@click.group("audit")
def audit_group() -> None:
    """Verify and read the log files written by file audit devices."""


@audit_group.command("verify")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "-public-key",
    "--public-key",
    default=None,
    metavar="B64",
    help="The device's Ed25519 public key; without it the key named in the log is used.",
)
@click.option("-prefix", "--prefix", default=None, help="The device's prefix option (detected).")
@click.option("-live", "--live", is_flag=True, help="The log is still open: no final checkpoint.")
@click.pass_context
def verify_command(
    ctx: click.Context, file: str, public_key: str | None, prefix: str | None, live: bool
) -> None:
    """Check FILE's hash chain, sequence and signed checkpoints."""
    with open(file, "rb") as handle, _progress(os.path.getsize(file), "verifying") as advance:
        report = verify_log(
            _counted(handle, advance),
            public_key,
            prefix=None if prefix is None else prefix.encode(),
            allow_open=live,
        )
    for note in report.notes:
        click.echo(f"note: {note}", err=True)
    click.echo(report.summary())
    ctx.exit(0 if report.ok else _FAIL_EXIT)


def _last_lines(handle: IO[bytes], count: int) -> list[bytes]:
    """The last ``count`` lines of a file, read backwards in chunks."""
    end = handle.seek(0, os.SEEK_END)
    data, pos = b"", end
    while pos > 0 and data.count(b"\n", 0, len(data) - 1) < count:
        step = min(_TAIL_CHUNK, pos)
        pos -= step
        handle.seek(pos)
        data = handle.read(step) + data
    lines = data.splitlines(keepends=True)
    return lines[-count:] if count else []


def _write(chunk: bytes) -> None:
    sys.stdout.buffer.write(chunk)
    sys.stdout.buffer.flush()


@audit_group.command("tail")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("-n", "lines", default=10, show_default=True, type=click.IntRange(min=0))
@click.option("-f", "follow", is_flag=True, help="Keep printing lines as they are written.")
def tail_command(file: str, lines: int, follow: bool) -> None:
    """Print the last lines of FILE (and follow it across rotations with -f)."""
    handle = open(file, "rb")  # noqa: SIM115 - reopened across log rotations below
    try:
        for line in _last_lines(handle, lines):
            _write(line)
        handle.seek(0, os.SEEK_END)
        while follow:
            chunk = handle.read()
            if chunk:
                _write(chunk)
                continue
            time.sleep(_FOLLOW_POLL_SECONDS)
            with contextlib.suppress(FileNotFoundError):
                # Rotated (new inode) or truncated: start again from the new file's beginning.
                info = os.stat(file)
                if info.st_ino != os.fstat(handle.fileno()).st_ino or info.st_size < handle.tell():
                    handle.close()
                    handle = open(file, "rb")  # noqa: SIM115 - see above
    except KeyboardInterrupt:
        pass
    finally:
        handle.close()


def _entry_time(value: Any) -> datetime | None:
    """An entry's RFC3339Nano time (nanoseconds cut to microseconds), ``None`` if unreadable."""
    if not isinstance(value, str):
        return None
    text = value.replace("Z", "+00:00")
    head, dot, rest = text.partition(".")
    if dot:
        digits = "".join(ch for ch in rest if ch.isdigit())
        text = f"{head}.{digits[:6].ljust(6, '0')}{rest[len(digits) :]}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _parse_since(value: str | None) -> datetime | None:
    if value is None:
        return None
    parsed = _entry_time(value)
    if parsed is None:
        raise click.BadParameter("expected an ISO 8601 time, e.g. 2024-05-01T10:00:00Z")
    return parsed


def _block(record: dict[str, Any], name: str) -> dict[str, Any]:
    value = record.get(name)
    return value if isinstance(value, dict) else {}


def _matches(
    record: dict[str, Any], path: str | None, accessor: str | None, since: datetime | None
) -> bool:
    if record.get("type") not in ("request", "response"):
        return False
    request = _block(record, "request")
    if path is not None and not str(request.get("path", "")).startswith(path):
        return False
    logged = (_block(record, "auth").get("accessor"), request.get("client_token_accessor"))
    if accessor is not None and accessor not in logged:
        return False
    if since is not None:
        when = _entry_time(record.get("time"))
        if when is None or when < since:
            return False
    return True


@audit_group.command("search")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("-path", "--path", "path", default=None, help="Request path prefix, e.g. secret/.")
@click.option(
    "-token-accessor",
    "--token-accessor",
    "accessor",
    default=None,
    help="Accessor as logged: its HMAC (see sys/audit-hash) or, for raw logs, the accessor.",
)
@click.option("-since", "--since", default=None, help="Only entries at or after this ISO time.")
def search_command(file: str, path: str | None, accessor: str | None, since: str | None) -> None:
    """Print the entries of FILE that match every filter, one JSON object per line."""
    after = _parse_since(since)
    skipped = 0
    prefix: bytes | None = None
    with open(file, "rb") as handle, _progress(os.path.getsize(file), "searching") as advance:
        for raw in _counted(handle, advance):
            if prefix is None:
                prefix = detect_prefix(raw)
            try:
                record = parse_line(raw, prefix)
            except (ValueError, TypeError):
                skipped += 1
                continue
            if _matches(record, path, accessor, after):
                _write(orjson.dumps(record) + b"\n")
    if skipped:
        click.echo(f"note: {skipped} unreadable line(s) skipped", err=True)
