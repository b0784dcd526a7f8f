"""Dev mode matches Vault's: KV version 2 at secret/, unless -dev-kv-v1 is given."""

from __future__ import annotations

from pathlib import Path

from tests.support.server import free_port, start_hush


def test_dev_mode_mounts_kv_v2_at_secret(tmp_path: Path) -> None:
    port = free_port()
    server = start_hush(
        tmp_path,
        ["-dev", "-dev-root-token-id=root", f"-dev-listen-address=127.0.0.1:{port}"],
        port=port,
        root_token="root",
    )
    try:
        client = server.client()
        mounts = client.sys.list_mounted_secrets_engines()["data"]
        assert mounts["secret/"]["type"] == "kv"
        assert mounts["secret/"]["options"] == {"version": "2"}
        client.secrets.kv.v2.create_or_update_secret("app", {"pw": "x"})
        read = client.secrets.kv.v2.read_secret_version("app", raise_on_deleted_version=True)
        assert read["data"]["data"] == {"pw": "x"} and read["data"]["metadata"]["version"] == 1
        assert "Root Token: root" in server.log_text()
    finally:
        server.stop()
