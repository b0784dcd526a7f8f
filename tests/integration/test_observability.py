"""Metrics and logs: Prometheus text parses and moves; JSON logs carry request ids, no secrets."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ServerFactory
from tests.support.server import HushProcess


def _requests_total(server: HushProcess, token: str) -> float:
    text = httpx.get(
        f"{server.url}/v1/sys/metrics",
        params={"format": "prometheus"},
        headers={"X-Vault-Token": token},
    ).text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    return sum(
        s.value
        for s in families["hush_http_requests"].samples
        if s.name == "hush_http_requests_total"
    )


def test_prometheus_metrics_parse_and_counters_move(dev_server: HushProcess) -> None:
    before = _requests_total(dev_server, "root")
    client = dev_server.client()
    for _ in range(5):
        client.sys.read_health_status(method="GET")
    after = _requests_total(dev_server, "root")
    assert after >= before + 5
    as_json = httpx.get(
        f"{dev_server.url}/v1/sys/metrics", headers={"X-Vault-Token": "root"}
    ).json()
    assert {"Gauges", "Counters", "Samples"} <= set(as_json)
    assert httpx.get(f"{dev_server.url}/v1/sys/metrics").status_code == 403


def test_unauthenticated_metrics_listener_option(sealed_server: ServerFactory) -> None:
    server = sealed_server("inmem", listener_unauthenticated_metrics_access=True)
    response = httpx.get(f"{server.url}/v1/sys/metrics", params={"format": "prometheus"})
    assert response.status_code == 503  # sealed: no metrics before unseal, as Vault
    client = server.client()
    result = client.sys.initialize(secret_shares=1, secret_threshold=1)
    client.sys.submit_unseal_key(result["keys"][0])
    response = httpx.get(f"{server.url}/v1/sys/metrics", params={"format": "prometheus"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "hush_core_sealed 0.0" in response.text


def test_json_logs_carry_request_ids_and_no_secrets(tmp_path: Path) -> None:
    from tests.support.server import free_port, start_hush

    port = free_port()
    config = tmp_path / "hush.hcl"
    config.write_text(
        'storage "inmem" {}\n'
        f'listener "tcp" {{\n  address = "127.0.0.1:{port}"\n  tls_disable = true\n}}\n'
        'log_level = "debug"\nlog_format = "json"\n'
    )
    server = start_hush(tmp_path, [f"-config={config}"], port=port)
    try:
        client = server.client()
        result = client.sys.initialize(secret_shares=1, secret_threshold=1)
        client.sys.submit_unseal_key(result["keys"][0])
        client.token = result["root_token"]
        canary = f"canary-{uuid.uuid4().hex}"
        client.sys.enable_secrets_engine("kv", path="kv")
        client.secrets.kv.v1.create_or_update_secret("x", {"v": canary}, mount_point="kv")
    finally:
        server.stop()
    records = [json.loads(line) for line in server.log_text().splitlines() if line.startswith("{")]
    request_lines = [r for r in records if r.get("@module") == "hush.api"]
    assert request_lines, "debug request lines expected"
    assert all(r.get("request_id") for r in request_lines)
    assert canary not in server.log_text()
    assert result["root_token"] not in server.log_text()
