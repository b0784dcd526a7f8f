"""What each scenario configures on a peer and what wrk sends it.

Every Vault-API scenario runs with a file audit device on (enabled by :mod:`bench.peers`) and a
non-root token whose policy has 20 path rules: 19 realistic ones over other paths (globs, ``+``
segments, ``deny`` rules, other mounts) and the one rule that grants what the scenario needs.
Setup uses the root token; the measured requests never do.

A setup function returns the :class:`~bench.wrk.WrkJob` to measure, or raises :class:`NotYet`
when the peer cannot run the scenario (reported as "not yet" in the table).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
import httpx
from botocore.config import Config as BotoConfig

from bench.peers import (
    Peer,
    PeerError,
    VaultClient,
)
from bench.settings import Settings
from bench.sigv4_pool import AWS_CONTENT_TYPE, SignedPool
from bench.wrk import WrkError, WrkJob, run_wrk_until

__all__ = ["SCENARIOS", "NotYet", "Scenario", "policy_hcl", "scenario_by_key"]

APP_SECRET_PATH = "secret/data/bench/app/config"
MANY_PREFIX = "secret/data/bench/many/s"
ROTATE_PREFIX = "secret/data/bench/rotate/key-"
ROTATE_KEYS = 8
TRANSIT_KEY = "bench"
BATCH_ITEMS = 1000
BATCH_ITEM_BYTES = 64
ENCRYPT_BYTES = 1024
AWS_SECRET = "bench/app/config"
AWS_SECRET_VALUE = '{"user":"app","password":"correct-horse-battery-staple"}'
AWS_REGION = "us-east-1"

# 19 rules a real application policy might carry, none of which matches a bench path.
_FILLER_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("secret/data/teams/payments/*", ("read", "list")),
    ("secret/metadata/teams/payments/*", ("read", "list")),
    ("secret/data/teams/+/shared/*", ("read",)),
    ("secret/data/ci/deploy-*", ("read",)),
    ("secret/data/apps/+/config", ("read",)),
    ("secret/data/apps/billing/*", ("create", "read", "update")),
    ("secret/metadata/apps/*", ("list",)),
    ("secret/data/legacy/root-credentials", ("deny",)),
    ("secret/data/ops/break-glass/*", ("deny",)),
    ("transit/decrypt/payments", ("update",)),
    ("transit/keys/payments", ("read",)),
    ("database/creds/readonly", ("read",)),
    ("pki/issue/internal", ("create", "update")),
    ("cubbyhole/*", ("create", "read", "update", "delete", "list")),
    ("auth/token/lookup-self", ("read",)),
    ("auth/token/renew-self", ("update",)),
    ("sys/leases/renew", ("update",)),
    ("sys/capabilities-self", ("update",)),
    ("kv-legacy/+/readonly/*", ("read", "list")),
)


class NotYet(Exception):
    """The peer cannot run this scenario yet; the message is what the table shows."""


@dataclass(frozen=True, slots=True)
class Scenario:
    """One row group of the results table.

    ``per_request`` converts req/s to the reported ``unit`` (1000 items per batch request, half a
    login per request when logins and reads alternate). ``hush_from`` names the scenario whose
    Hush figure the ratio column compares against (the ceiling compares with the KV read).
    """

    key: str
    title: str
    peers: tuple[str, ...]
    setup: Callable[[Peer, Settings], WrkJob] | None
    unit: str = "req/s"
    per_request: float = 1.0
    hush_from: str | None = None


def policy_hcl(grant_path: str, capabilities: tuple[str, ...]) -> str:
    """A 20-rule HCL policy: the filler rules plus the one granting ``grant_path``."""
    rules = [*_FILLER_RULES[:10], (grant_path, capabilities), *_FILLER_RULES[10:]]
    blocks = [
        f'path "{path}" {{\n  capabilities = {json.dumps(list(caps))}\n}}' for path, caps in rules
    ]
    return "\n\n".join(blocks) + "\n"


def _token_for(client: VaultClient, name: str, grant: str, caps: tuple[str, ...]) -> str:
    """Write policy ``name`` and return a new non-root token carrying it."""
    client.call("PUT", f"sys/policies/acl/{name}", {"policy": policy_hcl(grant, caps)})
    reply = client.call("POST", "auth/token/create", {"policies": [name], "ttl": "4h"})
    token: str = reply["auth"]["client_token"]
    return token


def _ensure_app_secret(client: VaultClient) -> None:
    if client.status("GET", APP_SECRET_PATH) != 200:
        client.call(
            "POST",
            APP_SECRET_PATH,
            {"data": {"user": "app", "password": "correct-horse-battery-staple"}},
        )


def _ensure_transit_key(client: VaultClient) -> None:
    if client.status("GET", "sys/mounts/transit") != 200:
        client.call("POST", "sys/mounts/transit", {"type": "transit"})
    client.call("POST", f"transit/keys/{TRANSIT_KEY}", {})


def _body_file(peer: Peer, name: str, body: dict[str, object]) -> str:
    path = peer.workdir / f"{name}.json"
    path.write_text(json.dumps(body, separators=(",", ":")))
    return str(path)


def _b64(size: int) -> str:
    return base64.b64encode(os.urandom(size)).decode()


def _read_one(peer: Peer, settings: Settings) -> WrkJob:
    with peer.client() as client:
        _ensure_app_secret(client)
        token = _token_for(client, "bench-s1", "secret/data/bench/app/*", ("read",))
        with peer.client(token) as app:
            app.call("GET", APP_SECRET_PATH)  # the token really may read it
    return WrkJob(
        url=f"{peer.url}/v1/{APP_SECRET_PATH}",
        script="plain",
        headers=(("X-Vault-Token", token),),
        connections=settings.connections,
    )


def _ceiling(peer: Peer, settings: Settings) -> WrkJob:
    # The same request bytes as the KV read (a token header of the same shape).
    return WrkJob(
        url=f"{peer.url}/v1/{APP_SECRET_PATH}",
        script="plain",
        headers=(("X-Vault-Token", "hvs.CAESIBenchCeilingTokenOfTypicalLength0000"),),
        connections=settings.connections,
    )


def seed_many(peer: Peer, count: int, connections: int = 32) -> float:
    """Write ``count`` KV v2 secrets through the HTTP API with wrk; returns seconds taken."""
    with peer.client() as client:
        done = client.status("GET", f"{MANY_PREFIX}{count - 1:06d}") == 200
    if done:
        return 0.0
    started = time.perf_counter()
    line = run_wrk_until(
        WrkJob(
            url=peer.url,
            script="seed",
            script_args=(f"/v1/{MANY_PREFIX}", "0", str(count), "/v1/secret/data/bench/absent"),
            headers=(("X-Vault-Token", peer.token),),
            connections=connections,
            timeout_s=30,
        ),
        "BENCH_SEED ",
        max_duration_s=900,
    )
    outcome = json.loads(line.removeprefix("BENCH_SEED "))
    if outcome["failed"]:
        raise WrkError(f"seeding {peer.name}: {outcome['failed']} of {count} writes failed")
    with peer.client() as client:
        for n in (0, count // 2, count - 1):
            client.call("GET", f"{MANY_PREFIX}{n:06d}")
    return time.perf_counter() - started


def _read_random(peer: Peer, settings: Settings) -> WrkJob:
    seconds = seed_many(peer, settings.kv_secrets, settings.connections)
    peer.state["seed_seconds"] = seconds
    with peer.client() as client:
        token = _token_for(client, "bench-s2", "secret/data/bench/many/*", ("read",))
    return WrkJob(
        url=peer.url,
        script="read_random",
        script_args=(f"/v1/{MANY_PREFIX}", str(settings.kv_secrets)),
        headers=(("X-Vault-Token", token),),
        connections=settings.connections,
    )


def _write(peer: Peer, settings: Settings) -> WrkJob:
    with peer.client() as client:
        token = _token_for(
            client, "bench-s3", "secret/data/bench/rotate/*", ("create", "read", "update")
        )
    return WrkJob(
        url=peer.url,
        script="write_versions",
        script_args=(f"/v1/{ROTATE_PREFIX}", str(ROTATE_KEYS)),
        headers=(("X-Vault-Token", token),),
        connections=settings.connections,
    )


def _approle(peer: Peer, settings: Settings) -> WrkJob:
    with peer.client() as client:
        if client.status("GET", "sys/auth") >= 400:
            raise NotYet("not yet (no auth methods besides token)")
        if client.status("POST", "sys/auth/approle", {"type": "approle"}) >= 400:
            raise NotYet("not yet (no approle auth method)")
        _ensure_app_secret(client)
        policy = "bench-s4"
        client.call(
            "PUT",
            f"sys/policies/acl/{policy}",
            {"policy": policy_hcl("secret/data/bench/app/*", ("read",))},
        )
        client.call(
            "POST",
            "auth/approle/role/bench",
            {"token_policies": [policy], "token_ttl": "10m", "token_max_ttl": "30m"},
        )
        role_id = client.call("GET", "auth/approle/role/bench/role-id")["data"]["role_id"]
        secret_id = client.call("POST", "auth/approle/role/bench/secret-id")["data"]["secret_id"]
    return WrkJob(
        url=peer.url,
        script="approle",
        script_args=("/v1/auth/approle/login", role_id, secret_id, f"/v1/{APP_SECRET_PATH}"),
        connections=settings.connections,
    )


def _transit_token(client: VaultClient) -> str:
    _ensure_transit_key(client)
    return _token_for(client, "bench-transit", f"transit/encrypt/{TRANSIT_KEY}", ("update",))


def _encrypt(peer: Peer, settings: Settings) -> WrkJob:
    with peer.client() as client:
        token = _transit_token(client)
    body = _body_file(peer, "encrypt-1k", {"plaintext": _b64(ENCRYPT_BYTES)})
    return WrkJob(
        url=f"{peer.url}/v1/transit/encrypt/{TRANSIT_KEY}",
        script="static_body",
        script_args=(body,),
        headers=(("X-Vault-Token", token),),
        connections=settings.connections,
    )


def _batch_encrypt(peer: Peer, settings: Settings) -> WrkJob:
    with peer.client() as client:
        token = _transit_token(client)
    items = [{"plaintext": _b64(BATCH_ITEM_BYTES)} for _ in range(BATCH_ITEMS)]
    body = _body_file(peer, "encrypt-batch", {"batch_input": items})
    return WrkJob(
        url=f"{peer.url}/v1/transit/encrypt/{TRANSIT_KEY}",
        script="static_body",
        script_args=(body,),
        headers=(("X-Vault-Token", token),),
        connections=settings.connections,
        timeout_s=30,
    )


def _boto_client(url: str, access_key_id: str, secret_access_key: str) -> Any:
    return boto3.client(
        "secretsmanager",
        endpoint_url=url,
        region_name=AWS_REGION,
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        config=BotoConfig(retries={"max_attempts": 1}),
    )


def _ensure_aws_secret(client: Any) -> None:
    with contextlib.suppress(client.exceptions.ResourceExistsException):
        client.create_secret(Name=AWS_SECRET, SecretString=AWS_SECRET_VALUE)


def _get_secret_value(peer: Peer, settings: Settings) -> WrkJob:
    """S7: GetSecretValue of one secret, every request SigV4-signed (see bench.sigv4_pool)."""
    if peer.name == "hush":
        _ensure_aws_secret(_boto_client(peer.url, *peer.state["aws_setup_key"]))
        with peer.client() as client:
            client.call(
                "PUT",
                "sys/policies/acl/bench-s7",
                {"policy": policy_hcl("awssm/secrets/bench/app/*", ("read",))},
            )
            key = client.call(
                "POST",
                "auth/aws/keys",
                {"policies": ["bench-s7"], "display_name": "bench-s7"},
            )["data"]
        key_id, secret = key["access_key_id"], key["secret_access_key"]
    else:
        # moto accepts any key pair and checks no signature; the requests are signed anyway.
        key_id, secret = "AKIDBENCHEXAMPLE0000", "moto-does-not-check-this-secret"
        _ensure_aws_secret(_boto_client(peer.url, key_id, secret))
    app = _boto_client(peer.url, key_id, secret)
    if app.get_secret_value(SecretId=AWS_SECRET)["SecretString"] != AWS_SECRET_VALUE:
        raise PeerError(f"{peer.name}: GetSecretValue answered another value")
    target = "secretsmanager.GetSecretValue"
    body = json.dumps({"SecretId": AWS_SECRET}, separators=(",", ":"))
    body_path = peer.workdir / "get-secret-value.json"
    body_path.write_text(body)
    pool = SignedPool(
        peer.workdir / "get-secret-value.pool",
        peer.url + "/",
        target,
        body,
        key_id,
        secret,
        region=AWS_REGION,
    )
    pool.write()
    _check_pooled_request(pool, body)
    if peer.name == "hush":
        _check_tampered_request_refused(pool, body)
    return WrkJob(
        url=peer.url + "/",
        script="signed_pool",
        script_args=(str(pool.path), target, str(body_path)),
        connections=settings.connections,
        prepare=pool.write,
    )


def _send_pooled(
    pool: SignedPool, body: str, index: int = 0, tamper: bool = False
) -> httpx.Response:
    stamp, authorization = pool.path.read_text().splitlines()[index].split("\t")
    if tamper:  # flip the signature's last hex digit
        authorization = authorization[:-1] + ("0" if authorization[-1] != "0" else "1")
    return httpx.post(
        pool.url,
        content=body,
        headers={
            "Content-Type": AWS_CONTENT_TYPE,
            "X-Amz-Target": pool.target,
            "X-Amz-Date": stamp,
            "Authorization": authorization,
        },
        timeout=30,
    )


def _check_pooled_request(pool: SignedPool, body: str) -> None:
    """The oldest and newest pooled requests, sent as wrk sends them, succeed (no 4xx timed)."""
    for index in (0, -1):
        reply = _send_pooled(pool, body, index)
        if reply.status_code != 200 or reply.json().get("SecretString") != AWS_SECRET_VALUE:
            raise PeerError(f"pre-signed GetSecretValue: {reply.status_code} {reply.text[:300]}")


def _check_tampered_request_refused(pool: SignedPool, body: str) -> None:
    """The server really checks signatures: a pooled request with one digit changed fails."""
    reply = _send_pooled(pool, body, tamper=True)
    if reply.status_code != 400 or "InvalidSignatureException" not in reply.text:
        raise PeerError(f"a tampered signature was not refused: {reply.status_code}")


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "ceiling",
        "HTTP ceiling: bare ASGI app, KV read body",
        ("ceiling-hush", "ceiling-h11"),
        _ceiling,
        hush_from="s1",
    ),
    Scenario("s1", "S1 KV v2 read, one secret", ("hush", "openbao"), _read_one),
    Scenario("s2", "S2 KV v2 read, random keys", ("hush", "openbao"), _read_random),
    Scenario("s3", "S3 KV v2 write (new versions, 8 keys)", ("hush", "openbao"), _write),
    Scenario(
        "s4",
        "S4 approle login + read",
        ("hush", "openbao"),
        _approle,
        unit="logins/s",
        per_request=0.5,
    ),
    Scenario("s5", "S5 transit encrypt 1 KiB", ("hush", "openbao"), _encrypt),
    Scenario(
        "s6",
        "S6 transit batch encrypt 1,000 x 64 B",
        ("hush", "openbao"),
        _batch_encrypt,
        unit="items/s",
        per_request=BATCH_ITEMS,
    ),
    Scenario(
        "s7",
        "S7 GetSecretValue",
        ("hush", "moto"),
        _get_secret_value,
    ),
)


def scenario_by_key(key: str) -> Scenario:
    """The scenario called ``key``."""
    for scenario in SCENARIOS:
        if scenario.key == key:
            return scenario
    raise KeyError(key)
