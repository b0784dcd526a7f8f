"""The listener's HTTP/1.1 parser (llhttp via httptools) on raw sockets: Vault's ``LIST`` verb.

llhttp refuses methods it does not know; Hush's protocol turns a ``LIST`` request line into a
``GET`` for the parser and gives the application ``LIST``. These tests send the bytes themselves,
so they cover what no client library varies: the method split across packets, empty lines between
keep-alive requests, a pipelined ``LIST``, non-ASCII targets, and that ``LIST`` is not mistaken
for ``GET`` (a GET of a KV v1 folder's name is 404, a LIST of it its keys).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import orjson
import pytest

from tests.conftest import DEV_ROOT_TOKEN
from tests.support.server import HushProcess


@pytest.fixture(scope="module")
def server(dev_server: HushProcess) -> Iterator[HushProcess]:
    with dev_server.http() as http:
        headers = {"X-Vault-Token": DEV_ROOT_TOKEN}
        for name in ("a", "b"):
            reply = http.put(f"/v1/secret/proto/{name}", json={"v": name}, headers=headers)
            assert reply.status_code == 204
    yield dev_server


def _request(method: bytes, path: bytes = b"/v1/secret/proto/") -> bytes:
    return (
        method
        + b" "
        + path
        + b" HTTP/1.1\r\nHost: x\r\nX-Vault-Token: "
        + DEV_ROOT_TOKEN.encode()
        + b"\r\n\r\n"
    )


def _responses(sock: socket.socket, count: int) -> list[tuple[int, bytes]]:
    """Read ``count`` responses (status, body) off a keep-alive connection."""
    buffer = b""
    answers: list[tuple[int, bytes]] = []
    while len(answers) < count:
        while b"\r\n\r\n" not in buffer:
            chunk = sock.recv(65536)
            if not chunk:
                return answers
            buffer += chunk
        head, buffer = buffer.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length = next(
            (
                int(line.split(b":", 1)[1])
                for line in lines
                if line.lower().startswith(b"content-length:")
            ),
            0,
        )
        while len(buffer) < length:
            buffer += sock.recv(65536)
        answers.append((status, buffer[:length]))
        buffer = buffer[length:]
    return answers


def _keys(body: bytes) -> list[str]:
    return list(orjson.loads(body)["data"]["keys"])


def _connect(server: HushProcess) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=10)


def test_list_verb_lists_and_get_of_a_folder_does_not(server: HushProcess) -> None:
    with _connect(server) as sock:
        sock.sendall(_request(b"LIST"))
        ((status, body),) = _responses(sock, 1)
        assert status == 200 and _keys(body) == ["a", "b"]
        sock.sendall(_request(b"GET", b"/v1/secret/proto"))  # read as a secret: there is none
        ((status, _),) = _responses(sock, 1)
        assert status == 404


@pytest.mark.parametrize("split", [1, 2, 3, 4, 5, 7])
def test_list_split_across_packets(server: HushProcess, split: int) -> None:
    request = _request(b"LIST")
    with _connect(server) as sock:
        sock.sendall(request[:split])
        time.sleep(0.05)
        sock.sendall(request[split:])
        ((status, body),) = _responses(sock, 1)
    assert status == 200 and _keys(body) == ["a", "b"]


def test_keep_alive_mixes_verbs_and_tolerates_empty_lines(server: HushProcess) -> None:
    with _connect(server) as sock:
        for method in (b"GET", b"LIST", b"\r\nLIST", b"GET", b"\r\n\r\nLIST"):
            path = b"/v1/secret/proto/a" if method == b"GET" else b"/v1/secret/proto/"
            sock.sendall(_request(method, path))
            ((status, body),) = _responses(sock, 1)
            assert status == 200, method
            if method.endswith(b"LIST"):
                assert _keys(body) == ["a", "b"]
            else:
                assert orjson.loads(body)["data"] == {"v": "a"}


def test_other_methods_reach_the_application_and_get_vaults_405(server: HushProcess) -> None:
    """llhttp alone answers an unknown method with a plain-text 400; Vault answers 405 in its
    JSON error shape, and so does Hush, for any method token."""
    for method in (b"LISTX", b"BREW", b"LIS", b"M-SEARCH"):
        with _connect(server) as sock:
            sock.sendall(_request(method))
            ((status, body),) = _responses(sock, 1)
        assert status == 405, method
        assert orjson.loads(body) == {"errors": ["unsupported operation"]}


def test_malformed_request_lines_are_400(server: HushProcess) -> None:
    for line in (
        b" /v1/sys/health HTTP/1.1",
        b"G(T /v1/sys/health HTTP/1.1",
        b"GET\x00 / HTTP/1.1",
    ):
        with _connect(server) as sock:
            sock.sendall(line + b"\r\nHost: x\r\n\r\n")
            answers = _responses(sock, 1)
        assert answers and answers[0][0] == 400, line


def test_pipelined_list_is_refused_not_misread(server: HushProcess) -> None:
    """A LIST behind another request in one packet cannot be rewritten: 400, never a GET."""
    with _connect(server) as sock:
        sock.sendall(_request(b"GET", b"/v1/secret/proto/a") + _request(b"LIST"))
        statuses = [status for status, _ in _responses(sock, 2)]
    assert 400 in statuses and not any(s == 404 for s in statuses)


def test_non_ascii_target_is_400(server: HushProcess) -> None:
    with _connect(server) as sock:
        sock.sendall(_request(b"GET", "/v1/secret/proto/é".encode()))
        ((status, _),) = _responses(sock, 1)
    assert status == 400
    with _connect(server) as sock:
        sock.sendall(_request(b"LIST"))
        ((status, _),) = _responses(sock, 1)
    assert status == 200  # the server is fine afterwards
