"""Fixtures shared by the security suite: a plain ``-dev`` server (KV v2 at ``secret/``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import DEV_ROOT_TOKEN
from tests.support.server import HushProcess, free_port, start_hush


@pytest.fixture(scope="module")
def kv2_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HushProcess]:
    """One in-memory dev server per module with Vault's dev defaults: KV v2 at ``secret/``."""
    port = free_port()
    server = start_hush(
        tmp_path_factory.mktemp("kv2-dev"),
        [
            "-dev",
            f"-dev-root-token-id={DEV_ROOT_TOKEN}",
            f"-dev-listen-address=127.0.0.1:{port}",
        ],
        port=port,
        root_token=DEV_ROOT_TOKEN,
    )
    yield server
    server.stop()
