"""The OIDC browser flow against a local provider: auth_url, the provider's redirect, callback.

httpx plays the browser (it follows the authorization URL and reads the redirect), hvac plays the
CLI (it asks for the URL and completes the callback), as ``hush login -method=oidc`` would.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import hvac
import hvac.exceptions
import pytest

from tests.support.idp import LocalIdP
from tests.support.server import HushProcess

REDIRECT = "http://localhost:8250/oidc/callback"


def anonymous(server: HushProcess) -> hvac.Client:
    return hvac.Client(url=server.url, token="", verify=server.verify)


def browse(auth_url: str) -> dict[str, str]:
    """Follow the authorization URL like a browser; the query of the redirect back."""
    answer = httpx.get(auth_url, follow_redirects=False, timeout=10)
    assert answer.status_code == 302
    return {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["location"]).query).items()}


@pytest.fixture(scope="module")
def oidc_mount(dev_server: HushProcess, local_idp: LocalIdP) -> Iterator[hvac.Client]:
    root = dev_server.client()
    root.sys.enable_auth_method("oidc")
    root.auth.oidc.configure(
        oidc_discovery_url=local_idp.url,
        oidc_client_id=local_idp.client_id,
        oidc_client_secret=local_idp.client_secret,
        default_role="person",
    )
    root.auth.oidc.create_role(
        "person",
        user_claim="email",
        allowed_redirect_uris=[REDIRECT, "http://127.0.0.1:8250/oidc/callback"],
        groups_claim="groups",
        claim_mappings={"email": "email", "name": "name"},
        oidc_scopes=["profile", "email"],
        token_policies=["people"],
        token_ttl="1h",
    )
    # The role requires the groups claim; every test of the module may run first on its xdist
    # worker, so the provider's claims are set here, not by whichever test happened to run before.
    local_idp.login_claims = {
        "sub": "alice",
        "email": "alice@example.com",
        "name": "Alice",
        "groups": ["eng", "oncall"],
    }
    yield root
    root.sys.disable_auth_method("oidc")


def test_oidc_login_through_the_provider(
    oidc_mount: hvac.Client, dev_server: HushProcess, local_idp: LocalIdP
) -> None:
    config = oidc_mount.auth.oidc.read_config()["data"]
    assert config["oidc_client_id"] == local_idp.client_id
    assert "oidc_client_secret" not in config

    local_idp.login_claims = {
        "sub": "alice",
        "email": "alice@example.com",
        "name": "Alice",
        "groups": ["eng", "oncall"],
    }
    client = anonymous(dev_server)
    auth_url = client.auth.oidc.oidc_authorization_url_request("person", REDIRECT)["data"][
        "auth_url"
    ]
    query = parse_qs(urlsplit(auth_url).query)
    assert auth_url.startswith(local_idp.url + "/authorize?")
    assert query["client_id"] == [local_idp.client_id]
    assert query["scope"] == ["openid profile email"]
    assert query["code_challenge_method"] == ["S256"] and query["response_type"] == ["code"]
    assert query["redirect_uri"] == [REDIRECT]

    back = browse(auth_url)
    login = client.auth.oidc.oidc_callback(state=back["state"], nonce="", code=back["code"])
    auth = login["auth"]
    assert auth["policies"] == ["default", "people"]
    assert auth["metadata"] == {"email": "alice@example.com", "name": "Alice", "role": "person"}
    assert auth["lease_duration"] == 3600
    me = dev_server.client(token=auth["client_token"]).auth.token.lookup_self()["data"]
    assert me["display_name"] == "oidc-alice@example.com"

    # The provider saw PKCE and the client credentials (its token endpoint checked both).
    assert any(path.startswith("/token") for path in local_idp.requests)


def test_callback_state_is_single_use(
    oidc_mount: hvac.Client, dev_server: HushProcess, local_idp: LocalIdP
) -> None:
    client = anonymous(dev_server)
    url = client.auth.oidc.oidc_authorization_url_request("person", REDIRECT)["data"]["auth_url"]
    back = browse(url)
    client.auth.oidc.oidc_callback(state=back["state"], nonce="", code=back["code"])
    with pytest.raises(hvac.exceptions.InvalidRequest) as caught:
        client.auth.oidc.oidc_callback(state=back["state"], nonce="", code=back["code"])
    assert caught.value.errors == ["Login failed. Expired or missing OAuth state."]


def test_form_post_callback_and_client_nonce(
    oidc_mount: hvac.Client, dev_server: HushProcess, local_idp: LocalIdP
) -> None:
    with dev_server.http() as http:
        started = http.post(
            "/v1/auth/oidc/oidc/auth_url",
            json={"role": "person", "redirect_uri": REDIRECT, "client_nonce": "cn-123456"},
        ).json()
        back = browse(started["data"]["auth_url"])
        missing = http.post(
            "/v1/auth/oidc/oidc/callback", data={"state": back["state"], "code": back["code"]}
        )
        assert missing.status_code == 400
        assert missing.json()["errors"] == ["invalid client_nonce"]

        started = http.post(
            "/v1/auth/oidc/oidc/auth_url",
            json={"role": "person", "redirect_uri": REDIRECT, "client_nonce": "cn-123456"},
        ).json()
        back = browse(started["data"]["auth_url"])
        answer = http.post(
            "/v1/auth/oidc/oidc/callback",
            data={"state": back["state"], "code": back["code"], "client_nonce": "cn-123456"},
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["auth"]["client_token"]


def test_redirect_uri_must_be_allowed_loopback_port_may_vary(
    oidc_mount: hvac.Client, dev_server: HushProcess
) -> None:
    client = anonymous(dev_server)
    bad = client.auth.oidc.oidc_authorization_url_request("person", "https://evil.example/cb")
    assert bad["data"]["auth_url"] == ""
    assert bad["warnings"] == ["unauthorized redirect_uri"]
    loopback = client.auth.oidc.oidc_authorization_url_request(
        "person", "http://127.0.0.1:53211/oidc/callback"
    )
    assert loopback["data"]["auth_url"].startswith("http://127.0.0.1:")
    with pytest.raises(hvac.exceptions.InvalidRequest) as caught:
        client.auth.oidc.oidc_authorization_url_request("ghost", REDIRECT)
    assert caught.value.errors == ['role "ghost" could not be found']


def test_jwt_login_refuses_oidc_roles(oidc_mount: hvac.Client, dev_server: HushProcess) -> None:
    with pytest.raises(hvac.exceptions.InvalidRequest) as caught:
        anonymous(dev_server).auth.oidc.jwt_login("person", "a.b.c")
    assert caught.value.errors == ["role with oidc role_type is not allowed"]


def test_max_age_needs_a_recent_auth_time(
    oidc_mount: hvac.Client, dev_server: HushProcess, local_idp: LocalIdP
) -> None:
    oidc_mount.write(
        "auth/oidc/role/recent", user_claim="sub", allowed_redirect_uris=[REDIRECT], max_age="5m"
    )
    client = anonymous(dev_server)
    saved = dict(local_idp.login_claims)
    try:
        for auth_time, accepted in (
            (int(time.time()) - 30, True),
            (int(time.time()) - 3600, False),
        ):
            local_idp.login_claims = {**saved, "auth_time": auth_time}
            url = client.auth.oidc.oidc_authorization_url_request("recent", REDIRECT)
            assert parse_qs(urlsplit(url["data"]["auth_url"]).query)["max_age"] == ["300"]
            back = browse(url["data"]["auth_url"])
            if accepted:
                client.auth.oidc.oidc_callback(state=back["state"], nonce="", code=back["code"])
                continue
            with pytest.raises(hvac.exceptions.InvalidRequest) as caught:
                client.auth.oidc.oidc_callback(state=back["state"], nonce="", code=back["code"])
            assert caught.value.errors == [
                "Login failed. Error validating ID token: auth_time is beyond the role's max_age"
            ]
    finally:
        local_idp.login_claims = saved


def test_jwt_login_on_a_discovery_configured_mount(
    oidc_mount: hvac.Client, dev_server: HushProcess, local_idp: LocalIdP
) -> None:
    # The same mount takes signed JWTs from the provider directly (keys found via discovery).
    oidc_mount.auth.oidc.create_role(
        "service",
        role_type="jwt",
        user_claim="sub",
        allowed_redirect_uris=None,
        bound_audiences=["batch-jobs"],
        token_policies=["batch"],
    )
    token = local_idp.sign({"iss": local_idp.url, "sub": "nightly", "aud": "batch-jobs"})
    auth = anonymous(dev_server).auth.oidc.jwt_login("service", token, use_token=False)["auth"]
    assert auth["policies"] == ["batch", "default"]
    assert auth["metadata"] == {"role": "service"}
