"""Leases survive a restart on SQLite and PostgreSQL, and expire from the durable due-time index."""

from __future__ import annotations

import time

import hvac
import hvac.exceptions

from tests.conftest import ServerFactory
from tests.support.server import HushProcess


def _accessors(client: hvac.Client) -> set[str]:
    return set(client.adapter.list("/v1/auth/token/accessors")["data"]["keys"])


def _leases(client: hvac.Client, prefix: str) -> list[str]:
    try:
        return list(client.sys.list_leases(prefix)["data"]["keys"])
    except hvac.exceptions.InvalidPath:
        return []


def _expiry_survives_a_restart(server: HushProcess) -> None:
    init = server.client().sys.initialize(secret_shares=1, secret_threshold=1)
    root = server.client(str(init["root_token"]))
    root.sys.submit_unseal_keys(init["keys"])
    # Long enough to outlive the restart below: a loaded machine can take over 15 s to start a
    # server, and a short lease that expired meanwhile would leave one lease after the restart.
    short = root.auth.token.create_orphan(policies=["default"], ttl="30s")["auth"]
    deadline = time.monotonic() + 30 + 20
    long = root.auth.token.create_orphan(policies=["default"], ttl="1h")["auth"]
    assert len(_leases(root, "auth/token/create-orphan")) == 2
    server.restart()
    root.sys.submit_unseal_keys(init["keys"])
    assert len(_leases(root, "auth/token/create-orphan")) == 2
    # Nothing looks the short token up: only the due-time index can remove it.
    while time.monotonic() < deadline and short["accessor"] in _accessors(root):
        time.sleep(0.25)
    assert short["accessor"] not in _accessors(root)
    assert long["accessor"] in _accessors(root)
    assert len(_leases(root, "auth/token/create-orphan")) == 1
    looked_up = root.auth.token.lookup(long["client_token"])["data"]
    assert looked_up["accessor"] == long["accessor"]


def test_token_expiry_survives_a_restart_on_sqlite(sealed_server: ServerFactory) -> None:
    _expiry_survives_a_restart(sealed_server("sqlite"))


def test_token_expiry_survives_a_restart_on_postgresql(
    sealed_server: ServerFactory, pg_dsn: str, pg_table: str
) -> None:
    _expiry_survives_a_restart(sealed_server("postgresql", connection_url=pg_dsn, table=pg_table))
