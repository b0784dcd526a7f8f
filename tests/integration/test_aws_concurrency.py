"""Concurrent Secrets Manager writes to one secret on a two-worker node (SQLite and PostgreSQL).

Each PutSecretValue is a read-modify-write of the secret's record; the per-secret lock must hold
across the worker processes (and nodes), or two workers would both add a version to the same
old record and one version would be lost. Requests go out on separate connections from many
threads at once, so both workers serve them.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration import test_workers
from tests.support.aws import secretsmanager
from tests.support.cluster import fresh_database
from tests.support.server import HushProcess

# The two-worker server fixture of the workers' own tests.
start_workers = test_workers.start_workers
WRITERS = 16
_POLICY = 'path "awssm/*" { capabilities = ["create", "read", "update", "delete", "list"] }'


def _wait_until_every_worker_serves(server: HushProcess, token: str, limit: float = 30.0) -> None:
    """Token lookups on fresh connections succeed many times running (on both workers).

    A worker can report unsealed a moment before its token store is ready (a 500 on the first
    authenticated request: a worker-process issue outside this test's subject), so the test
    starts once every worker answers.
    """
    until = time.monotonic() + limit
    streak = 0
    while streak < 12:
        assert time.monotonic() < until, "the workers did not all serve in time"
        with httpx.Client(base_url=server.url, timeout=10) as http:
            ok = http.get("/v1/auth/token/lookup-self", headers={"X-Vault-Token": token})
        streak = streak + 1 if ok.status_code == 200 else 0
        if streak == 0:
            time.sleep(0.1)


def _clients(server: HushProcess) -> Callable[[], Any]:
    """Initialise and unseal the node, mount awssm and aws auth; a factory of boto3 clients."""
    init = server.client().sys.initialize(secret_shares=1, secret_threshold=1)
    server.client().sys.submit_unseal_key(init["keys"][0])
    root = server.client(str(init["root_token"]))
    _wait_until_every_worker_serves(server, str(init["root_token"]))
    root.sys.enable_secrets_engine("awssm", path="awssm")
    root.sys.enable_auth_method("aws", path="aws")
    root.sys.create_or_update_policy("sm-all", _POLICY)
    key = root.adapter.post("/v1/auth/aws/keys", json={"policies": "sm-all"})["data"]
    return lambda: secretsmanager(server.url, key["access_key_id"], key["secret_access_key"])


def _in_parallel(make_client: Callable[[], Any], calls: list[dict[str, Any]]) -> list[Any]:
    clients = [make_client() for _ in calls]  # one client (and connection pool) per writer
    with ThreadPoolExecutor(len(calls)) as pool:
        futures = [
            pool.submit(c.put_secret_value, **call) for c, call in zip(clients, calls, strict=True)
        ]
        return [f.result() for f in futures]


def _check_concurrent_puts(make_client: Callable[[], Any]) -> None:
    sm = make_client()
    name = f"race/{uuid.uuid4().hex[:8]}"
    first = sm.create_secret(Name=name, SecretString="v0")["VersionId"]
    tokens = [str(uuid.uuid4()) for _ in range(WRITERS)]
    answers = _in_parallel(
        make_client,
        [
            {"SecretId": name, "SecretString": f"v-{token}", "ClientRequestToken": token}
            for token in tokens
        ],
    )
    assert sorted(a["VersionId"] for a in answers) == sorted(tokens)
    versions = sm.list_secret_version_ids(SecretId=name, IncludeDeprecated=True)["Versions"]
    assert {v["VersionId"] for v in versions} == {first, *tokens}
    labels = [label for v in versions for label in v.get("VersionStages", [])]
    assert sorted(labels) == ["AWSCURRENT", "AWSPREVIOUS"]
    current = sm.get_secret_value(SecretId=name)
    assert current["SecretString"] == f"v-{current['VersionId']}"
    for token in tokens:  # every version's value was kept
        assert sm.get_secret_value(SecretId=name, VersionId=token)["SecretString"] == f"v-{token}"

    # The same ClientRequestToken from every writer at once: one version, the same answer.
    token = str(uuid.uuid4())
    same = _in_parallel(
        make_client,
        [{"SecretId": name, "SecretString": "same", "ClientRequestToken": token}] * WRITERS,
    )
    assert {a["VersionId"] for a in same} == {token}
    after = sm.list_secret_version_ids(SecretId=name, IncludeDeprecated=True)["Versions"]
    assert len(after) == WRITERS + 2
    assert sm.get_secret_value(SecretId=name)["VersionId"] == token


def test_concurrent_put_secret_value_on_two_sqlite_workers(
    start_workers: Callable[..., HushProcess], tmp_path: Path
) -> None:
    _check_concurrent_puts(_clients(start_workers("sqlite", path=str(tmp_path / "hush.db"))))


@pytest.mark.postgres
def test_concurrent_put_secret_value_on_two_postgresql_workers(
    start_workers: Callable[..., HushProcess], pg_dsn: str
) -> None:
    with fresh_database(pg_dsn) as dsn:
        server = start_workers("postgresql", connection_url=dsn)
        try:
            _check_concurrent_puts(_clients(server))
        finally:
            server.stop()
