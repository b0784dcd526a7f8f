"""The hash chain of file devices: a 10,000-entry log verifies, and every kind of tampering is
reported at the right line with the right reason (by the library and by ``hush audit verify``)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from hush.core.audit.chain import ChainState, line_hash
from hush.core.audit.devices import FileDevice
from hush.core.audit.entry import build_request_entry, build_response_entry
from hush.crypto import SecretBytes, random_bytes
from tests.unit.audit.helpers import ACCESSOR, make_request, make_response, verify_file

ENTRIES = 10_000


async def write_entries(device: FileDevice, count: int, *, close: bool = True) -> None:
    """Log ``count`` entries the way the broker does (checkpoint when due, one at close)."""
    request = make_request()
    for index in range(count):
        entry = (
            build_request_entry(request)
            if index % 2 == 0
            else build_response_entry(request, make_response(), None)
        )
        await device.log(device.shape(entry))
        if device.checkpoint_due:
            device.checkpoint()
    if close:
        device.checkpoint()
        await device.close()


def build_log(
    path: Path, count: int, chain: ChainState | None = None, **options: str
) -> FileDevice:
    device = FileDevice(
        "file/",
        {"file_path": str(path), **options},
        SecretBytes(random_bytes(32)),
        chain or ChainState.new(),
    )

    async def main() -> None:
        await device.open()
        await write_entries(device, count)

    asyncio.run(main())
    return device


def cli_audit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hush.cli.main", "audit", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def cli_verify(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return cli_audit("verify", str(path), *args)


@pytest.fixture(scope="module")
def big_log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[bytes], str]:
    """A real 10,000-entry log, its lines, and the device's public key."""
    path = tmp_path_factory.mktemp("chain") / "audit.log"
    device = build_log(path, ENTRIES)
    assert device.chain is not None
    return path, path.read_bytes().splitlines(keepends=True), device.chain.public_key


@pytest.fixture(scope="module")
def small_log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, FileDevice]:
    """A closed 40-entry log and its device."""
    path = tmp_path_factory.mktemp("small") / "audit.log"
    return path, build_log(path, 40)


def tampered(tmp_path: Path, lines: list[bytes]) -> Path:
    out = tmp_path / "tampered.log"
    out.write_bytes(b"".join(lines))
    return out


def entry_line(lines: list[bytes], near: int) -> int:
    """The 0-based index of the first request/response line at or after ``near``."""
    return next(i for i in range(near, len(lines)) if b'"type":"re' in lines[i][:60])


def test_ten_thousand_entries_verify(big_log: tuple[Path, list[bytes], str]) -> None:
    path, lines, public_key = big_log
    report = verify_file(path, public_key=public_key)
    assert report.ok, report.summary()
    assert report.entries == ENTRIES
    assert report.checkpoints == ENTRIES // 1000
    assert report.segments == 1
    assert report.lines == len(lines) == ENTRIES + 1 + report.checkpoints
    first = orjson.loads(lines[0])
    assert first["type"] == "device_start" and first["public_key"] == public_key
    second = orjson.loads(lines[1])
    assert second["hush_chain"] == {"seq": 1, "prev": line_hash(lines[0])}
    assert orjson.loads(lines[-1])["type"] == "checkpoint"


def test_cli_verify_ok_exit_0(big_log: tuple[Path, list[bytes], str]) -> None:
    path, _, public_key = big_log
    result = cli_verify(path, "-public-key", public_key)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"OK: {ENTRIES} entries, {ENTRIES // 1000} checkpoints"


def assert_fails(path: Path, line: int, reason: str, *, cli: bool = False) -> None:
    """The library reports ``reason`` at ``line``; with ``cli``, ``hush audit verify`` exits 2."""
    report = verify_file(path)
    assert (report.ok, report.line) == (False, line), report.summary()
    assert reason in report.reason
    if cli:
        result = cli_verify(path)
        assert result.returncode == 2, result.stderr
        assert result.stdout.strip() == report.summary()


def test_one_changed_byte_is_found(big_log: tuple[Path, list[bytes], str], tmp_path: Path) -> None:
    _, lines, _ = big_log
    index = entry_line(lines, 5000)
    changed = bytearray(lines[index])
    at = changed.index(b"hmac-sha256:") + len(b"hmac-sha256:")
    changed[at] = ord("0") if changed[at] != ord("0") else ord("1")
    copy = list(lines)
    copy[index] = bytes(changed)
    path = tampered(tmp_path, copy)
    assert_fails(path, index + 1, "the line was modified: its hash is not the prev", cli=True)


def test_a_byte_that_breaks_the_json_is_found(
    big_log: tuple[Path, list[bytes], str], tmp_path: Path
) -> None:
    _, lines, _ = big_log
    index = entry_line(lines, 1234)
    copy = list(lines)
    copy[index] = b"[" + lines[index][1:]
    assert_fails(tampered(tmp_path, copy), index + 1, "not a valid audit record")


def test_a_removed_entry_is_found(big_log: tuple[Path, list[bytes], str], tmp_path: Path) -> None:
    _, lines, _ = big_log
    index = entry_line(lines, 7000)
    seq = orjson.loads(lines[index])["hush_chain"]["seq"]
    path = tampered(tmp_path, lines[:index] + lines[index + 1 :])
    assert_fails(path, index + 1, f"missing entry: seq {seq} is not in the log", cli=True)


def test_two_swapped_entries_are_found(
    big_log: tuple[Path, list[bytes], str], tmp_path: Path
) -> None:
    _, lines, _ = big_log
    index = entry_line(lines, 3000)
    copy = list(lines)
    copy[index], copy[index + 1] = copy[index + 1], copy[index]
    assert_fails(tampered(tmp_path, copy), index + 1, "entries swapped: seq", cli=True)


def test_an_entry_moved_far_away_is_found(
    big_log: tuple[Path, list[bytes], str], tmp_path: Path
) -> None:
    _, lines, _ = big_log
    a, b = entry_line(lines, 2000), entry_line(lines, 2500)
    copy = list(lines)
    copy[a], copy[b] = copy[b], copy[a]
    assert_fails(tampered(tmp_path, copy), a + 1, "entry out of place")


def test_tail_cut_mid_line_is_found(big_log: tuple[Path, list[bytes], str], tmp_path: Path) -> None:
    _, lines, _ = big_log
    path = tampered(tmp_path, [*lines[:-1], lines[-1][: len(lines[-1]) // 2]])
    assert_fails(path, len(lines), "the file ends in the middle of a line", cli=True)


def test_tail_lines_removed_is_found(
    big_log: tuple[Path, list[bytes], str], tmp_path: Path
) -> None:
    _, lines, _ = big_log
    path = tampered(tmp_path, lines[:-5])
    assert_fails(path, len(lines) - 5, "without a closing checkpoint", cli=True)
    # A log that is still being written may end after its last checkpoint.
    assert verify_file(path, allow_open=True).ok
    assert cli_verify(path, "-live").returncode == 0


def test_changed_checkpoint_fails_its_signature(
    big_log: tuple[Path, list[bytes], str], tmp_path: Path
) -> None:
    _, lines, _ = big_log
    index = next(i for i, line in enumerate(lines) if b'"type":"checkpoint"' in line)
    record = orjson.loads(lines[index])
    record["time"] = "2020-01-01T00:00:00Z"
    copy = list(lines)
    copy[index] = orjson.dumps(record) + b"\n"
    assert_fails(tampered(tmp_path, copy), index + 1, "bad checkpoint signature (modified?)")


def test_a_log_rewritten_with_another_key_fails_against_the_pinned_key(
    big_log: tuple[Path, list[bytes], str], tmp_path: Path
) -> None:
    _, _, public_key = big_log
    forged = tmp_path / "forged.log"
    build_log(forged, 10)
    assert verify_file(forged).ok  # consistent in itself...
    report = verify_file(forged, public_key=public_key)  # ...but not the device's
    assert (report.ok, report.line) == (False, 1)
    assert "key other than the given one" in report.reason


def test_jsonx_log_with_prefix_verifies_and_detects_changes(tmp_path: Path) -> None:
    path = tmp_path / "audit.xml.log"
    build_log(path, 50, format="jsonx", prefix="hush-audit: ")
    lines = path.read_bytes().splitlines(keepends=True)
    assert lines[1].startswith(b'hush-audit: <?xml version="1.0"')
    assert verify_file(path).ok
    index = 10
    copy = list(lines)
    copy[index] = lines[index].replace(b"secret/app/db", b"secret/app/dc")
    report = verify_file(tampered(tmp_path, copy))
    assert (report.ok, report.line) == (False, index + 1)


def test_reopen_after_rotation_links_the_new_file_to_the_old(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    device = FileDevice(
        "file/", {"file_path": str(path)}, SecretBytes(random_bytes(32)), ChainState.new()
    )

    async def main() -> None:
        await device.open()
        await write_entries(device, 20, close=False)
        path.rename(tmp_path / "audit.log.1")  # logrotate moves the file, then sends SIGHUP
        await device.reopen()
        await write_entries(device, 20)

    asyncio.run(main())
    old, new = tmp_path / "audit.log.1", path
    old_lines = old.read_bytes().splitlines(keepends=True)
    new_lines = new.read_bytes().splitlines(keepends=True)
    start = orjson.loads(new_lines[0])
    assert start["type"] == "device_start"
    assert start["hush_chain"]["prev"] == line_hash(old_lines[-1])
    assert orjson.loads(old_lines[-1])["type"] == "checkpoint"
    assert verify_file(old).ok
    continued = verify_file(new)
    assert continued.ok and any("earlier file" in note for note in continued.notes)
    both = tmp_path / "both.log"
    both.write_bytes(old.read_bytes() + new.read_bytes())
    joined = verify_file(both)
    assert (joined.ok, joined.entries, joined.segments) == (True, 40, 2)


def test_restart_after_a_crash_continues_the_intact_chain(tmp_path: Path) -> None:
    """The lines written after the last checkpoint link back to it, so a restart (which cannot
    tell a crash from a sibling worker's writes) continues from them and seals them."""
    path = tmp_path / "audit.log"
    device = build_log(path, 0)
    persisted = device.anchor.copy()  # what the broker stored at the last signed record
    crashed = FileDevice(
        "file/", {"file_path": str(path)}, SecretBytes(random_bytes(32)), persisted.copy()
    )

    async def main() -> None:
        await crashed.open()
        await write_entries(crashed, 1500, close=False)
        await crashed.close()  # killed: no closing checkpoint, state only saved at seq ~1000
        restarted = FileDevice(
            "file/", {"file_path": str(path)}, SecretBytes(random_bytes(32)), crashed.anchor.copy()
        )
        await restarted.open()
        await write_entries(restarted, 10)

    asyncio.run(main())
    report = verify_file(path)
    assert report.ok, report.summary()
    assert (report.entries, report.segments) == (1510, 1)
    assert not any("not sealed by a checkpoint" in note for note in report.notes)


def test_restart_on_a_file_cut_back_past_the_stored_checkpoint_is_detected(
    tmp_path: Path,
) -> None:
    """A tail cut back to before the last signed record the device stored is not continued:
    the new segment links to that record, which is gone, and the verifier says so."""
    path = tmp_path / "audit.log"
    device = build_log(path, 1500)  # checkpoints at 1000 and at the close
    stored = device.anchor.copy()
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:1200]))  # the last checkpoint and 300 lines removed

    async def main() -> None:
        restarted = FileDevice(
            "file/", {"file_path": str(path)}, SecretBytes(random_bytes(32)), stored.copy()
        )
        await restarted.open()
        await write_entries(restarted, 10)

    asyncio.run(main())
    report = verify_file(path)
    assert not report.ok
    assert report.line == 1201 and "segment start links neither" in report.reason


def test_cli_search_filters_by_path_accessor_and_time(small_log: tuple[Path, FileDevice]) -> None:
    path, device = small_log

    def search(*args: str) -> list[dict[str, Any]]:
        result = cli_audit("search", str(path), *args)
        assert result.returncode == 0, result.stderr
        return [orjson.loads(line) for line in result.stdout.splitlines()]

    everything = search()
    assert len(everything) == 40
    assert all(entry["type"] in ("request", "response") for entry in everything)
    assert search("-path", "secret/app/") == everything
    assert search("-path", "sys/") == []
    assert search("-token-accessor", device.hasher.hash(ACCESSOR)) == everything
    assert search("-token-accessor", ACCESSOR) == []  # the log holds only its HMAC
    recent = search("-since", everything[-1]["time"])
    assert everything[-1] in recent and everything[0] not in recent
    assert search("-since", "2999-01-01T00:00:00Z") == []


def test_cli_tail_prints_the_last_lines(small_log: tuple[Path, FileDevice]) -> None:
    path, _ = small_log
    result = cli_audit("tail", str(path), "-n", "3")
    assert result.returncode == 0, result.stderr
    assert result.stdout.encode() == b"".join(path.read_bytes().splitlines(keepends=True)[-3:])
