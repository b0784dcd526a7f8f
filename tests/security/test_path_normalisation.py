"""Path normalisation: a token allowed ``secret/data/app/*`` reaches nothing else by path tricks.

What the server sees: uvicorn (httptools) percent-decodes the request target into ``scope["path"]``
(``%2F`` becomes ``/``, ``%2e`` becomes ``.``) and does **not** remove ``.`` or ``..`` segments;
Hush uses that one decoded string for the ACL check, the routing and the storage key, so the
policy always judges the path that is served. ``..`` cannot climb out of a glob because nothing
resolves it: the KV engines refuse empty, ``.`` and ``..`` segments with 400, and any other mount
would treat it as a literal name. Requests go out through :mod:`http.client` so that no client
library normalises the target first.
"""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import orjson
import pytest

from tests.conftest import DEV_ROOT_TOKEN
from tests.support.server import HushProcess

ROOT = {"X-Vault-Token": DEV_ROOT_TOKEN}
INSIDE = {"v": "inside-app-x"}
OUTSIDE = {"v": "outside-other-y"}
READER_POLICY = """
path "secret/data/app/*" { capabilities = ["read"] }
path "kv1/app/*" { capabilities = ["create", "read", "update"] }
"""


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes


def send(server: HushProcess, method: str, target: str, token: str, body: bytes = b"") -> Reply:
    """One request with ``target`` sent byte for byte (no client-side normalisation)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request(method, target, body=body or None, headers={"X-Vault-Token": token})
        response = conn.getresponse()
        return Reply(response.status, response.read())
    finally:
        conn.close()


@pytest.fixture(scope="module")
def reader(kv2_server: HushProcess) -> Iterator[str]:
    """A token that may read ``secret/data/app/*`` only; secrets planted inside and outside."""
    with kv2_server.http() as http:
        assert http.put("/v1/sys/policy/app-reader", json={"policy": READER_POLICY}, headers=ROOT)
        mounted = http.post("/v1/sys/mounts/kv1", json={"type": "kv"}, headers=ROOT)
        assert mounted.status_code == 204
        for path, data in (("app/x", INSIDE), ("other/y", OUTSIDE), ("x", OUTSIDE)):
            written = http.post(f"/v1/secret/data/{path}", json={"data": data}, headers=ROOT)
            assert written.status_code == 200, written.text
        assert http.post("/v1/kv1/other/y", json=OUTSIDE, headers=ROOT).status_code == 204
        created = http.post(
            "/v1/auth/token/create", json={"policies": ["app-reader"]}, headers=ROOT
        )
        yield created.json()["auth"]["client_token"]


# Targets that must not be served to the reader: each answer is a 4xx, never data, never 5xx.
REFUSED = [
    ("GET", "/v1/secret/data/app/../../metadata/app/x"),
    ("GET", "/v1/secret/data/app/../other/y"),
    ("GET", "/v1/secret/data/app/%2e%2e/other/y"),
    ("GET", "/v1/secret/data/app/%2E%2E/%2E%2E/data/other/y"),
    ("GET", "/v1/secret/data/app/..%2Fother%2Fy"),
    ("GET", "/v1/secret/data/app/%2e%2e%2fother%2fy"),
    ("GET", "/v1/secret//data/app/x"),
    ("GET", "/v1/secret/data//app/x"),
    ("GET", "/v1/secret/data/app//x"),
    ("GET", "/v1/secret/data/app/./x"),
    ("GET", "/v1/secret/./data/app/x"),
    ("GET", "/v1/./secret/data/app/x"),
    ("GET", "/v1/secret/data/app/x/"),
    ("GET", "/v1/secret/metadata/app/x"),
    ("GET", "/v1/secret/subkeys/app/x"),
    ("GET", "/v1/secret/data/APP/x"),
    ("GET", "/v1/secret/data/%EF%BD%81pp/x"),  # fullwidth "a"
    ("GET", "/v1/secret/data/app/x%00"),
    ("GET", "/v1/secret/data/app\\..\\other/y"),
    ("GET", "/v1/secret/data/app/%5c..%5cother%5cy"),
    ("GET", "/v1/secret/data/app/%252e%252e/other/y"),  # double encoding stays literal
    ("GET", "/v1/sys/../secret/data/other/y"),
    ("GET", "/v1/secret/data/app/x?list=true"),
    ("LIST", "/v1/secret/metadata/app/"),
    ("POST", "/v1/secret/delete/app/x"),
    ("POST", "/v1/secret/destroy/app/x"),
    ("POST", "/v1/secret/undelete/app/x"),
    ("POST", "/v1/secret/data/app/x"),
    ("DELETE", "/v1/secret/data/app/x"),
    ("DELETE", "/v1/secret/metadata/app/x"),
    ("PATCH", "/v1/secret/data/app/x"),
]


@pytest.mark.parametrize(("method", "target"), REFUSED)
def test_tricks_never_reach_a_path_outside_the_glob(
    kv2_server: HushProcess, reader: str, method: str, target: str
) -> None:
    body = (
        b'{"versions": [1], "data": {"v": "overwritten"}}' if method in ("POST", "PATCH") else b""
    )
    reply = send(kv2_server, method, target, reader, body)
    assert 400 <= reply.status < 500, (reply.status, reply.body)
    assert b"outside-other-y" not in reply.body and b"inside-app-x" not in reply.body


@pytest.mark.parametrize(
    "target",
    ["/v1/secret/data/app/x", "/v1/secret/data/app%2Fx", "/v1/secret%2Fdata%2Fapp%2Fx"],
)
def test_encoded_slashes_are_the_same_path_for_policy_and_routing(
    kv2_server: HushProcess, reader: str, target: str
) -> None:
    # %2F is decoded before both the ACL and the router see the path (as Go's URL.Path does for
    # Vault), so these three are one path, inside the glob, and serve the inside secret.
    reply = send(kv2_server, "GET", target, reader)
    assert reply.status == 200, reply.body
    assert orjson.loads(reply.body)["data"]["data"] == INSIDE


def test_root_cannot_climb_out_of_a_mount_either(kv2_server: HushProcess, reader: str) -> None:
    for target in ("/v1/sys/../secret/data/other/y", "/v1/secret/data/x/../other/y"):
        reply = send(kv2_server, "GET", target, DEV_ROOT_TOKEN)
        assert 400 <= reply.status < 500, (target, reply.status, reply.body)
        assert b"outside-other-y" not in reply.body


def test_dot_segments_write_only_inside_the_glob(kv2_server: HushProcess, reader: str) -> None:
    # The token may write under kv1/app/; "..", raw or encoded, is refused by the KV engines
    # (both versions) rather than resolved, so the secret outside the glob stays untouched.
    for target in ("/v1/kv1/app/../other/y", "/v1/kv1/app/%2e%2e/other/y"):
        reply = send(kv2_server, "POST", target, reader, b'{"v": "overwritten"}')
        assert reply.status == 400, (target, reply.status, reply.body)
        read = send(kv2_server, "GET", target, reader)
        assert b"outside-other-y" not in read.body
    with httpx.Client(base_url=kv2_server.url) as http:
        stored = http.get("/v1/kv1/other/y", headers=ROOT).json()["data"]
    assert stored == OUTSIDE
    assert send(kv2_server, "GET", "/v1/kv1/other/y", reader).status == 403


def test_long_and_nul_paths_are_400_not_500(kv2_server: HushProcess) -> None:
    # Regression: a NUL byte or a path longer than the storage key limit reached the storage
    # layer and came back as a 500.
    for method in ("GET", "POST", "DELETE", "LIST"):
        for target in (
            "/v1/secret/data/a%00b",
            "/v1/kv1/a%00b",
            "/v1/cubbyhole/a%00b",
            "/v1/auth/token/roles/a%00b",
            "/v1/secret/data/" + "a" * 5000,
            "/v1/kv1/" + "a" * 5000,
            "/v1/cubbyhole/" + "a" * 5000,
            "/v1/secret/metadata/" + "a/" * 3000,
        ):
            body = b'{"data": {"v": 1}, "v": 1}' if method == "POST" else b""
            reply = send(kv2_server, method, target, DEV_ROOT_TOKEN, body)
            assert 400 <= reply.status < 500, (method, target[:40], reply.status, reply.body)
