"""Kubernetes auth through hvac against a real dev server and a local TokenReview API (HTTPS).

No cluster is available here: tests/support/tokenreview.py plays the API server, with a throwaway
CA that Hush must be configured to trust.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import hvac
import hvac.exceptions
import pytest

from tests.support.server import HushProcess
from tests.support.tokenreview import Account, FakeTokenReview, throwaway_pki

AUDIENCE = "hush"


def anonymous(server: HushProcess) -> hvac.Client:
    return hvac.Client(url=server.url, token="", verify=server.verify)


def forbidden(call: object, message: str) -> None:
    with pytest.raises(hvac.exceptions.Forbidden) as caught:
        call()  # type: ignore[operator]
    assert caught.value.errors == [message]


@pytest.fixture(scope="module")
def apiserver() -> Iterator[FakeTokenReview]:
    api = FakeTokenReview(reviewer_jwt="reviewer-" + secrets.token_urlsafe(24)).start()
    yield api
    api.stop()


@pytest.fixture(scope="module")
def k8s(dev_server: HushProcess, apiserver: FakeTokenReview) -> Iterator[hvac.Client]:
    root = dev_server.client()
    root.sys.enable_auth_method("kubernetes")
    root.auth.kubernetes.configure(
        kubernetes_host=apiserver.url,
        kubernetes_ca_cert=apiserver.ca_pem,
        token_reviewer_jwt=apiserver.reviewer_jwt,
        disable_local_ca_jwt=True,
    )
    root.auth.kubernetes.create_role(
        "payments",
        bound_service_account_names=["payments-*"],
        bound_service_account_namespaces=["prod", "staging"],
        policies=["payments"],
        ttl="15m",
        audience=AUDIENCE,
    )
    yield root
    root.sys.disable_auth_method("kubernetes")


def _account(api: FakeTokenReview, namespace: str, name: str, *audiences: str) -> str:
    token = "sa-" + secrets.token_urlsafe(24)
    api.accounts[token] = Account(
        namespace, name, f"uid-{namespace}-{name}", audiences or (AUDIENCE,)
    )
    return token


def test_service_account_logs_in_through_token_review(
    k8s: hvac.Client, dev_server: HushProcess, apiserver: FakeTokenReview
) -> None:
    config = k8s.auth.kubernetes.read_config()
    assert config["kubernetes_host"] == apiserver.url
    assert config["kubernetes_ca_cert"] == apiserver.ca_pem
    assert "token_reviewer_jwt" not in config
    role = k8s.auth.kubernetes.read_role("payments")
    assert role["bound_service_account_names"] == ["payments-*"]
    assert role["bound_service_account_namespaces"] == ["prod", "staging"]
    assert role["alias_name_source"] == "serviceaccount_uid" and role["audience"] == AUDIENCE
    assert role["token_policies"] == ["payments"] and role["token_ttl"] == 900

    token = _account(apiserver, "prod", "payments-api")
    auth = anonymous(dev_server).auth.kubernetes.login("payments", token, use_token=False)["auth"]
    assert auth["policies"] == ["default", "payments"] and auth["lease_duration"] == 900
    assert auth["metadata"] == {
        "role": "payments",
        "service_account_name": "payments-api",
        "service_account_namespace": "prod",
        "service_account_uid": "uid-prod-payments-api",
        "service_account_secret_name": "",
    }
    me = dev_server.client(token=auth["client_token"]).auth.token.lookup_self()["data"]
    assert me["display_name"] == "kubernetes-prod-payments-api"
    # Hush called the API with the reviewer JWT and asked for the role's audience.
    assert apiserver.bearers[-1] == apiserver.reviewer_jwt
    assert apiserver.reviews[-1] == {"token": token, "audiences": [AUDIENCE]}


def test_unbound_or_unknown_service_accounts_are_refused(
    k8s: hvac.Client, dev_server: HushProcess, apiserver: FakeTokenReview
) -> None:
    client = anonymous(dev_server).auth.kubernetes
    wrong_namespace = _account(apiserver, "dev", "payments-api")
    wrong_name = _account(apiserver, "prod", "billing")
    other_audience = _account(apiserver, "prod", "payments-api", "https://kubernetes.default.svc")
    forbidden(
        lambda: client.login("payments", wrong_namespace),
        "permission denied: namespace not authorized",
    )
    forbidden(
        lambda: client.login("payments", wrong_name),
        "permission denied: service account name not authorized",
    )
    forbidden(
        lambda: client.login("payments", other_audience),
        "permission denied: lookup failed: service account jwt not valid",
    )
    forbidden(
        lambda: client.login("payments", "sa-unknown-token"),
        "permission denied: lookup failed: service account jwt not valid",
    )
    with pytest.raises(hvac.exceptions.InvalidRequest) as caught:
        client.login("nope", wrong_name)
    assert caught.value.errors == ['invalid role name "nope"']


def test_reviewer_and_tls_failures_refuse_the_login(
    dev_server: HushProcess, apiserver: FakeTokenReview, tmp_path: Path
) -> None:
    root = dev_server.client()
    root.sys.enable_auth_method("kubernetes", path="k8s-bad")
    try:
        root.auth.kubernetes.create_role(
            "any", ["*"], ["*"], policies=["x"], audience=AUDIENCE, mount_point="k8s-bad"
        )
        token = _account(apiserver, "prod", "payments-api")
        client = anonymous(dev_server).auth.kubernetes
        # A wrong reviewer JWT: the API server answers 401.
        root.auth.kubernetes.configure(
            apiserver.url,
            kubernetes_ca_cert=apiserver.ca_pem,
            token_reviewer_jwt="stale-reviewer",
            disable_local_ca_jwt=True,
            mount_point="k8s-bad",
        )
        forbidden(
            lambda: client.login("any", token, mount_point="k8s-bad"),
            "permission denied: lookup failed: the TokenReview API refused the reviewer (HTTP 401)",
        )
        # Another CA than the one that signed the API server's certificate: TLS fails.
        other_ca, _, _ = throwaway_pki(tmp_path)
        root.auth.kubernetes.configure(
            apiserver.url,
            kubernetes_ca_cert=other_ca,
            token_reviewer_jwt=apiserver.reviewer_jwt,
            disable_local_ca_jwt=True,
            mount_point="k8s-bad",
        )
        forbidden(
            lambda: client.login("any", token, mount_point="k8s-bad"),
            "permission denied: lookup failed: ConnectError calling the TokenReview API",
        )
    finally:
        root.sys.disable_auth_method("k8s-bad")


def test_without_reviewer_jwt_the_client_jwt_authorises_the_review(
    dev_server: HushProcess, apiserver: FakeTokenReview
) -> None:
    root = dev_server.client()
    root.sys.enable_auth_method("kubernetes", path="k8s-self")
    saved = apiserver.reviewer_jwt
    apiserver.reviewer_jwt = ""
    try:
        root.auth.kubernetes.configure(
            apiserver.url,
            kubernetes_ca_cert=apiserver.ca_pem,
            disable_local_ca_jwt=True,
            mount_point="k8s-self",
        )
        root.auth.kubernetes.create_role(
            "by-name",
            ["ci-*"],
            ["build*"],
            policies=["ci"],
            alias_name_source="serviceaccount_name",
            audience=AUDIENCE,
            mount_point="k8s-self",
        )
        token = _account(apiserver, "builds", "ci-runner")
        auth = anonymous(dev_server).auth.kubernetes.login(
            "by-name", token, use_token=False, mount_point="k8s-self"
        )["auth"]
        assert auth["metadata"]["service_account_namespace"] == "builds"
        assert apiserver.bearers[-1] == token
        with pytest.raises(hvac.exceptions.InvalidRequest) as caught:
            root.auth.kubernetes.configure(
                apiserver.url, disable_local_ca_jwt=True, mount_point="k8s-self"
            )
        assert caught.value.errors == [
            "kubernetes_ca_cert must be given when disable_local_ca_jwt is true"
        ]
        with pytest.raises(hvac.exceptions.InvalidRequest) as caught:
            root.auth.kubernetes.create_role(
                "bad", ["*", "x"], ["a"], audience=AUDIENCE, mount_point="k8s-self"
            )
        assert caught.value.errors == ['can not mix "*" with values']
        with pytest.raises(hvac.exceptions.InvalidRequest) as caught:
            root.auth.kubernetes.create_role(
                "bad", ["x"], ["a"], alias_name_source="email", mount_point="k8s-self"
            )
        assert caught.value.errors[0].startswith('invalid alias_name_source "email"')
    finally:
        apiserver.reviewer_jwt = saved
        root.sys.disable_auth_method("k8s-self")
