"""Seal lifecycle through hvac: init, unseal, seal, restart, rotate, rekey, generate-root."""

from __future__ import annotations

import base64

import hvac
import hvac.exceptions
import pytest

from hush.core.generate_root import decode_token
from tests.conftest import ServerFactory


def _init(client: hvac.Client, shares: int = 5, threshold: int = 3) -> dict[str, object]:
    result = client.sys.initialize(secret_shares=shares, secret_threshold=threshold)
    assert isinstance(result, dict)
    return result


def test_init_unseal_seal_restart_keeps_data(sealed_server: ServerFactory) -> None:
    server = sealed_server("sqlite")
    client = server.client()
    assert client.sys.is_initialized() is False
    assert client.sys.read_health_status(method="HEAD").status_code == 501
    result = _init(client)
    keys = result["keys"]
    assert isinstance(keys, list) and len(keys) == 5
    assert len(result["keys_base64"]) == 5  # type: ignore[arg-type]
    assert client.sys.is_initialized() is True
    assert client.sys.is_sealed() is True
    assert client.sys.read_health_status(method="HEAD").status_code == 503

    # Unseal with three of five shares, mixing hex and base64 encodings.
    client.sys.submit_unseal_key(keys[0])
    status = client.sys.read_seal_status()
    assert (status["sealed"], status["progress"], status["t"], status["n"]) == (True, 1, 3, 5)
    client.sys.submit_unseal_keys([result["keys_base64"][3], keys[4]])  # type: ignore[index]
    assert client.sys.is_sealed() is False
    assert client.sys.read_health_status(method="HEAD").status_code == 200

    client.token = result["root_token"]
    client.sys.enable_secrets_engine("kv", path="kv", options={"version": "1"})
    client.secrets.kv.v1.create_or_update_secret(
        "app/db", {"password": "hunter2"}, mount_point="kv"
    )

    # Restart: sealed again; the same shares restore everything.
    server.restart()
    client = server.client(str(result["root_token"]))
    assert client.sys.is_sealed() is True
    with pytest.raises(hvac.exceptions.VaultDown):
        client.secrets.kv.v1.read_secret("app/db", mount_point="kv")
    client.sys.submit_unseal_keys(keys[1:4])
    secret = client.secrets.kv.v1.read_secret("app/db", mount_point="kv")
    assert secret["data"] == {"password": "hunter2"}

    client.sys.seal()
    assert client.sys.is_sealed() is True
    with pytest.raises(hvac.exceptions.VaultDown) as info:
        client.secrets.kv.v1.read_secret("app/db", mount_point="kv")
    assert "Vault is sealed" in str(info.value)


def test_health_query_parameters_choose_status_codes(sealed_server: ServerFactory) -> None:
    server = sealed_server("inmem")
    with server.http() as http:
        assert http.get("/v1/sys/health", params={"uninitcode": 299}).status_code == 299
        _init(server.client(), 1, 1)
        assert http.get("/v1/sys/health").status_code == 503
        assert http.get("/v1/sys/health", params={"sealedcode": 200}).status_code == 200
        head = http.head("/v1/sys/health")
        assert head.status_code == 503 and head.content == b""
        bad = http.get("/v1/sys/health", params={"sealedcode": "abc"})
        assert bad.status_code == 400 and "sealedcode" in bad.json()["errors"][0]


def test_rotate_adds_a_term_and_old_data_still_decrypts(sealed_server: ServerFactory) -> None:
    server = sealed_server("sqlite")
    result = _init(server.client(), 1, 1)
    client = server.client(str(result["root_token"]))
    client.sys.submit_unseal_key(result["keys"][0])  # type: ignore[index]
    client.sys.enable_secrets_engine("kv", path="kv")
    client.secrets.kv.v1.create_or_update_secret("before", {"v": "1"}, mount_point="kv")
    assert client.sys.get_encryption_key_status()["term"] == 1
    client.sys.rotate_encryption_key()
    client.sys.rotate_encryption_key()
    assert client.sys.get_encryption_key_status()["data"]["term"] == 3
    client.secrets.kv.v1.create_or_update_secret("after", {"v": "2"}, mount_point="kv")
    server.restart()
    client.sys.submit_unseal_key(result["keys"][0])  # type: ignore[index]
    assert client.secrets.kv.v1.read_secret("before", mount_point="kv")["data"] == {"v": "1"}
    assert client.secrets.kv.v1.read_secret("after", mount_point="kv")["data"] == {"v": "2"}
    assert client.sys.get_encryption_key_status()["term"] == 3


def test_rekey_replaces_shares_and_keeps_data(sealed_server: ServerFactory) -> None:
    server = sealed_server("sqlite")
    result = _init(server.client(), 3, 2)
    old_keys = result["keys"]
    client = server.client(str(result["root_token"]))
    client.sys.submit_unseal_keys(old_keys[:2])  # type: ignore[index]
    client.sys.enable_secrets_engine("kv", path="kv")
    client.secrets.kv.v1.create_or_update_secret("x", {"v": "kept"}, mount_point="kv")

    started = client.sys.start_rekey(secret_shares=4, secret_threshold=3)
    assert started["started"] is True and started["n"] == 4 and started["required"] == 2
    progress = client.sys.rekey(old_keys[0], nonce=started["nonce"])  # type: ignore[index]
    assert progress["progress"] == 1 and progress["complete"] is False
    done = client.sys.rekey(old_keys[1], nonce=started["nonce"])  # type: ignore[index]
    assert done["complete"] is True and len(done["keys"]) == 4
    assert client.sys.read_rekey_progress()["started"] is False
    assert client.sys.read_seal_status()["n"] == 4

    client.sys.seal()
    client.sys.submit_unseal_keys(old_keys[:2])  # type: ignore[index]
    with pytest.raises(hvac.exceptions.InvalidRequest) as info:
        client.sys.submit_unseal_key(old_keys[2])  # type: ignore[index]
    assert "progress was reset" in str(info.value)
    assert client.sys.read_seal_status()["progress"] == 0
    client.sys.submit_unseal_keys(done["keys"][1:4])
    assert client.sys.is_sealed() is False
    assert client.secrets.kv.v1.read_secret("x", mount_point="kv")["data"] == {"v": "kept"}


def test_rekey_with_verification_installs_only_after_verify(
    sealed_server: ServerFactory,
) -> None:
    server = sealed_server("inmem")
    result = _init(server.client(), 1, 1)
    client = server.client(str(result["root_token"]))
    old_key = result["keys"][0]  # type: ignore[index]
    client.sys.submit_unseal_key(old_key)
    started = client.sys.start_rekey(secret_shares=3, secret_threshold=2, require_verification=True)
    done = client.sys.rekey(old_key, nonce=started["nonce"])
    assert done["complete"] is True and done["verification_required"] is True
    # Not installed yet: the seal config still says one share.
    assert client.sys.read_seal_status()["n"] == 1
    vnonce = done["verification_nonce"]
    client.sys.rekey_verify(done["keys"][0], nonce=vnonce)
    verified = client.sys.rekey_verify(done["keys"][2], nonce=vnonce)
    assert verified["complete"] is True
    assert client.sys.read_seal_status()["n"] == 3
    client.sys.seal()
    client.sys.submit_unseal_keys(done["keys"][:2])
    assert client.sys.is_sealed() is False


def test_rekey_with_wrong_shares_is_refused_and_keeps_old_keys(
    sealed_server: ServerFactory,
) -> None:
    server = sealed_server("inmem")
    result = _init(server.client(), 3, 2)
    client = server.client(str(result["root_token"]))
    keys = result["keys"]
    client.sys.submit_unseal_keys(keys[:2])  # type: ignore[index]
    other = _foreign_shares(sealed_server)
    started = client.sys.start_rekey(secret_shares=1, secret_threshold=1)
    client.sys.rekey(other[0], nonce=started["nonce"])
    with pytest.raises(hvac.exceptions.InvalidRequest) as info:
        client.sys.rekey(other[1], nonce=started["nonce"])
    assert "do not combine" in str(info.value)
    client.sys.cancel_rekey()
    client.sys.seal()
    client.sys.submit_unseal_keys(keys[1:3])  # type: ignore[index]
    assert client.sys.is_sealed() is False


def _foreign_shares(sealed_server: ServerFactory) -> list[str]:
    other = sealed_server("inmem")
    return list(_init(other.client(), 3, 2)["keys"])  # type: ignore[call-overload]


def test_generate_root_with_otp(sealed_server: ServerFactory) -> None:
    server = sealed_server("inmem")
    result = _init(server.client(), 3, 2)
    keys = result["keys"]
    client = server.client()
    client.sys.submit_unseal_keys(keys[:2])  # type: ignore[index]
    started = client.sys.start_root_token_generation()
    otp = started["otp"]
    assert started["started"] is True and len(otp) == started["otp_length"]
    assert client.sys.read_root_generation_progress()["otp"] == ""  # shown only once
    client.sys.generate_root(keys[0], nonce=started["nonce"])  # type: ignore[index]
    done = client.sys.generate_root(keys[2], nonce=started["nonce"])  # type: ignore[index]
    assert done["complete"] is True
    token = decode_token(done["encoded_token"], otp)
    assert token != result["root_token"]
    assert "sys/" in server.client(token).sys.list_mounted_secrets_engines()["data"]


def test_generate_root_with_operator_otp_and_cancel(sealed_server: ServerFactory) -> None:
    server = sealed_server("inmem")
    result = _init(server.client(), 1, 1)
    client = server.client()
    client.sys.submit_unseal_key(result["keys"][0])  # type: ignore[index]
    otp = base64.b32encode(b"0123456789abcdef12").decode()[:28]
    started = client.sys.start_root_token_generation(otp=otp)
    assert started["otp"] == ""
    # Without a token, cancelling needs the attempt's nonce (stricter than Vault: see
    # tests/security/test_unauthenticated_endpoints.py); hvac's cancel sends none.
    client.adapter.delete("/v1/sys/generate-root/attempt", params={"nonce": started["nonce"]})
    assert client.sys.read_root_generation_progress()["started"] is False
    with pytest.raises(hvac.exceptions.InvalidRequest) as info:
        client.sys.start_root_token_generation(otp="short")
    assert "OTP" in str(info.value)


def test_rekey_recovery_key_on_a_shamir_store_is_refused(sealed_server: ServerFactory) -> None:
    server = sealed_server("inmem")
    result = _init(server.client(), 1, 1)
    client = server.client(str(result["root_token"]))
    client.sys.submit_unseal_key(result["keys"][0])  # type: ignore[index]
    with pytest.raises(hvac.exceptions.InvalidRequest, match="needs an auto-unseal seal"):
        client.sys.start_rekey(secret_shares=1, secret_threshold=1, recovery_key=True)
