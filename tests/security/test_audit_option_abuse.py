"""Audit option abuse: device options that would hide, split or misdirect the log are refused.

Enabling an audit device needs sudo, but a device is also a way to write files as the server's
user and, audit being fail-closed, one that can never write refuses every request. So every
option is checked before anything is enabled: a bad one is a 400 and leaves no device (and no
file) behind, with ``skip_test`` too.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import DEV_ROOT_TOKEN
from tests.support.server import HushProcess

ROOT = {"X-Vault-Token": DEV_ROOT_TOKEN}


@pytest.fixture(scope="module")
def http(dev_server: HushProcess) -> Iterator[httpx.Client]:
    with dev_server.http() as client:
        yield client


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("audit-abuse")
    (directory / "a-directory").mkdir()
    return directory


def _bad_file_options(logs: Path) -> dict[str, dict[str, str]]:
    directory = logs / "a-directory"
    return {
        "relative": {"file_path": "audit.log"},
        "dot-relative": {"file_path": "./audit.log"},
        "parent-relative": {"file_path": "../audit.log"},
        "nul": {"file_path": f"{logs}/a\x00b.log"},
        "newline": {"file_path": f"{logs}/a\nb.log"},
        "escape": {"file_path": f"{logs}/a\x1b[2Jb.log"},
        "c1-control": {"file_path": f"{logs}/a\x85b.log"},
        "bidi-override": {"file_path": f"{logs}/a\u202eb.log"},
        "directory": {"file_path": str(directory)},
        "directory-slash": {"file_path": f"{directory}/"},
        "directory-skip-test": {"file_path": str(directory), "skip_test": "true"},
        "missing-parent": {"file_path": f"{logs}/no/such/dir/a.log"},
        "world-writable": {"file_path": f"{logs}/m1.log", "mode": "0666"},
        "world-writable-only": {"file_path": f"{logs}/m2.log", "mode": "0602"},
        "executable": {"file_path": f"{logs}/m3.log", "mode": "0700"},
        "group-executable": {"file_path": f"{logs}/m4.log", "mode": "0610"},
        "setuid": {"file_path": f"{logs}/m5.log", "mode": "4600"},
        "sticky": {"file_path": f"{logs}/m6.log", "mode": "1600"},
        "mode-not-octal": {"file_path": f"{logs}/m7.log", "mode": "0x1ff"},
        "mode-negative": {"file_path": f"{logs}/m8.log", "mode": "-1"},
        "mode-decimal": {"file_path": f"{logs}/m9.log", "mode": "999"},
        "mode-too-long": {"file_path": f"{logs}/m10.log", "mode": "00600"},
        "prefix-newline": {"file_path": f"{logs}/p1.log", "prefix": "ok\n{forged}"},
        "prefix-carriage-return": {"file_path": f"{logs}/p2.log", "prefix": "\r"},
        "prefix-escape": {"file_path": f"{logs}/p3.log", "prefix": "\x1b[31m"},
        "prefix-c1-csi": {"file_path": f"{logs}/p4.log", "prefix": "\x9b31m"},
        "prefix-line-separator": {"file_path": f"{logs}/p5.log", "prefix": "\u2028"},
        "prefix-zero-width": {"file_path": f"{logs}/p6.log", "prefix": "\u200b"},
        "format": {"file_path": f"{logs}/f.log", "format": "xml"},
        "log-raw-not-bool": {"file_path": f"{logs}/b.log", "log_raw": "yes please"},
        "unknown-option": {"file_path": f"{logs}/u.log", "exec": "/bin/sh"},
    }


BAD_SOCKET_OPTIONS = {
    "garbage": {"address": "garbage"},
    "no-host": {"address": ":9"},
    "port-zero": {"address": "127.0.0.1:0"},
    "port-too-big": {"address": "127.0.0.1:99999"},
    "nul": {"address": "127.0.0.1\x00:9"},
    "newline": {"address": "127.0.0.1\n:9"},
    "nul-skip-test": {"address": "ho\x00st:9", "skip_test": "true"},
    "garbage-skip-test": {"address": "garbage", "skip_test": "true"},
    "unix-relative": {"address": "audit.sock", "socket_type": "unix"},
    "unix-nul": {"address": "/tmp/a\x00b", "socket_type": "unix"},
    "unix-nul-skip-test": {"address": "/tmp/a\x00b", "socket_type": "unix", "skip_test": "true"},
    "socket-type": {"address": "127.0.0.1:9", "socket_type": "sctp"},
    "write-timeout": {"address": "127.0.0.1:9", "write_timeout": "soon"},
    "nobody-listening": {"address": "127.0.0.1:9"},
}


def _enabled(http: httpx.Client) -> dict[str, object]:
    listed: dict[str, object] = http.get("/v1/sys/audit", headers=ROOT).json()["data"]
    return listed


def _assert_refused(http: httpx.Client, name: str, body: dict[str, object]) -> None:
    answer = http.put(f"/v1/sys/audit/{name}", json=body, headers=ROOT)
    assert answer.status_code == 400, (name, answer.status_code, answer.text)
    assert answer.json()["errors"], answer.text
    assert f"{name}/" not in _enabled(http)


@pytest.mark.parametrize("case", sorted(_bad_file_options(Path("/unused"))))
def test_bad_file_device_options_are_400_and_enable_nothing(
    http: httpx.Client, logs: Path, case: str
) -> None:
    options = _bad_file_options(logs)[case]
    _assert_refused(http, f"file-{case}", {"type": "file", "options": options})
    target = options["file_path"]
    if not os.path.isdir(target.rstrip("/")) and "\x00" not in target and os.path.isabs(target):
        assert not os.path.exists(target), f"{case} left a file behind"


@pytest.mark.parametrize("case", sorted(BAD_SOCKET_OPTIONS))
def test_bad_socket_device_options_are_400_and_enable_nothing(
    http: httpx.Client, case: str
) -> None:
    _assert_refused(http, f"socket-{case}", {"type": "socket", "options": BAD_SOCKET_OPTIONS[case]})


@pytest.mark.parametrize(
    "body",
    [
        {"type": "../file", "options": {"file_path": "/tmp/x.log"}},
        {"type": "file", "options": {"file_path": ["/tmp/x.log"]}},
        {"type": "syslog", "options": {"tag": "a\nb"}},
        {"type": "syslog", "options": {"facility": "kern\n"}},
        {"type": "", "options": {}},
    ],
)
def test_bad_device_types_and_option_shapes_are_400(
    http: httpx.Client, body: dict[str, object]
) -> None:
    _assert_refused(http, "shape", body)


def test_safe_modes_are_applied_exactly(http: httpx.Client, logs: Path) -> None:
    # Positive control: the checks above refuse the dangerous modes, not every mode.
    for mode in ("0600", "0640", "0400"):
        target = logs / f"ok-{mode}.log"
        body = {"type": "file", "options": {"file_path": str(target), "mode": mode}}
        answer = http.put(f"/v1/sys/audit/ok-{mode}", json=body, headers=ROOT)
        assert answer.status_code == 204, answer.text
        assert stat.S_IMODE(target.stat().st_mode) == int(mode, 8)
        assert http.delete(f"/v1/sys/audit/ok-{mode}", headers=ROOT).status_code == 204
    # And none of the refused devices took the server down: requests are still served.
    assert _enabled(http) == {}
    assert http.get("/v1/secret/anything", headers=ROOT).status_code == 404
