"""Bad input is refused with Vault's status codes and error envelope, and changes nothing."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote

import httpx
import hvac
import hvac.exceptions
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.conftest import DEV_ROOT_TOKEN, ServerFactory
from tests.support.server import HushProcess

ROOT = {"X-Vault-Token": DEV_ROOT_TOKEN}


def _error_text(body: Any) -> str:
    """Assert ``body`` is exactly ``{"errors": [<non-empty messages>]}``; return the first."""
    assert isinstance(body, dict) and set(body) == {"errors"}, body
    errors = body["errors"]
    assert isinstance(errors, list) and errors, body
    assert all(isinstance(e, str) and e.strip() for e in errors), body
    return str(errors[0])


def _assert_error(response: httpx.Response, status: int, fragment: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert fragment in _error_text(response.json())


def _assert_empty_404(response: httpx.Response) -> None:
    # Vault answers a missing secret or an empty folder with 404 and an empty error list.
    assert response.status_code == 404, response.text
    assert response.json() == {"errors": []}


def _init(client: hvac.Client, shares: int, threshold: int) -> dict[str, Any]:
    result = client.sys.initialize(secret_shares=shares, secret_threshold=threshold)
    assert isinstance(result, dict)
    return result


def _unsealed_with_kv(server: HushProcess) -> hvac.Client:
    """Initialise 1/1, unseal, mount KV v1 at ``kv/``; return a root client."""
    result = _init(server.client(), 1, 1)
    client = server.client(str(result["root_token"]))
    client.sys.submit_unseal_key(result["keys"][0])
    client.sys.enable_secrets_engine("kv", path="kv", options={"version": "1"})
    return client


# -- unseal shares ---------------------------------------------------------------------------


def test_bad_unseal_shares_are_400_and_keep_progress(sealed_server: ServerFactory) -> None:
    server = sealed_server("inmem")
    client = server.client()
    keys: list[str] = _init(client, 3, 2)["keys"]
    bad_bodies: list[tuple[dict[str, Any], str]] = [
        ({"key": "ab" * 10}, "expected 33 bytes, got 10"),
        ({"key": base64.b64encode(b"x" * 40).decode()}, "expected 33 bytes, got 40"),
        ({"key": "this is !!! neither hex nor base64"}, "valid hex or base64"),
        ({}, "'key' must be specified"),
        ({"key": ""}, "'key' must be specified"),
        ({"reset": False}, "'key' must be specified"),
    ]
    with server.http() as http:

        def refuse_all() -> None:
            before = client.sys.read_seal_status()
            for body, fragment in bad_bodies:
                _assert_error(http.post("/v1/sys/unseal", json=body), 400, fragment)
                assert client.sys.read_seal_status() == before, body

        refuse_all()
        assert client.sys.read_seal_status()["nonce"] == ""  # no attempt was started

        client.sys.submit_unseal_key(keys[0])
        refuse_all()
        # The same share again, in either encoding, is refused and does not count.
        for again in (keys[0], base64.b64encode(bytes.fromhex(keys[0])).decode()):
            with pytest.raises(hvac.exceptions.InvalidRequest) as info:
                client.sys.submit_unseal_key(again)
            assert "duplicate key share" in _error_text(info.value.json)
        status = client.sys.read_seal_status()
        assert (status["sealed"], status["progress"]) == (True, 1)

    # The progress kept through all that still completes the quorum.
    client.sys.submit_unseal_key(keys[2])
    assert client.sys.is_sealed() is False


def test_unseal_before_init_is_400(sealed_server: ServerFactory) -> None:
    server = sealed_server("inmem")
    with pytest.raises(hvac.exceptions.InvalidRequest) as info:
        server.client().sys.submit_unseal_key("ab" * 33)
    assert "not initialized" in _error_text(info.value.json)
    assert server.client().sys.read_seal_status()["progress"] == 0


# -- sys/init --------------------------------------------------------------------------------


def test_malformed_json_is_400_and_does_not_initialise(sealed_server: ServerFactory) -> None:
    server = sealed_server("inmem")
    bodies = [
        b'{"key":',
        b'{"secret_shares": 1, "secret_threshold": 1',
        b"[1, 1]",
        b'"init"',
        b"null",
        b"\xff\xfe",
    ]
    with server.http() as http:
        for body in bodies:
            for path in ("/v1/sys/init", "/v1/sys/unseal"):
                _assert_error(http.post(path, content=body), 400, "failed to parse JSON")
    assert server.client().sys.read_seal_status()["initialized"] is False


def test_invalid_init_parameters_are_400_and_keep_store_uninitialised(
    sealed_server: ServerFactory,
) -> None:
    server = sealed_server("sqlite")
    client = server.client()
    cases: list[tuple[dict[str, Any], str]] = [
        ({"secret_shares": 3, "secret_threshold": 5}, "threshold cannot be larger than shares"),
        ({"secret_shares": 0, "secret_threshold": 0}, "shares must be at least one"),
        ({"secret_shares": 300, "secret_threshold": 3}, "shares must be less than 256"),
        ({"secret_shares": 3, "secret_threshold": 1}, "threshold must be greater than one"),
        ({"secret_shares": 1, "secret_threshold": 0}, "threshold must be at least one"),
        ({"secret_shares": "many", "secret_threshold": 1}, '"secret_shares"'),
        ({"secret_shares": 1, "secret_threshold": [1]}, '"secret_threshold"'),
        ({"secret_shares": 1.5, "secret_threshold": 1}, '"secret_shares"'),
    ]
    for body, fragment in cases:
        with pytest.raises(hvac.exceptions.InvalidRequest) as info:
            client.sys.initialize(**body)
        assert fragment in _error_text(info.value.json), body
        assert client.sys.is_initialized() is False, body
    status = client.sys.read_seal_status()
    assert (status["initialized"], status["t"], status["n"]) == (False, 0, 0)
    # A restart reads storage: nothing was written there either.
    server.restart()
    assert server.client().sys.is_initialized() is False


def test_init_twice_is_400_and_keeps_the_first_keys(sealed_server: ServerFactory) -> None:
    server = sealed_server("sqlite")
    client = server.client()
    first = _init(client, 1, 1)
    with pytest.raises(hvac.exceptions.InvalidRequest) as info:
        client.sys.initialize(secret_shares=3, secret_threshold=2)
    assert "already initialized" in _error_text(info.value.json)
    assert client.sys.read_seal_status()["n"] == 1

    # Sealed: everything but the seal-lifecycle endpoints answers 503, token or not.
    root = str(first["root_token"])
    with server.http() as http:
        for path in ("/v1/secret/foo", "/v1/sys/mounts", "/v1/auth/token/lookup-self"):
            for headers in ({}, {"X-Vault-Token": root}):
                _assert_error(http.get(path, headers=headers), 503, "Vault is sealed")
    with pytest.raises(hvac.exceptions.VaultDown) as sealed:
        server.client(root).secrets.kv.v1.read_secret("foo", mount_point="secret")
    assert _error_text(sealed.value.json) == "Vault is sealed"

    client.sys.submit_unseal_key(first["keys"][0])
    assert client.sys.is_sealed() is False


# -- the front end: routes, verbs, sizes -----------------------------------------------------


def test_unknown_route_is_404_with_token_and_403_without(dev_server: HushProcess) -> None:
    with dev_server.http() as http:
        _assert_error(
            http.get("/v1/nowhere/foo", headers=ROOT), 404, 'no handler for route "nowhere/foo"'
        )
        _assert_error(http.get("/v1/nowhere/foo"), 403, "permission denied")
        _assert_error(
            http.get("/v1/nowhere/foo", headers={"X-Vault-Token": "not-a-token"}),
            403,
            "permission denied",
        )


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", "sys/seal-status"),
        ("PATCH", "sys/init"),
        ("PUT", "sys/seal-status"),
        ("BREW", "sys/seal-status"),
        ("BREW", "secret/foo"),
        ("PATCH", "secret/foo"),
        ("GET", "sys/seal"),
    ],
)
def test_wrong_verb_is_405_and_changes_nothing(
    dev_server: HushProcess, method: str, path: str
) -> None:
    client = dev_server.client()
    client.secrets.kv.v1.create_or_update_secret("foo", {"v": "kept"}, mount_point="secret")
    before = client.sys.read_seal_status()
    with dev_server.http() as http:
        response = http.request(method, f"/v1/{path}", headers=ROOT, json={"v": "changed"})
    _assert_error(response, 405, "unsupported operation")
    assert client.sys.read_seal_status() == before
    assert client.secrets.kv.v1.read_secret("foo", mount_point="secret")["data"] == {"v": "kept"}


def test_oversized_body_is_413_and_not_written(sealed_server: ServerFactory) -> None:
    server = sealed_server("inmem", listener_max_request_size=4096)
    client = _unsealed_with_kv(server)
    token = {"X-Vault-Token": str(client.token)}
    big = {"v": "x" * 10 * 1024}
    with server.http() as http:
        _assert_error(http.post("/v1/kv/big", json=big, headers=token), 413, "too large")
        # Without a Content-Length (chunked), the limit is enforced while reading.
        chunks = iter([b'{"v": "', b"x" * 10 * 1024, b'"}'])
        _assert_error(http.put("/v1/kv/big", content=chunks, headers=token), 413, "too large")
        _assert_empty_404(http.get("/v1/kv/big", headers=token))
        # Just under the limit is fine: the size is the only reason for the refusals.
        assert http.post("/v1/kv/big", json={"v": "x" * 3000}, headers=token).status_code == 204
        _assert_error(http.post("/v1/kv/big", json=big, headers=token), 413, "too large")
    assert client.secrets.kv.v1.read_secret("big", mount_point="kv")["data"] == {"v": "x" * 3000}


@pytest.mark.parametrize("code", ["-1", "0", "99", "100", "600", "1000", "9" * 20])
def test_unsendable_health_status_code_is_400(dev_server: HushProcess, code: str) -> None:
    with dev_server.http() as http:
        response = http.get("/v1/sys/health", params={"activecode": code})
        _assert_error(response, 400, '"activecode"')
        # The connection survived and the defaults still apply.
        assert http.get("/v1/sys/health").status_code == 200


# -- KV and typed fields on the dev server ---------------------------------------------------


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"", "missing data fields"),
        (b"{}", "missing data fields"),
        (b"   ", "missing data fields"),
        (b'{"key":', "failed to parse JSON"),
        (b'[{"v": "changed"}]', "failed to parse JSON"),
        (b'{"v": "changed"} trailing', "failed to parse JSON"),
    ],
)
def test_bad_kv_write_is_400_and_keeps_the_secret(
    dev_server: HushProcess, body: bytes, fragment: str
) -> None:
    client = dev_server.client()
    client.secrets.kv.v1.create_or_update_secret("kept", {"v": "original"}, mount_point="secret")
    with dev_server.http() as http:
        _assert_error(http.post("/v1/secret/kept", content=body, headers=ROOT), 400, fragment)
        _assert_error(http.post("/v1/secret/never", content=body, headers=ROOT), 400, fragment)
        _assert_empty_404(http.get("/v1/secret/never", headers=ROOT))
    secret = client.secrets.kv.v1.read_secret("kept", mount_point="secret")
    assert secret["data"] == {"v": "original"}


def test_missing_secret_and_empty_folder_are_404(dev_server: HushProcess) -> None:
    with dev_server.http() as http:
        _assert_empty_404(http.get("/v1/secret/does/not/exist", headers=ROOT))
        _assert_empty_404(http.request("LIST", "/v1/secret/empty-folder", headers=ROOT))
        _assert_empty_404(http.get("/v1/secret/empty-folder/?list=true", headers=ROOT))


def test_wrongly_typed_field_is_400_naming_it(dev_server: HushProcess) -> None:
    client = dev_server.client()
    mounts_before = client.sys.list_mounted_secrets_engines()["data"]
    with pytest.raises(hvac.exceptions.InvalidRequest) as info:
        client.sys.enable_secrets_engine("kv", path="typed", options="version=1")
    assert '"options"' in _error_text(info.value.json)
    with dev_server.http() as http:
        init = http.post("/v1/sys/init", json={"secret_shares": "many"})
        _assert_error(init, 400, 'field "secret_shares"')
        health = http.get("/v1/sys/health", params={"sealedcode": "teapot"})
        _assert_error(health, 400, '"sealedcode"')
    assert client.sys.list_mounted_secrets_engines()["data"] == mounts_before


def test_share_updates_without_an_operation_are_400(dev_server: HushProcess) -> None:
    client = dev_server.client()
    share = "ab" * 32
    with pytest.raises(hvac.exceptions.InvalidRequest) as rekey:
        client.sys.rekey(share, nonce="no-such-nonce")
    assert "no rekey in progress" in _error_text(rekey.value.json)
    with pytest.raises(hvac.exceptions.InvalidRequest) as root:
        client.sys.generate_root(share, nonce="no-such-nonce")
    assert "no root generation in progress" in _error_text(root.value.json)
    assert client.sys.read_rekey_progress()["started"] is False
    assert client.sys.read_root_generation_progress()["started"] is False


def test_seal_needs_a_valid_token(dev_server: HushProcess) -> None:
    with dev_server.http() as http:
        _assert_error(http.post("/v1/sys/seal"), 403, "permission denied")
        _assert_error(
            http.post("/v1/sys/seal", headers={"X-Vault-Token": "bogus"}), 403, "permission denied"
        )
    with pytest.raises(hvac.exceptions.Forbidden):
        dev_server.client("s.bogus").sys.seal()
    assert dev_server.client().sys.is_sealed() is False


# -- help and OpenAPI ------------------------------------------------------------------------


def test_help_query_describes_the_path(dev_server: HushProcess) -> None:
    with dev_server.http() as http:
        response = http.get("/v1/secret/foo", params={"help": "1"}, headers=ROOT)
    assert response.status_code == 200
    body = response.json()
    assert isinstance(body["help"], str) and body["help"].strip()


def test_openapi_document_lists_sys_and_mounted_paths(dev_server: HushProcess) -> None:
    document = dev_server.client().read("sys/internal/specs/openapi")
    assert isinstance(document, dict)
    assert str(document["openapi"]).startswith("3.")
    paths = document["paths"]
    for expected in ("/sys/init", "/sys/unseal", "/sys/rekey/init"):
        assert expected in paths
        assert paths[expected]  # a path item with at least one operation or description
    assert any(p.startswith("/secret/") for p in paths), sorted(paths)


# -- fuzzing: no input makes the server fail -------------------------------------------------

_FIELD_NAMES = [
    "key", "reset", "migrate", "nonce", "otp", "secret_shares", "secret_threshold",
    "stored_shares", "pgp_keys", "type", "options", "config", "description", "path",
    "version", "ttl", "policies", "data", "cas", "list", "help", "activecode", "sealedcode",
    "uninitcode", "standbycode", "standbyok",
]  # fmt: skip
_SEGMENTS = st.sampled_from(
    [
        "sys", "secret", "auth", "token", "init", "unseal", "seal-status", "health", "leader",
        "key-status", "rotate", "rekey", "generate-root", "attempt", "update", "verify",
        "mounts", "tune", "internal", "specs", "openapi", "ui", "lookup", "lookup-self",
        "create", "roles", "accessors", "capabilities-self", "policy", "policies", "acl",
        "foo", "", ".", "..", "%", "*", "+", "é", "\x00",
    ]
) | st.text(max_size=10)  # fmt: skip
# Real routes, so that bodies and queries also reach handlers and not only the router.
_ROUTES = st.sampled_from(
    [
        "sys/init", "sys/unseal", "sys/seal-status", "sys/health", "sys/leader",
        "sys/key-status", "sys/rekey/init", "sys/rekey/update", "sys/rekey/verify",
        "sys/generate-root/attempt", "sys/generate-root/update", "sys/mounts",
        "sys/mounts/secret", "sys/internal/specs/openapi", "secret/foo", "secret/",
        "auth/token/lookup-self", "auth/token/create", "auth/token/lookup",
    ]
).map(lambda route: route.split("/"))  # fmt: skip
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(_FIELD_NAMES) | st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=12,
)
_BODIES = (
    st.dictionaries(st.sampled_from(_FIELD_NAMES), _JSON, max_size=5).map(
        lambda d: json.dumps(d).encode()
    )
    | _JSON.map(lambda v: json.dumps(v).encode())
    | st.binary(max_size=40)
    | st.sampled_from([b'{"key":', b"{", b'{"a": 1e999}', b"[" * 5000, b'{"a": 1' + b"0" * 400])
)
_QUERIES = st.sampled_from([{}, {"list": "true"}, {"help": "1"}, {"list": "x"}]) | st.dictionaries(
    st.sampled_from(_FIELD_NAMES) | st.text(max_size=6),
    st.text(max_size=10) | st.integers().map(str),
    max_size=3,
)
_METHODS = st.sampled_from(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "LIST", "BREW"])


def _destructive(method: str, segments: list[str]) -> bool:
    """Requests that would take the shared dev server away from later examples."""
    words = [s for s in "/".join(segments).split("/") if s]
    if "seal" in words or any("revoke" in w for w in words):
        return True
    writes = method not in ("GET", "HEAD", "LIST")
    return "remount" in words or (writes and "mounts" in words)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    method=_METHODS,
    segments=_ROUTES | st.lists(_SEGMENTS, max_size=5),
    query=_QUERIES,
    body=_BODIES,
)
def test_random_requests_never_get_a_5xx(
    dev_server: HushProcess,
    method: str,
    segments: list[str],
    query: dict[str, str],
    body: bytes,
) -> None:
    assume(not _destructive(method, segments))
    path = "/v1/" + "/".join(quote(s, safe="") for s in segments)
    with dev_server.http() as http:
        response = http.request(method, path, params=query, content=body, headers=ROOT)
        assert response.status_code < 500, (response.status_code, response.text)
        if response.status_code >= 400 and method != "HEAD":
            errors = response.json()["errors"]
            assert isinstance(errors, list) and all(isinstance(e, str) for e in errors)
        # The server is still up, unsealed and serving the root token.
        assert http.get("/v1/sys/mounts", headers=ROOT).status_code == 200
        # Leave the shared server as found: drop any rekey or root generation a request began.
        for started in ("sys/rekey/init", "sys/generate-root/attempt"):
            assert http.delete(f"/v1/{started}", headers=ROOT).status_code == 204
