"""Tokens that pass through the lease machinery never reach storage, logs or audit in clear.

Every service token now has a lease whose id carries the token's salted hash; a canary token
(root may choose a token's id) is created, listed, looked up, renewed, revoked by prefix, queued
for revocation and left to expire through the due-time index, on a SQLite server with a file
audit device. The SQLite files, the server output and the audit log are then searched for it.
"""

from __future__ import annotations

import time
import uuid

import hvac
import hvac.exceptions
import pytest

from tests.conftest import ServerFactory
from tests.security.test_canary import _assert_absent, _sqlite_dump


def _canary_token() -> str:
    return f"hss.canary{uuid.uuid4().hex}"


def _names(client: hvac.Client, prefix: str) -> list[str]:
    try:
        return list(client.sys.list_leases(prefix)["data"]["keys"])
    except hvac.exceptions.InvalidPath:
        return []


def test_token_canaries_never_leak_through_leases(sealed_server: ServerFactory) -> None:
    server = sealed_server("sqlite")
    init = server.client().sys.initialize(secret_shares=1, secret_threshold=1)
    root = server.client(str(init["root_token"]))
    root.sys.submit_unseal_keys(init["keys"])
    audit_log = server.workdir / "audit.log"
    root.sys.enable_audit_device("file", options={"file_path": str(audit_log)})

    expiring, revoked, queued = _canary_token(), _canary_token(), _canary_token()
    root.adapter.post("/v1/auth/token/roles/canary", json={"orphan": True})
    # 5 s, not 2 s: the expiring lease must still be there for the listing and look-ups below,
    # which can take seconds on a loaded machine.
    for token, ttl in ((expiring, "5s"), (revoked, "1h"), (queued, "1h")):
        root.adapter.post("/v1/auth/token/create/canary", json={"id": token, "ttl": ttl})
    names = root.sys.list_leases("auth/token/create/canary")["data"]["keys"]
    assert len(names) == 3
    for name in names:
        lease_id = f"auth/token/create/canary/{name}"
        assert root.sys.read_lease(lease_id)["data"]["id"] == lease_id
        with pytest.raises(hvac.exceptions.InvalidRequest):
            root.sys.renew_lease(lease_id)
    # A token pasted where a lease id belongs is not echoed back either.
    with pytest.raises(hvac.exceptions.InvalidRequest) as refused:
        root.sys.read_lease(revoked)
    assert revoked not in str(refused.value)
    assert hvac.Client(url=server.url, token=queued).auth.token.lookup_self()["data"]
    hvac.Client(url=server.url, token=revoked).auth.token.revoke_self()
    root.adapter.put("/v1/sys/leases/revoke-prefix/auth/token/create/canary", json={"sync": False})
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and _names(root, "auth/token/create/canary"):
        time.sleep(0.25)
    assert _names(root, "auth/token/create/canary") == []

    secrets = {
        "expiring": expiring.encode(),
        "revoked": revoked.encode(),
        "queued": queued.encode(),
    }
    _assert_absent(_sqlite_dump(server.workdir)(), secrets, "the SQLite files")
    _assert_absent(server.log_text().encode(), secrets, "the server output")
    _assert_absent(audit_log.read_bytes(), secrets, "the audit log")
