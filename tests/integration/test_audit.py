"""Audit through hvac: devices, hashes that match the log, no secret in clear, fail-closed."""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
import uuid
from pathlib import Path

import hvac
import hvac.exceptions
import pytest

from tests.conftest import ServerFactory
from tests.support.server import HushProcess


def _unsealed(sealed_server: ServerFactory) -> tuple[HushProcess, hvac.Client]:
    server = sealed_server("sqlite")
    result = server.client().sys.initialize(secret_shares=1, secret_threshold=1)
    client = server.client(result["root_token"])
    client.sys.submit_unseal_key(result["keys"][0])
    server.root_token = result["root_token"]
    return server, client


def _entries(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_enable_list_hash_and_disable(sealed_server: ServerFactory, tmp_path: Path) -> None:
    _, client = _unsealed(sealed_server)
    log = tmp_path / "audit" / "audit.log"
    log.parent.mkdir()
    client.sys.enable_audit_device("file", options={"file_path": str(log)})
    devices = client.sys.list_enabled_audit_devices()["data"]
    assert devices["file/"]["type"] == "file"
    assert devices["file/"]["options"]["file_path"] == str(log)

    canary = f"canary-{uuid.uuid4().hex}"
    client.sys.enable_secrets_engine("kv", path="kv")
    client.secrets.kv.v1.create_or_update_secret("app", {"password": canary}, mount_point="kv")
    assert client.secrets.kv.v1.read_secret("app", mount_point="kv")["data"]["password"] == canary

    expected = client.sys.calculate_hash("file", canary)["data"]["hash"]
    assert expected.startswith("hmac-sha256:")
    text = log.read_text()
    assert canary not in text
    assert expected in text
    requests = [e for e in _entries(log) if e.get("type") == "request"]
    responses = [e for e in _entries(log) if e.get("type") == "response"]
    assert any(e["request"]["path"] == "kv/app" for e in requests)  # type: ignore[index]
    ids = {e["request"]["id"] for e in requests}  # type: ignore[index]
    assert ids <= {e["request"]["id"] for e in responses}  # type: ignore[index]

    client.sys.disable_audit_device("file")
    assert client.sys.list_enabled_audit_devices()["data"] == {}


class _Collector:
    """A local TCP server that keeps every byte a socket audit device sends."""

    def __init__(self) -> None:
        self.data = bytearray()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        self._server.settimeout(20)
        try:
            conn, _ = self._server.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(20)
            while chunk := conn.recv(65536):
                self.data += chunk

    def close(self) -> None:
        self._server.close()
        self._thread.join(5)


def test_canary_never_in_clear_in_audit_log(sealed_server: ServerFactory, tmp_path: Path) -> None:
    server, client = _unsealed(sealed_server)
    log = tmp_path / "audit.log"
    client.sys.enable_audit_device("file", options={"file_path": str(log)})
    collector = _Collector()
    client.sys.enable_audit_device(
        "socket", path="sock", options={"address": f"127.0.0.1:{collector.port}"}
    )
    canary = f"canary-{uuid.uuid4().hex}"
    client.sys.enable_secrets_engine("kv", path="kv")
    client.secrets.kv.v1.create_or_update_secret(
        f"dir/{uuid.uuid4().hex}", {"v": canary}, mount_point="kv"
    )
    client.secrets.kv.v1.list_secrets("dir", mount_point="kv")
    client.sys.enable_secrets_engine("kv", path="kv2", options={"version": "2"})
    v2 = client.secrets.kv.v2
    v2.create_or_update_secret("s", {"v": canary}, mount_point="kv2")
    read = v2.read_secret_version("s", mount_point="kv2", raise_on_deleted_version=True)
    assert read["data"]["data"] == {"v": canary}
    v2.list_secrets("", mount_point="kv2")
    v2.delete_metadata_and_all_versions("s", mount_point="kv2")
    # The canary used as a token, as a policy-denied request, and in malformed input.
    client.auth.token.create(id=canary, policies=["default"])
    with pytest.raises(hvac.exceptions.Forbidden):
        server.client(canary).secrets.kv.v1.read_secret("nope", mount_point="kv")
    with pytest.raises(hvac.exceptions.Forbidden):
        server.client(canary + "x").secrets.kv.v1.read_secret("nope", mount_point="kv")
    client.auth.token.revoke(canary)
    client.sys.disable_audit_device("sock")
    collector.close()
    assert b"hmac-sha256:" in collector.data  # positive control: the stream carried entries
    assert canary.encode() not in bytes(collector.data)
    assert canary not in log.read_text()
    assert canary not in server.log_text()


def test_unwritable_audit_file_refuses_requests_and_recovers(
    sealed_server: ServerFactory, tmp_path: Path
) -> None:
    server, client = _unsealed(sealed_server)
    logs = tmp_path / "logs"
    logs.mkdir()
    client.sys.enable_audit_device("file", options={"file_path": str(logs / "audit.log")})
    client.sys.enable_secrets_engine("kv", path="kv")
    client.secrets.kv.v1.create_or_update_secret("before", {"v": "1"}, mount_point="kv")

    # Rotate the directory away, put something unwritable in its place, and SIGHUP.
    logs.rename(tmp_path / "logs.old")
    logs.write_text("not a directory")
    assert server.process is not None
    os.kill(server.process.pid, signal.SIGHUP)
    # The server handles the signal in its own time: until it has reopened the device, requests
    # still go to the old (renamed) file. Reads, which change nothing, tell when that happened.
    deadline = time.monotonic() + 30
    while True:
        try:
            client.secrets.kv.v1.read_secret("before", mount_point="kv")
        except hvac.exceptions.VaultDown:
            break
        assert time.monotonic() < deadline, "the audit device was not reopened after SIGHUP"
        time.sleep(0.1)
    with pytest.raises(hvac.exceptions.VaultDown) as info:
        client.secrets.kv.v1.create_or_update_secret("during", {"v": "2"}, mount_point="kv")
    assert "audit" in str(info.value)
    with pytest.raises(hvac.exceptions.VaultDown):
        client.secrets.kv.v1.read_secret("before", mount_point="kv")

    logs.unlink()
    logs.mkdir()
    assert client.secrets.kv.v1.read_secret("before", mount_point="kv")["data"] == {"v": "1"}
    with pytest.raises(hvac.exceptions.InvalidPath):
        client.secrets.kv.v1.read_secret("during", mount_point="kv")


def test_audit_verify_passes_on_a_real_server_log(
    sealed_server: ServerFactory, tmp_path: Path
) -> None:
    import subprocess
    import sys

    _, client = _unsealed(sealed_server)
    log = tmp_path / "audit.log"
    client.sys.enable_audit_device("file", options={"file_path": str(log)})
    client.sys.enable_secrets_engine("kv", path="kv")
    for i in range(50):
        client.secrets.kv.v1.create_or_update_secret(f"k{i}", {"v": str(i)}, mount_point="kv")
    client.sys.seal()  # writes a signed checkpoint
    result = subprocess.run(
        [sys.executable, "-m", "hush.cli.main", "audit", "verify", str(log)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = log.read_bytes().splitlines(keepends=True)
    lines[10] = (
        lines[10].replace(b'"k', b'"K', 1) if b'"k' in lines[10] else lines[10][:-2] + b"X\n"
    )
    log.write_bytes(b"".join(lines))
    result = subprocess.run(
        [sys.executable, "-m", "hush.cli.main", "audit", "verify", str(log)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "line 11" in result.stdout + result.stderr
