"""Canary: the OIDC client secret, the Kubernetes reviewer JWT, login JWTs and OIDC codes never
appear in clear in the server's output, the audit file or the SQLite files.

A SQLite-backed server (initialised, unsealed, with a hashed file audit device) runs a JWT login,
a full OIDC flow and a Kubernetes login, each carrying unique values; then every place a secret
could leak is searched for them in clear, hex and base64 (tests/security/test_canary.py's forms).
"""

from __future__ import annotations

import secrets
import time
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.conftest import ServerFactory
from tests.security.test_canary import _assert_absent
from tests.support.idp import LocalIdP
from tests.support.tokenreview import Account, FakeTokenReview


def test_auth_secrets_never_reach_logs_audit_or_sqlite(sealed_server: ServerFactory) -> None:
    server = sealed_server("sqlite")
    init = server.client().sys.initialize(secret_shares=1, secret_threshold=1)
    root = server.client(init["root_token"])
    root.sys.submit_unseal_keys(init["keys"])
    audit_log = server.workdir / "audit.log"
    root.sys.enable_audit_device("file", options={"file_path": str(audit_log)})

    idp = LocalIdP(client_secret="oidc-secret-" + secrets.token_hex(16)).start()
    reviewer = "reviewer-jwt-" + secrets.token_hex(16)
    api = FakeTokenReview(reviewer_jwt=reviewer).start()
    try:
        # JWT login: the job token is the secret.
        root.sys.enable_auth_method("jwt")
        root.auth.jwt.configure(jwks_url=idp.jwks_url)
        root.auth.jwt.create_role(
            "ci",
            role_type="jwt",
            user_claim="sub",
            allowed_redirect_uris=None,
            bound_audiences=["hush"],
            token_policies=["ci"],
        )
        job_token = idp.sign({"sub": "repo:acme/api", "aud": "hush", "iss": "https://ci"})
        jwt_login = root.auth.jwt.jwt_login("ci", job_token, use_token=False)
        rejected_token = idp.sign({"sub": "x", "aud": "other"}, lifetime=600)

        # OIDC flow: the client secret and the authorization code are the secrets.
        root.sys.enable_auth_method("oidc")
        root.auth.oidc.configure(
            oidc_discovery_url=idp.url,
            oidc_client_id=idp.client_id,
            oidc_client_secret=idp.client_secret,
        )
        root.auth.oidc.create_role(
            "person", user_claim="sub", allowed_redirect_uris=["http://localhost:8250/cb"]
        )
        url = root.auth.oidc.oidc_authorization_url_request("person", "http://localhost:8250/cb")
        location = httpx.get(url["data"]["auth_url"]).headers["location"]
        back = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
        oidc_login = root.auth.oidc.oidc_callback(back["state"], "", back["code"])

        # Kubernetes: the reviewer JWT and the pod's JWT are the secrets.
        pod_jwt = "pod-jwt-" + secrets.token_hex(16)
        api.accounts[pod_jwt] = Account("prod", "app", "uid-1", ("hush",))
        root.sys.enable_auth_method("kubernetes")
        root.auth.kubernetes.configure(
            api.url, kubernetes_ca_cert=api.ca_pem, token_reviewer_jwt=reviewer
        )
        root.auth.kubernetes.create_role("app", ["app"], ["prod"], audience="hush")
        k8s_login = root.auth.kubernetes.login("app", pod_jwt, use_token=False)

        with server.http() as http:  # refused logins carry their tokens too
            for path, body in (
                ("auth/jwt/login", {"role": "ci", "jwt": rejected_token}),
                ("auth/kubernetes/login", {"role": "app", "jwt": pod_jwt + "x"}),
                ("auth/jwt/login", {"role": "ci", "jwt": job_token + "x"}),
            ):
                assert http.post(f"/v1/{path}", json=body).status_code in (400, 403)
    finally:
        idp.stop()
        api.stop()

    issued = {
        "jwt login token": jwt_login["auth"]["client_token"],
        "oidc login token": oidc_login["auth"]["client_token"],
        "k8s login token": k8s_login["auth"]["client_token"],
    }
    planted = {
        "OIDC client secret": idp.client_secret.encode(),
        "reviewer JWT": reviewer.encode(),
        "job JWT": job_token.encode(),
        "job JWT signature": job_token.rsplit(".", 1)[1].encode(),
        "rejected JWT signature": rejected_token.rsplit(".", 1)[1].encode(),
        "pod JWT": pod_jwt.encode(),
        "OIDC code": back["code"].encode(),
        "OIDC state": back["state"].encode(),
        **{name: token.encode() for name, token in issued.items()},
    }
    time.sleep(0.2)  # let the audit device's last line land
    audit = audit_log.read_bytes()
    assert b"auth/kubernetes/login" in audit  # positive control: the logins were audited
    _assert_absent(audit, planted, "the audit file")
    _assert_absent(server.log_text().encode(), planted, "the server output")
    stored = b"\n".join(f.read_bytes() for f in sorted(server.workdir.glob("hush.db*")))
    _assert_absent(stored, planted, "the SQLite files")
