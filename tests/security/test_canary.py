"""Secret values never reach storage or the server's output in any readable encoding.

A unique canary goes through the barrier as a KV value (written, read, overwritten, deleted, and
sent in malformed requests); then the raw storage (SQLite files, PostgreSQL rows) and the server's
output are searched for it in clear, hex and base64 at every alignment. The unseal key shares and
the root token get the same search: only ciphertext and a salted token hash may be stored.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hvac
import hvac.exceptions
import psycopg
import pytest
from psycopg import sql

from tests.conftest import ServerFactory
from tests.support.server import HushProcess

Dump = Callable[[], bytes]


def _readable_forms(secret: bytes) -> dict[str, bytes]:
    """``secret`` as it would appear if stored in clear, as hex, or inside base64 text.

    Base64 encodes 3-byte groups, so the secret's encoding depends on its offset in the encoded
    blob: try offsets 0, 1 and 2 and keep only the characters that depend on the secret alone.
    """
    forms = {
        "clear": secret,
        "hex": secret.hex().encode(),
        "HEX": secret.hex().upper().encode(),
    }
    for offset in range(3):
        shifted = b"\0" * offset + secret
        start = (offset * 8 + 5) // 6  # first character not mixed with the prefix bytes
        end = len(shifted) * 8 // 6  # last character not mixed with what follows
        forms[f"base64@{offset}"] = base64.b64encode(shifted)[start:end]
        forms[f"urlsafe-base64@{offset}"] = base64.urlsafe_b64encode(shifted)[start:end]
    return forms


def _assert_absent(haystack: bytes, secrets: dict[str, bytes], where: str) -> None:
    """No secret occurs in ``haystack`` in any readable form (messages never show the secret)."""
    assert haystack, f"{where} is empty: the search would prove nothing"
    for name, secret in secrets.items():
        for form, needle in _readable_forms(secret).items():
            assert needle not in haystack, f"{name} found in {where} as {form}"


def _sqlite_dump(directory: Path) -> Dump:
    def dump() -> bytes:
        files = sorted(directory.glob("hush.db*"))  # the database, -wal and -shm when present
        assert any(f.name == "hush.db" for f in files)
        return b"\n".join(f.read_bytes() for f in files)

    return dump


def _pg_dump(dsn: str, table: str) -> Dump:
    def dump() -> bytes:
        parts: list[bytes] = []
        with psycopg.connect(dsn, autocommit=True) as conn:
            names = [
                str(row[0])
                for row in conn.execute(
                    "SELECT table_name FROM information_schema.tables"
                    " WHERE starts_with(table_name, %s)",
                    (table,),
                )
            ]
            assert table in names and f"{table}_due" in names, names
            for name in names:
                rows = conn.execute(sql.SQL("SELECT * FROM {}").format(sql.Identifier(name)))
                for row in rows:
                    parts.extend(
                        bytes(v) if isinstance(v, bytes | memoryview) else str(v).encode()
                        for v in row
                    )
        return b"\n".join(parts)

    return dump


def _canary() -> bytes:
    return f"canary-{uuid.uuid4().hex}".encode()


def _exercise(server: HushProcess, dump: Dump) -> None:
    """Plant canaries through every KV code path, then search storage and output for them."""
    init = server.client().sys.initialize(secret_shares=3, secret_threshold=2)
    keys: list[str] = init["keys"]
    root_token = str(init["root_token"])
    client = server.client(root_token)
    client.sys.submit_unseal_keys(keys[:2])
    client.sys.enable_secrets_engine("kv", path="kv", options={"version": "1"})
    kv = client.secrets.kv.v1

    kept, overwritten, deleted, rejected = (_canary() for _ in range(4))
    kv.create_or_update_secret("app/holder", {"password": overwritten.decode()}, mount_point="kv")
    assert (
        kv.read_secret("app/holder", mount_point="kv")["data"]["password"] == overwritten.decode()
    )
    kv.create_or_update_secret(
        "app/holder", {"password": kept.decode(), "note": "rotated"}, mount_point="kv"
    )
    kv.create_or_update_secret("app/temp", {"v": deleted.decode()}, mount_point="kv")
    assert kv.read_secret("app/temp", mount_point="kv")["data"] == {"v": deleted.decode()}
    assert kv.list_secrets("app", mount_point="kv")["data"]["keys"] == ["holder", "temp"]
    kv.delete_secret("app/temp", mount_point="kv")
    with pytest.raises(hvac.exceptions.InvalidPath):
        kv.read_secret("app/temp", mount_point="kv")
    _send_rejected(server, root_token, rejected)

    # Tokens, accessors, KV v2 and a wrapped response must not reach storage in clear either.
    child = client.auth.token.create(policies=["default"], meta={"team": "x"})["auth"]
    batch = client.auth.token.create(policies=["default"], type="batch")["auth"]["client_token"]
    client.sys.enable_secrets_engine("kv", path="kv2", options={"version": "2"})
    versioned, wrapped = _canary(), _canary()
    client.secrets.kv.v2.create_or_update_secret(
        "app/v", {"v": versioned.decode()}, mount_point="kv2"
    )
    client.secrets.kv.v2.create_or_update_secret("app/v", {"v": "second"}, mount_point="kv2")
    kv.create_or_update_secret("app/wrapped", {"v": wrapped.decode()}, mount_point="kv")
    wrap_token = client.read("kv/app/wrapped", wrap_ttl="5m")["wrap_info"]["token"]
    client.write("cubbyhole/note", value=versioned.decode())
    client.sys.enable_secrets_engine("transit")
    client.secrets.transit.create_key("k", exportable=True, key_type="aes256-gcm96")
    exported = client.secrets.transit.export_key("k", key_type="encryption-key")
    transit_key = base64.b64decode(exported["data"]["keys"]["1"])
    plaintext = _canary()
    ciphertext = client.secrets.transit.encrypt_data("k", base64.b64encode(plaintext).decode())[
        "data"
    ]["ciphertext"]
    assert ciphertext.startswith("vault:v1:")

    secrets: dict[str, bytes] = {
        "child token": child["client_token"].encode(),
        "child accessor": child["accessor"].encode(),
        "batch token": batch.encode(),
        "kv v2 canary": versioned,
        "wrapped canary": wrapped,
        "wrapping token": wrap_token.encode(),
        "transit key": transit_key,
        "transit plaintext": plaintext,
        "kept canary": kept,
        "overwritten canary": overwritten,
        "deleted canary": deleted,
        "rejected canary": rejected,
        "root token": root_token.encode(),
        **{f"unseal share {i}": bytes.fromhex(key) for i, key in enumerate(keys)},
    }

    def check(moment: str) -> None:
        stored = dump()
        # Positive control: key names are not secret, so the dump must show this one.
        assert b"app/holder" in stored, f"the storage dump {moment} misses the KV key name"
        _assert_absent(stored, secrets, f"storage {moment}")
        _assert_absent(server.log_text().encode(), secrets, f"server output {moment}")

    check("while unsealed")
    client.sys.seal()
    check("after sealing")
    server.restart()
    check("after a restart")
    client.sys.submit_unseal_keys(keys[1:3])
    holder = kv.read_secret("app/holder", mount_point="kv")["data"]
    assert holder == {"password": kept.decode(), "note": "rotated"}
    check("after unsealing again")


def _send_rejected(server: HushProcess, token: str, canary: bytes) -> None:
    """Requests carrying a canary that fail: it must not be echoed, logged or stored."""
    headers = {"X-Vault-Token": token}
    bodies: list[tuple[str, Any]] = [
        ("kv/app/broken", b'{"v": "' + canary + b'"'),  # truncated JSON
        ("kv/app/broken", b'["' + canary + b'"]'),  # not an object
        ("sys/unseal", {"key": canary.decode()}),  # sensitive field, not a share
        ("sys/unseal", {"key": [canary.decode()]}),  # sensitive field, wrong type
        ("sys/generate-root/attempt", {"otp": canary.decode()}),  # OTP of the wrong length
    ]
    with server.http() as http:
        for path, body in bodies:
            if isinstance(body, bytes):
                response = http.post(f"/v1/{path}", content=body, headers=headers)
            else:
                response = http.post(f"/v1/{path}", json=body, headers=headers)
            assert response.status_code == 400, (path, response.status_code)
            _assert_absent(response.content, {"canary": canary}, f"the answer to {path}")


def test_canary_never_reaches_sqlite_files_or_output(sealed_server: ServerFactory) -> None:
    server = sealed_server("sqlite")
    _exercise(server, _sqlite_dump(server.workdir))


@pytest.mark.postgres
def test_canary_never_reaches_postgresql_rows_or_output(
    sealed_server: ServerFactory, pg_dsn: str, pg_table: str
) -> None:
    server = sealed_server("postgresql", connection_url=pg_dsn, table=pg_table)
    _exercise(server, _pg_dump(pg_dsn, pg_table))
