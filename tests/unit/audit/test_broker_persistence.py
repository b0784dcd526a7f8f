"""The device table, each device's salt and its chain position survive teardown/setup (seal and
unseal, restarts) over the same storage, and live only behind the barrier."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import orjson
import pytest

from hush.core.audit.broker import AuditBroker, AuditUnavailable
from hush.core.audit.chain import line_hash
from hush.storage.memory import MemoryStorage
from tests.unit.audit.helpers import (
    CANARY,
    entries,
    make_request,
    read_records,
    unsealed_view,
    verify_file,
)


async def log_many(broker: AuditBroker, count: int) -> None:
    for _ in range(count):
        await broker.log_request(make_request())


async def physical_values(storage: MemoryStorage, prefix: str = "") -> list[bytes]:
    values: list[bytes] = []
    for child in await storage.list(prefix):
        if child.endswith("/"):
            values += await physical_values(storage, prefix + child)
        else:
            value = await storage.get(prefix + child)
            values.append(value or b"")
    return values


def test_table_salt_and_chain_survive_teardown_and_setup(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"

    async def main() -> None:
        _, view = await unsealed_view()
        first = AuditBroker(view)
        await first.setup()
        await first.enable("file", "file", {"file_path": str(path)}, "main log", True)
        await log_many(first, 1500)
        listed, digest = first.list(), await first.hash("file", CANARY)
        public_key = first.public_key("file")
        await first.teardown()  # seal

        second = AuditBroker(view)  # unseal, possibly in a new process
        await second.setup()
        assert second.list() == listed
        assert listed["file/"]["description"] == "main log" and listed["file/"]["local"]
        assert await second.hash("file", CANARY) == digest
        assert second.public_key("file") == public_key
        await log_many(second, 10)
        await second.teardown()

    asyncio.run(main())
    report = verify_file(path)
    assert report.ok, report.summary()
    assert (report.entries, report.segments) == (1510, 1)  # one chain, no new segment
    kinds = [record["type"] for record in read_records(path)]
    assert kinds.count("device_start") == 1


def test_secrets_are_stored_only_behind_the_barrier(tmp_path: Path) -> None:
    async def main() -> None:
        storage, view = await unsealed_view()
        broker = AuditBroker(view)
        await broker.setup()
        await broker.enable("file", "file", {"file_path": str(tmp_path / "a.log")})
        await broker.teardown()
        keys = await view.list("device/")
        stored = orjson.loads(await view.get("device/" + keys[0]) or b"{}")
        salt = stored["salt"].encode()
        signing_key = stored["chain"]["signing_key"].encode()
        assert len(base64.b64decode(salt)) == 32
        for value in await physical_values(storage):
            assert salt not in value and signing_key not in value
            assert base64.b64decode(salt) not in value
            assert str(tmp_path).encode() not in value  # even the options are encrypted

    asyncio.run(main())


def test_file_rotated_while_sealed_starts_a_linked_segment(tmp_path: Path) -> None:
    path, rotated = tmp_path / "audit.log", tmp_path / "audit.log.1"

    async def main() -> None:
        _, view = await unsealed_view()
        broker = AuditBroker(view)
        await broker.setup()
        await broker.enable("file", "file", {"file_path": str(path)})
        await log_many(broker, 5)
        await broker.teardown()
        path.rename(rotated)
        await broker.setup()
        await log_many(broker, 5)
        await broker.teardown()

    asyncio.run(main())
    old_lines = rotated.read_bytes().splitlines(keepends=True)
    start = orjson.loads(path.read_bytes().splitlines()[0])
    assert start["type"] == "device_start"
    assert start["hush_chain"]["prev"] == line_hash(old_lines[-1])
    assert verify_file(rotated).ok and verify_file(path).ok
    joined = tmp_path / "joined.log"
    joined.write_bytes(rotated.read_bytes() + path.read_bytes())
    report = verify_file(joined)
    assert (report.ok, report.entries, report.segments) == (True, 10, 2)


def test_restart_after_a_crash_continues_from_the_persisted_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"

    async def main() -> None:
        _, view = await unsealed_view()
        crashed = AuditBroker(view)
        await crashed.setup()
        await crashed.enable("file", "file", {"file_path": str(path)})
        await log_many(crashed, 1200)  # checkpoint (and saved state) at the 1000th entry
        for enabled in crashed._enabled.values():  # killed: files closed, no checkpoint
            assert enabled.device is not None
            await enabled.device.close()
        restarted = AuditBroker(view)
        await restarted.setup()
        await log_many(restarted, 3)
        await restarted.teardown()

    asyncio.run(main())
    report = verify_file(path)
    assert report.ok, report.summary()
    # The 200 lines after the saved checkpoint link back to it: the restart continues them.
    assert (report.entries, report.segments) == (1203, 1)


def test_disable_forgets_the_salt_and_reenable_gets_a_new_one(tmp_path: Path) -> None:
    async def main() -> None:
        _, view = await unsealed_view()
        broker = AuditBroker(view)
        await broker.setup()
        options = {"file_path": str(tmp_path / "a.log")}
        await broker.enable("file", "file", options)
        before = await broker.hash("file", CANARY)
        assert await broker.disable("file")
        assert await view.list("device/") == []
        await broker.enable("file", "file", options)
        assert await broker.hash("file", CANARY) != before
        await broker.teardown()
        again = AuditBroker(view)
        await again.setup()
        assert list(again.list()) == ["file/"]
        await again.teardown()

    asyncio.run(main())
    # Two chains in one file, the second a genesis after the first one's closing checkpoint.
    report = verify_file(tmp_path / "a.log")
    assert report.ok, report.summary()
    assert any("new chain begins" in note for note in report.notes)


def test_device_unavailable_at_unseal_is_retried_on_the_next_entry(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    path = logs / "audit.log"

    async def main() -> None:
        _, view = await unsealed_view()
        broker = AuditBroker(view)
        await broker.setup()
        await broker.enable("file", "file", {"file_path": str(path)})
        await broker.teardown()
        path.unlink()
        logs.rmdir()
        await broker.setup()  # does not fail the unseal
        assert broker.active
        with pytest.raises(AuditUnavailable):
            await broker.log_request(make_request())
        logs.mkdir()
        await broker.log_request(make_request())
        await broker.teardown()

    asyncio.run(main())
    assert len(entries(path)) == 1
