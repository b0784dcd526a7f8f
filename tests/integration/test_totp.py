"""The TOTP engine through hvac against real servers: generated and imported keys, codes, bad
input in Vault's shape, replay refusal, and parallel validations on one and on two processes.

hvac has no TOTP helper, so the tests use ``client.adapter`` (Vault's raw HTTP API).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import hvac
import hvac.exceptions
import pyotp
import pytest

from tests.support.server import HushProcess, free_port, start_hush, write_config

MOUNT = "totp"
SECRET = base64.b32encode(b"12345678901234567890").decode()  # RFC 6238's SHA1 seed


@pytest.fixture(scope="module")
def client(dev_server: HushProcess) -> Iterator[hvac.Client]:
    root = dev_server.client()
    root.sys.enable_secrets_engine("totp", path=MOUNT)
    yield root


def _post(client: hvac.Client, path: str, data: dict[str, Any]) -> Any:
    return client.adapter.post(f"/v1/{MOUNT}/{path}", json=data)


def _errors(client: hvac.Client, path: str, data: dict[str, Any]) -> tuple[int, list[str]]:
    """Status and Vault ``errors`` of a raw POST (hvac's exceptions do not carry the status)."""
    response = httpx.post(
        f"{client.url}/v1/{MOUNT}/{path}",
        json=data,
        headers={"X-Vault-Token": str(client.token)},
        timeout=30,
    )
    assert response.status_code >= 400, response.text
    return response.status_code, list(response.json()["errors"])


def _stable_code(totp: pyotp.TOTP, period: int = 30) -> str:
    """The current code, waiting out the last 2 s of a period so the server sees the same step."""
    if period - time.time() % period < 2:
        time.sleep(period - time.time() % period + 0.1)
    return totp.now()


def test_generated_key_url_barcode_and_validation(client: hvac.Client) -> None:
    answer = _post(
        client,
        "keys/gen",
        {"generate": True, "issuer": "Acme", "account_name": "alice@example.com", "qr_size": 150},
    )["data"]
    url = urlsplit(answer["url"])
    query = parse_qs(url.query)
    assert (url.scheme, url.netloc, url.path) == ("otpauth", "totp", "/Acme:alice@example.com")
    assert query["issuer"] == ["Acme"] and query["algorithm"] == ["SHA1"]
    assert query["digits"] == ["6"] and query["period"] == ["30"]
    png = base64.b64decode(answer["barcode"])
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width = int.from_bytes(png[16:20], "big")
    assert 75 < width <= 150  # IHDR width: the largest whole-module scale fitting 150 px

    read = client.adapter.get(f"/v1/{MOUNT}/keys/gen")["data"]
    assert read == {
        "issuer": "Acme",
        "account_name": "alice@example.com",
        "period": 30,
        "algorithm": "SHA1",
        "digits": 6,
    }
    # The authenticator app side: the user's code, computed from the URL, is valid once.
    totp = pyotp.parse_uri(answer["url"])
    code = _stable_code(totp)
    assert _post(client, "code/gen", {"code": code})["data"] == {"valid": True}
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    assert _post(client, "code/gen", {"code": wrong})["data"] == {"valid": False}


def test_generated_key_without_export_or_barcode(client: hvac.Client) -> None:
    base = {"generate": True, "issuer": "Acme", "account_name": "bob"}
    no_barcode = _post(client, "keys/gen-url", {**base, "qr_size": 0})["data"]
    assert set(no_barcode) == {"url"}
    response = _post(client, "keys/gen-hidden", {**base, "exported": False})
    assert response.status_code == 204
    assert client.adapter.get(f"/v1/{MOUNT}/keys/gen-hidden")["data"]["issuer"] == "Acme"


def test_imported_key_generates_the_same_codes_as_the_client(client: hvac.Client) -> None:
    url = f"otpauth://totp/Bank:carol?secret={SECRET}&algorithm=SHA256&digits=8&period=60"
    assert _post(client, "keys/imported-url", {"url": url}).status_code == 204
    assert client.adapter.get(f"/v1/{MOUNT}/keys/imported-url")["data"] == {
        "issuer": "Bank",
        "account_name": "carol",
        "period": 60,
        "algorithm": "SHA256",
        "digits": 8,
    }
    local = pyotp.TOTP(SECRET, digits=8, digest="sha256", interval=60)
    served, expected = _served_and_local_code(client, "imported-url", local)
    assert served == {"code": expected}

    _post(client, "keys/imported-key", {"key": SECRET.lower(), "issuer": "Bank"})
    local = pyotp.TOTP(SECRET)
    served, expected = _served_and_local_code(client, "imported-key", local)
    assert served["code"] == expected


def _served_and_local_code(
    client: hvac.Client, name: str, local: pyotp.TOTP
) -> tuple[dict[str, Any], str]:
    """The server's code for key ``name`` and the client's for the same time step.

    The step is read before and after the request; a request that straddles a step boundary
    (a 2 s margin is not enough on a loaded machine) is asked again, at most three times.
    """
    for _ in range(3):
        before = time.time()
        served: dict[str, Any] = client.adapter.get(f"/v1/{MOUNT}/code/{name}")["data"]
        after = time.time()
        if local.timecode(before) == local.timecode(after):
            return served, local.at(before)
    raise AssertionError("three requests in a row straddled a TOTP step boundary")


def test_list_and_delete(client: hvac.Client) -> None:
    for name in ("list-a", "list-b"):
        _post(client, f"keys/{name}", {"key": SECRET})
    keys = client.adapter.request("LIST", f"/v1/{MOUNT}/keys")["data"]["keys"]
    assert {"list-a", "list-b"} <= set(keys)
    assert set(
        client.adapter.get(f"/v1/{MOUNT}/keys", params={"list": "true"})["data"]["keys"]
    ) == set(keys)
    client.adapter.delete(f"/v1/{MOUNT}/keys/list-a")
    with pytest.raises(hvac.exceptions.InvalidPath):
        client.adapter.get(f"/v1/{MOUNT}/keys/list-a")
    assert "list-a" not in client.adapter.request("LIST", f"/v1/{MOUNT}/keys")["data"]["keys"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"key": SECRET, "digits": 7}, "the digits value can only be 6 or 8"),
        ({"key": SECRET, "period": 0}, "the period value must be greater than zero"),
        ({"key": SECRET, "algorithm": "MD5"}, "the algorithm value is not valid"),
        ({"key": SECRET, "skew": 2}, "the skew value must be 0 or 1"),
        ({"key": SECRET, "qr_size": -1}, "the qr_size value must be greater than or equal to zero"),
        ({"key": SECRET, "key_size": 0}, "the key_size value must be greater than zero"),
        ({"key": "not*base32"}, "invalid key value: illegal base32 data at input byte 3"),
        ({}, "the key value is required"),
        ({"url": "https://example.com/"}, "the key value is required"),  # as OpenBao
        (
            {"url": f"otpauth://totp/%zz?secret={SECRET}"},
            "an error occurred while parsing url string",
        ),
        ({"key": "GEZDGNBVGY3"}, "invalid key value: illegal base32 data at input byte 11"),
        ({"key": "AB=CD"}, "invalid key value: illegal base32 data at input byte 2"),
        (
            {"url": f"otpauth://totp/x?secret={SECRET}&period=-5"},
            "the period value must be greater than zero",
        ),
        (
            {"url": f"otpauth://totp/x?secret={SECRET}&digits=six"},
            "an error occurred while parsing digits value in url",
        ),
        (
            {"url": f"otpauth://totp/x?secret={SECRET}&digits=7"},
            "the digits value can only be 6 or 8",
        ),
        ({"generate": True, "key": SECRET}, "a key should not be passed if generate is true"),
        (
            {"generate": True, "url": "otpauth://totp/x"},
            "a url should not be passed if generate is true",
        ),
        (
            {"generate": True, "issuer": "i"},
            "the account_name value is required for generated keys",
        ),
        (
            {"generate": True, "account_name": "a"},
            "the issuer value is required for generated keys",
        ),
        ({"key": SECRET, "digits": "many"}, 'error converting input for field "digits"'),
        ({"key": SECRET, "generate": [1]}, 'error converting input for field "generate"'),
        ({"key": {"a": 1}}, 'error converting input for field "key"'),
    ],
)
def test_bad_key_input_is_400_in_vault_shape(
    client: hvac.Client, data: dict[str, Any], message: str
) -> None:
    status, errors = _errors(client, "keys/bad", data)
    assert status == 400
    assert len(errors) == 1 and errors[0].startswith(message), errors
    with pytest.raises(hvac.exceptions.InvalidPath):  # nothing half-written
        client.adapter.get(f"/v1/{MOUNT}/keys/bad")


def test_bad_input_never_echoes_the_secret(client: hvac.Client) -> None:
    secret = "SECRETCANARYX*" + "A" * 10
    status, errors = _errors(client, "keys/echo", {"key": secret})
    assert status == 400 and "SECRETCANARY" not in " ".join(errors)


def test_unknown_key(client: hvac.Client) -> None:
    with pytest.raises(hvac.exceptions.InvalidPath):
        client.adapter.get(f"/v1/{MOUNT}/keys/missing")
    for call in (
        lambda: client.adapter.get(f"/v1/{MOUNT}/code/missing"),
        lambda: _post(client, "code/missing", {"code": "123456"}),
    ):
        with pytest.raises(hvac.exceptions.InvalidRequest) as caught:
            call()
        assert caught.value.errors == ["unknown key: missing"]


def test_code_replay_within_its_period_is_refused(client: hvac.Client) -> None:
    _post(client, "keys/replay", {"key": SECRET})
    code = _stable_code(pyotp.TOTP(SECRET))
    assert _post(client, "code/replay", {"code": code})["data"] == {"valid": True}
    status, errors = _errors(client, "code/replay", {"code": code})
    assert (status, errors) == (400, ["code already used; wait until the next time period"])
    # A different (wrong) code is still answered, and is itself refused the second time (Vault).
    other = f"{(int(code) + 500_000) % 1_000_000:06d}"
    assert _post(client, "code/replay", {"code": other})["data"] == {"valid": False}
    assert _errors(client, "code/replay", {"code": other})[0] == 400
    # Full-width digits are not another spelling of the same code (OpenBao's length check, on
    # UTF-8 bytes, refuses them; pyotp alone would have normalised them to ASCII and accepted).
    full_width = "".join(chr(ord(c) - 0x30 + 0xFF10) for c in code)
    assert _errors(client, "code/replay", {"code": full_width}) == (
        400,
        ["invalid number of digits for the code"],
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "the code value is required"),
        ({"code": "12345"}, "invalid number of digits for the code"),
        ({"code": "1234567"}, "invalid number of digits for the code"),
        ({"code": ["123456"]}, 'error converting input for field "code"'),
    ],
)
def test_bad_code_input_is_400_and_not_recorded(
    client: hvac.Client, data: dict[str, Any], message: str
) -> None:
    _post(client, "keys/bad-code", {"key": SECRET})
    for _ in range(2):  # the same answer again: nothing was recorded as used
        status, errors = _errors(client, "code/bad-code", data)
        assert status == 400 and len(errors) == 1 and errors[0].startswith(message), errors


def test_replaced_key_forgets_used_codes(client: hvac.Client) -> None:
    _post(client, "keys/replaced", {"key": SECRET})
    code = _stable_code(pyotp.TOTP(SECRET))
    assert _post(client, "code/replaced", {"code": code})["data"] == {"valid": True}
    _post(client, "keys/replaced", {"key": SECRET})
    assert _post(client, "code/replaced", {"code": code})["data"] == {"valid": True}


def _parallel_validations(url: str, token: str, name: str, code: str) -> list[int | bool]:
    def one(_: int) -> int | bool:
        with httpx.Client(base_url=url, timeout=30) as http:  # one connection each
            response = http.post(
                f"/v1/{MOUNT}/code/{name}", json={"code": code}, headers={"X-Vault-Token": token}
            )
        if response.status_code == 200:
            return bool(response.json()["data"]["valid"])
        assert response.json() == {"errors": ["code already used; wait until the next time period"]}
        return response.status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        return list(pool.map(one, range(10)))


def test_parallel_validations_accept_a_code_once(
    client: hvac.Client, dev_server: HushProcess
) -> None:
    _post(client, "keys/parallel", {"key": SECRET})
    code = _stable_code(pyotp.TOTP(SECRET))
    results = _parallel_validations(dev_server.url, dev_server.root_token, "parallel", code)
    assert results.count(True) == 1 and results.count(400) == 9, results


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[Callable[[], tuple[HushProcess, str]]]:
    started: list[HushProcess] = []

    def start() -> tuple[HushProcess, str]:
        port = free_port()
        config = write_config(tmp_path, port, "sqlite", path=str(tmp_path / "hush.db"))
        server = start_hush(tmp_path, [f"-config={config}", "-workers=2"], port=port)
        started.append(server)
        init = server.client().sys.initialize(secret_shares=1, secret_threshold=1)
        with httpx.Client(base_url=server.url, timeout=10) as http:
            http.put("/v1/sys/unseal", json={"key": init["keys"][0]}).raise_for_status()
        return server, str(init["root_token"])

    yield start
    for server in started:
        server.stop()


def test_parallel_validations_across_worker_processes(
    two_workers: Callable[[], tuple[HushProcess, str]],
) -> None:
    server, token = two_workers()
    admin = server.client(token)
    admin.sys.enable_secrets_engine("totp", path=MOUNT)
    admin.adapter.post(f"/v1/{MOUNT}/keys/shared", json={"key": SECRET})
    code = _stable_code(pyotp.TOTP(SECRET))
    results = _parallel_validations(server.url, token, "shared", code)
    assert results.count(True) == 1 and results.count(400) == 9, results
