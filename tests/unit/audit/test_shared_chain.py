"""Several processes of one node append to one chained audit file (worker processes).

Each process has its own :class:`FileDevice` on the same path with the node's chain state (the
same chain id and Ed25519 key, as every worker loads it from storage). Their lines must form one
chain that verifies end to end, whether they take turns or race.
"""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
import os
import random
from multiprocessing.connection import Connection
from pathlib import Path

import orjson

from hush.core.audit.chain import ChainState
from hush.core.audit.devices import FileDevice
from hush.core.audit.entry import build_request_entry, build_response_entry
from hush.core.audit.shared_file import lines_backwards, pread_fd
from hush.crypto import SecretBytes, random_bytes
from tests.unit.audit.helpers import make_request, make_response, verify_file

_CTX = multiprocessing.get_context("fork")


def _device(path: Path, chain: ChainState) -> FileDevice:
    return FileDevice("file/", {"file_path": str(path)}, SecretBytes(random_bytes(32)), chain)


async def _log_one(device: FileDevice, index: int) -> None:
    request = make_request(path=f"secret/pid-{os.getpid()}/{index}")
    entry = (
        build_request_entry(request)
        if index % 2 == 0
        else build_response_entry(request, make_response(), None)
    )
    await device.log(device.shape(entry))
    if device.checkpoint_due:
        device.checkpoint()


def _alternating(path: Path, state: dict[str, object], turns: Connection, count: int) -> None:
    """Wait for a turn token, log one entry, pass the token back; close with a checkpoint."""

    async def main() -> None:
        device = _device(path, ChainState.from_dict(state))
        await device.open()
        for index in range(count):
            turns.recv()
            await _log_one(device, index)
            turns.send("done")
        device.checkpoint()
        await device.close()

    asyncio.run(main())


def _racing(path: Path, state: dict[str, object], count: int) -> None:
    async def main() -> None:
        device = _device(path, ChainState.from_dict(state))
        await device.open()
        for index in range(count):
            await _log_one(device, index)
        device.checkpoint()
        await device.close()

    asyncio.run(main())


def _writers(path: Path) -> list[str]:
    """The writing process of every entry line, in file order."""
    writers = []
    for line in path.read_bytes().splitlines():
        record = orjson.loads(line)
        if record["type"] in ("request", "response"):
            writers.append(record["request"]["path"].split("/")[1])
    return writers


def _pids_logged(path: Path) -> set[str]:
    return set(_writers(path))


def test_two_processes_taking_turns_write_one_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    state = ChainState.new().to_dict()
    links = [_CTX.Pipe() for _ in range(2)]
    workers = [
        _CTX.Process(target=_alternating, args=(path, state, child, 50)) for _, child in links
    ]
    for worker in workers:
        worker.start()
    for _ in range(50):  # strictly alternating: A, B, A, B, ...
        for parent, _ in links:
            parent.send("go")
            assert parent.recv() == "done"
    for worker in workers:
        worker.join(30)
        assert worker.exitcode == 0

    report = verify_file(path, public_key=ChainState.from_dict(state).public_key)
    assert report.ok, report.summary()
    assert (report.entries, report.segments) == (100, 1)
    assert len(_pids_logged(path)) == 2
    # Every entry line's seq is the one after the line before it, whichever process wrote it.
    seqs = [orjson.loads(line)["hush_chain"]["seq"] for line in path.read_bytes().splitlines()]
    assert seqs == list(range(len(seqs)))


def test_four_racing_processes_write_one_chain_with_checkpoints(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    state = ChainState.new().to_dict()
    workers = [_CTX.Process(target=_racing, args=(path, state, 700)) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0

    report = verify_file(path, public_key=ChainState.from_dict(state).public_key)
    assert report.ok, report.summary()
    assert report.entries == 2800 and report.segments == 1
    assert report.checkpoints >= 2  # at least one every 1000 lines, and one at the end
    assert len(_pids_logged(path)) == 4
    writers = _writers(path)
    switches = sum(1 for a, b in itertools.pairwise(writers) if a != b)
    assert switches > 3, "the processes did not interleave; the test proved nothing"


def test_a_line_changed_in_the_shared_file_is_found(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    state = ChainState.new().to_dict()
    workers = [_CTX.Process(target=_racing, args=(path, state, 200)) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    assert verify_file(path).ok
    lines = path.read_bytes().splitlines(keepends=True)
    lines[150] = lines[150].replace(b"secret/pid-", b"secret/PID-", 1)
    path.write_bytes(b"".join(lines))
    report = verify_file(path)
    assert not report.ok and report.line == 151, report.summary()


def test_lines_backwards_across_chunk_boundaries(tmp_path: Path) -> None:
    """Reading back from the end yields exactly the file's lines, last first, from any start
    that is a line boundary, with lines longer than one read chunk and a torn tail."""
    rng = random.Random(7)
    lines = [b"x" * rng.choice([0, 1, 5, 4000, 70_000, 140_000]) + b"\n" for _ in range(60)]
    data = b"".join(lines) + b"torn"
    path = tmp_path / "lines"
    path.write_bytes(data)
    fd = os.open(path, os.O_RDONLY)
    try:
        read = pread_fd(fd)
        assert list(lines_backwards(read, 0, len(data))) == [b"torn", *reversed(lines)]
        start = sum(len(line) for line in lines[:25])
        assert list(lines_backwards(read, start, len(data) - 4)) == list(reversed(lines[25:]))
        assert list(lines_backwards(read, 7, 7)) == []
    finally:
        os.close(fd)
