"""Audit devices through the broker: option checks, fail-closed logging, recovery without
re-enabling, sockets, syslog, and that no secret reaches a hashed log in clear."""

from __future__ import annotations

import asyncio
import os
import socket
import stat
from pathlib import Path

import orjson
import pytest

from hush.core.audit.broker import AuditBroker, AuditUnavailable
from hush.core.audit.chain import ChainState
from hush.core.audit.devices import AuditDeviceError, FileDevice
from hush.core.audit.remote import SyslogDevice
from hush.core.errors import InvalidRequest
from hush.core.request import Operation, Response
from hush.core.system.audit import audit_paths
from hush.crypto import SecretBytes, random_bytes
from hush.framework.fields import FieldData
from tests.unit.audit.helpers import (
    CANARY,
    RESPONSE_CANARY,
    TOKEN,
    entries,
    make_request,
    make_response,
    new_broker,
    read_records,
)


def file_device(**options: str) -> FileDevice:
    return FileDevice("file/", options, SecretBytes(random_bytes(32)), ChainState.new())


@pytest.mark.parametrize("mode", ["0666", "0602", "0700", "0610", "0755", "4600", "rw", "08"])
def test_dangerous_or_malformed_modes_are_refused(mode: str, tmp_path: Path) -> None:
    with pytest.raises(AuditDeviceError, match="mode"):
        file_device(file_path=str(tmp_path / "a.log"), mode=mode)


@pytest.mark.parametrize("mode", ["0600", "0640", "0400", "644"])
def test_file_is_created_with_the_mode(mode: str, tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    device = file_device(file_path=str(path), mode=mode)
    asyncio.run(device.open())
    asyncio.run(device.close())
    assert stat.S_IMODE(path.stat().st_mode) == int(mode, 8)


@pytest.mark.parametrize("prefix", ["\x1b[31m", "a\nb", "tab\there", "nul\x00", "del\x7f"])
def test_control_characters_in_prefix_are_refused(prefix: str, tmp_path: Path) -> None:
    with pytest.raises(AuditDeviceError, match="prefix"):
        file_device(file_path=str(tmp_path / "a.log"), prefix=prefix)


@pytest.mark.parametrize("file_path", ["audit.log", "./logs/a.log", "", "/tmp/a\x00b", "/a\nb"])
def test_relative_empty_or_control_char_paths_are_refused(file_path: str) -> None:
    with pytest.raises(AuditDeviceError, match="file_path"):
        file_device(file_path=file_path)


def test_enable_errors_are_400_with_clear_messages(tmp_path: Path) -> None:
    async def main() -> None:
        broker = await new_broker()
        good = {"file_path": str(tmp_path / "a.log")}
        cases = [
            (("x", "kafka", good), 'unknown backend type: "kafka"'),
            (("x", "file", {**good, "mode": "0666"}), "every user write"),
            (("x", "file", {**good, "colour": "red"}), 'unknown option "colour"'),
            (("x", "file", {**good, "log_raw": "maybe"}), '"log_raw" must be true or false'),
            (("x", "file", {"file_path": str(tmp_path / "no/such/dir/a.log")}), "could not be"),
            (("x", "socket", {"address": "nonsense"}), "host:port"),
        ]
        for args, message in cases:
            with pytest.raises(InvalidRequest, match=message) as caught:
                await broker.enable(*args)
            assert caught.value.status == 400
        await broker.enable("file", "file", good)
        for taken in ("file", "file/sub", "/file/"):
            with pytest.raises(InvalidRequest, match="path already in use"):
                await broker.enable(taken, "file", {"file_path": str(tmp_path / "b.log")})
        with pytest.raises(InvalidRequest, match="already used by audit device"):
            await broker.enable("other", "file", good)
        assert list(broker.list()) == ["file/"]
        await broker.teardown()

    asyncio.run(main())


def test_unwritable_file_refuses_requests_then_recovers_without_reenabling(
    tmp_path: Path,
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    path = logs / "audit.log"

    async def main() -> None:
        broker = await new_broker()
        await broker.enable("file", "file", {"file_path": str(path)})
        await broker.log_request(make_request())
        # The directory is rotated away and something unwritable takes its place.
        logs.rename(tmp_path / "logs.old")
        logs.write_text("not a directory")
        await broker.reopen()
        with pytest.raises(AuditUnavailable) as caught:
            await broker.log_request(make_request())
        assert caught.value.status == 503
        assert caught.value.message == (
            "audit: no enabled audit device could record the request; the request was refused"
        )
        logs.unlink()
        logs.mkdir()
        await broker.log_request(make_request())  # retried on the next entry: works again
        await broker.teardown()

    asyncio.run(main())
    assert len(entries(path)) == 1


def test_disk_full_fails_closed_then_recovers(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"

    async def main() -> None:
        broker = await new_broker()
        await broker.enable("file", "file", {"file_path": str(path)})
        path.rename(tmp_path / "audit.log.1")
        path.symlink_to("/dev/full")  # every write now fails with ENOSPC
        await broker.reopen()
        for _ in range(2):
            with pytest.raises(AuditUnavailable):
                await broker.log_request(make_request())
        path.unlink()
        await broker.log_request(make_request())
        await broker.teardown()

    asyncio.run(main())
    assert len(entries(path)) == 1


def test_one_working_device_is_enough(tmp_path: Path) -> None:
    async def main() -> None:
        broker = await new_broker()
        await broker.enable("good", "file", {"file_path": str(tmp_path / "good.log")})
        await broker.enable("gone", "socket", {"address": "127.0.0.1:1", "skip_test": "true"})
        await broker.log_request(make_request())
        await broker.teardown()

    asyncio.run(main())
    assert len(entries(tmp_path / "good.log")) == 1


def test_no_devices_means_nothing_to_do() -> None:
    async def main() -> None:
        broker = await new_broker()
        await broker.log_request(make_request())
        await broker.log_response(make_request(), make_response(), None)
        assert not broker.active

    asyncio.run(main())


def test_canaries_never_appear_in_a_hashed_log_and_log_raw_is_per_device(
    tmp_path: Path,
) -> None:
    hashed, raw = tmp_path / "hashed.log", tmp_path / "raw.log"

    async def main() -> str:
        broker = await new_broker()
        await broker.enable("hashed", "file", {"file_path": str(hashed)})
        await broker.enable("raw", "file", {"file_path": str(raw), "log_raw": "true"})
        request = make_request()
        await broker.log_request(request)
        await broker.log_response(request, make_response(), None)
        digest = await broker.hash("hashed", CANARY)
        await broker.teardown()
        return digest

    digest = asyncio.run(main())
    hashed_bytes = hashed.read_bytes()
    for secret in (CANARY, RESPONSE_CANARY, TOKEN):
        assert secret.encode() not in hashed_bytes
        assert secret.encode() in raw.read_bytes()
    request_entry, response_entry = entries(hashed)
    assert request_entry["request"]["data"]["password"] == digest
    first_tag, second_tag = request_entry["request"]["data"]["tags"]
    assert first_tag.startswith("hmac-sha256:") and second_tag == digest
    assert response_entry["response"]["data"]["value"].startswith("hmac-sha256:")
    assert entries(raw)[0]["request"]["data"]["password"] == CANARY


def test_hash_of_unknown_device_is_400() -> None:
    async def main() -> None:
        broker = await new_broker()
        with pytest.raises(InvalidRequest, match='unknown audit backend "nope/"'):
            await broker.hash("nope", "x")

    asyncio.run(main())


def test_elide_list_responses_through_the_broker(tmp_path: Path) -> None:
    path = tmp_path / "a.log"

    async def main() -> None:
        broker = await new_broker()
        await broker.enable(
            "file", "file", {"file_path": str(path), "elide_list_responses": "true"}
        )
        listing = make_request(operation=Operation.LIST, data={})
        await broker.log_response(listing, Response(data={"keys": ["a", "b"]}), None)
        await broker.teardown()

    asyncio.run(main())
    assert entries(path)[0]["response"]["data"] == {"keys": 2}


class LineCollector:
    """A TCP log collector that can be stopped (listener and connections) and started again."""

    def __init__(self) -> None:
        self.received: asyncio.Queue[bytes] = asyncio.Queue()
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        while line := await reader.readline():
            await self.received.put(line)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
            await writer.wait_closed()
        self._writers.clear()
        await self._server.wait_closed()

    async def next_entry(self) -> bytes:
        return await asyncio.wait_for(self.received.get(), 5)


def test_socket_device_writes_lines_to_a_tcp_server_and_reconnects() -> None:
    async def main() -> None:
        collector = LineCollector()
        await collector.start()
        broker = await new_broker()
        await broker.enable("net", "socket", {"address": f"127.0.0.1:{collector.port}"})
        await broker.log_request(make_request())
        line = await collector.next_entry()
        entry = orjson.loads(line)
        assert entry["type"] == "request"
        assert entry["request"]["data"]["password"] == await broker.hash("net", CANARY)
        assert CANARY.encode() not in line
        await collector.stop()
        await asyncio.sleep(0.05)  # let the device's connection see the collector hang up
        with pytest.raises(AuditUnavailable):
            await broker.log_request(make_request())
        await collector.start()
        await broker.log_request(make_request())  # reconnects by itself, no re-enable
        assert orjson.loads(await collector.next_entry())["type"] == "request"
        await broker.teardown()
        await collector.stop()

    asyncio.run(main())


def test_socket_device_over_udp() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as collector:
        collector.bind(("127.0.0.1", 0))
        collector.settimeout(5)
        port = collector.getsockname()[1]

        async def main() -> None:
            broker = await new_broker()
            options = {"address": f"127.0.0.1:{port}", "socket_type": "udp"}
            await broker.enable("udp", "socket", options)
            await broker.log_response(make_request(), make_response(), None)
            await broker.teardown()

        asyncio.run(main())
        assert orjson.loads(collector.recv(65536))["type"] == "response"


def test_syslog_device_sends_to_the_local_daemon_socket(tmp_path: Path) -> None:
    address = str(tmp_path / "log")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as daemon:
        daemon.bind(address)
        daemon.settimeout(5)
        device = SyslogDevice(
            "syslog/",
            {"facility": "local0", "tag": "hush"},
            SecretBytes(random_bytes(32)),
            socket_paths=(address,),
        )

        async def main() -> None:
            await device.open()
            await device.log({"type": "request"})
            await device.close()

        asyncio.run(main())
        message = daemon.recv(65536)
    assert message == f"<134>hush[{os.getpid()}]: ".encode() + b'{"type":"request"}'


@pytest.mark.skipif(os.path.exists("/dev/log"), reason="a syslog daemon listens here")
def test_syslog_without_a_daemon_fails_to_enable() -> None:
    async def main() -> None:
        broker = await new_broker()
        with pytest.raises(InvalidRequest, match="no local syslog daemon"):
            await broker.enable("syslog", "syslog", {})

    asyncio.run(main())


def test_stdout_and_discard(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    async def main() -> None:
        broker = await new_broker()
        await broker.enable("out", "file", {"file_path": "stdout"})
        await broker.enable("null", "file", {"file_path": "discard"})
        await broker.log_request(make_request())
        await broker.teardown()

    asyncio.run(main())
    kinds = [orjson.loads(line)["type"] for line in capfd.readouterr().out.splitlines()]
    assert kinds == ["device_start", "request", "checkpoint"]


def test_sys_audit_endpoints(tmp_path: Path) -> None:
    async def main() -> None:
        broker = await new_broker()
        paths = audit_paths(lambda: broker)

        async def call(mount_path: str, operation: Operation, data: dict[str, object]) -> object:
            for declared in paths:
                found = declared.match(mount_path)
                if found is not None:
                    handler = declared.operations[operation].handler
                    fields = FieldData(declared.fields, {**data, **found.params})
                    return await handler(make_request(), fields)
            raise AssertionError(mount_path)

        options = {"file_path": str(tmp_path / "a.log")}
        assert (
            await call("audit/file", Operation.UPDATE, {"type": "file", "options": options}) is None
        )
        listed = await call("audit", Operation.READ, {})
        assert isinstance(listed, Response) and listed.flatten
        assert listed.data == {
            "file/": {
                "type": "file",
                "description": "",
                "options": options,
                "local": False,
                "path": "file/",
            }
        }
        hashed = await call("audit-hash/file", Operation.UPDATE, {"input": CANARY})
        assert isinstance(hashed, Response) and hashed.flatten
        assert hashed.data == {"hash": await broker.hash("file", CANARY)}
        with pytest.raises(InvalidRequest, match='"input" parameter is empty'):
            await call("audit-hash/file", Operation.UPDATE, {"input": ""})
        with pytest.raises(InvalidRequest, match='missing required field "type"'):
            await call("audit/x", Operation.UPDATE, {})
        assert await call("audit/file", Operation.DELETE, {}) is None
        assert await call("audit/file", Operation.DELETE, {}) is None  # idempotent, like Vault
        assert broker.list() == {}

    asyncio.run(main())


def test_disable_reports_whether_a_device_was_there(tmp_path: Path) -> None:
    async def main() -> None:
        broker: AuditBroker = await new_broker()
        await broker.enable("file", "file", {"file_path": str(tmp_path / "a.log")})
        assert await broker.disable("file/") is True
        assert await broker.disable("file/") is False
        await broker.log_request(make_request())  # no devices left: nothing to refuse

    asyncio.run(main())


def test_a_late_entry_does_not_reopen_a_closed_device(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    device = file_device(file_path=str(path))

    async def main() -> None:
        await device.open()
        device.checkpoint()
        await device.close()
        with pytest.raises(AuditDeviceError, match="closed"):
            await device.log({"type": "request"})

    asyncio.run(main())
    assert [record["type"] for record in read_records(path)] == [
        "device_start",
        "checkpoint",
    ]
