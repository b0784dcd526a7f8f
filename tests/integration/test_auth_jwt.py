"""JWT auth for CI pipelines through hvac against a real dev server and a local JWKS endpoint.

Tokens are shaped like GitHub Actions and GitLab CI ID tokens and signed by the local identity
provider (tests/support/idp.py); Hush fetches its JWKS over HTTP, as it would GitHub's.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import hvac
import hvac.exceptions
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support.idp import GITHUB_ISSUER, LocalIdP, public_pem
from tests.support.server import HushProcess

AUDIENCE = "https://hush.example.com"


def anonymous(server: HushProcess) -> hvac.Client:
    return hvac.Client(url=server.url, token="", verify=server.verify)


def refused(call: object, message: str) -> None:
    with pytest.raises(hvac.exceptions.InvalidRequest) as caught:
        call()  # type: ignore[operator]
    assert caught.value.errors == [message]


@pytest.fixture(scope="module")
def github(dev_server: HushProcess, local_idp: LocalIdP) -> Iterator[hvac.Client]:
    """A ``jwt`` mount trusting the local JWKS for GitHub's issuer, one role per repo+branch."""
    root = dev_server.client()
    root.sys.enable_auth_method("jwt", path="github")
    root.auth.jwt.configure(jwks_url=local_idp.jwks_url, bound_issuer=GITHUB_ISSUER, path="github")
    root.sys.create_or_update_policy(
        "ci-acme-api", 'path "secret/ci/acme/api/*" { capabilities = ["read"] }'
    )
    root.auth.jwt.create_role(
        "acme-api-main",
        role_type="jwt",
        user_claim="repository",
        allowed_redirect_uris=None,
        bound_audiences=[AUDIENCE],
        bound_claims={"repository": "acme/api", "ref": "refs/heads/main"},
        claim_mappings={"repository": "repository", "ref": "ref", "job_workflow_ref": "workflow"},
        token_policies=["ci-acme-api"],
        token_ttl="5m",
        token_max_ttl="10m",
        path="github",
    )
    root.write("secret/ci/acme/api/db", password="api-db-password")
    root.write("secret/ci/acme/web/db", password="web-db-password")
    yield root
    root.sys.disable_auth_method("github")


def test_github_actions_job_logs_in_and_reads_only_its_repository(
    github: hvac.Client, dev_server: HushProcess, local_idp: LocalIdP
) -> None:
    job_token = local_idp.github_token("acme/api", "refs/heads/main", AUDIENCE)
    login = anonymous(dev_server).auth.jwt.jwt_login(
        "acme-api-main", job_token, use_token=False, path="github"
    )
    auth = login["auth"]
    assert auth["policies"] == ["ci-acme-api", "default"]
    assert auth["lease_duration"] == 300
    assert auth["metadata"] == {
        "repository": "acme/api",
        "ref": "refs/heads/main",
        "workflow": "acme/api/.github/workflows/deploy.yml@refs/heads/main",
        "role": "acme-api-main",
    }
    pipeline = dev_server.client(token=auth["client_token"])
    me = pipeline.auth.token.lookup_self()["data"]
    assert me["display_name"] == "github-acme/api"
    assert me["ttl"] <= 300
    assert me["path"] == "auth/github/login"
    assert pipeline.read("secret/ci/acme/api/db")["data"] == {"password": "api-db-password"}
    with pytest.raises(hvac.exceptions.Forbidden):
        pipeline.read("secret/ci/acme/web/db")


def test_token_of_another_repository_or_branch_is_refused(
    github: hvac.Client, dev_server: HushProcess, local_idp: LocalIdP
) -> None:
    client = anonymous(dev_server)
    other_repo = local_idp.github_token("acme/web", "refs/heads/main", AUDIENCE)
    other_branch = local_idp.github_token("acme/api", "refs/heads/feature-x", AUDIENCE)
    wrong_audience = local_idp.github_token("acme/api", "refs/heads/main", "https://elsewhere")
    refused(
        lambda: client.auth.jwt.jwt_login("acme-api-main", other_repo, path="github"),
        'error validating claims: claim "repository" does not match any associated bound '
        "claim values",
    )
    refused(
        lambda: client.auth.jwt.jwt_login("acme-api-main", other_branch, path="github"),
        'error validating claims: claim "ref" does not match any associated bound claim values',
    )
    refused(
        lambda: client.auth.jwt.jwt_login("acme-api-main", wrong_audience, path="github"),
        "error validating token: invalid audience (aud) claim: audience claim does not match "
        "any expected audience",
    )
    refused(
        lambda: client.auth.jwt.jwt_login("no-such-role", other_repo, path="github"),
        'role "no-such-role" could not be found',
    )


def test_gitlab_ci_job_with_glob_bound_claims_and_groups(
    dev_server: HushProcess, local_idp: LocalIdP
) -> None:
    root = dev_server.client()
    root.sys.enable_auth_method("jwt", path="gitlab")
    try:
        # GitLab publishes its keys at <instance>/oauth/discovery/keys; here, a PEM key.
        root.auth.jwt.configure(
            jwt_validation_pubkeys=[public_pem(local_idp.ec_key)],
            bound_issuer="https://gitlab.example.com",
            jwt_supported_algs=["ES256"],
            path="gitlab",
        )
        root.auth.jwt.create_role(
            "platform-deploy",
            role_type="jwt",
            user_claim="project_path",
            allowed_redirect_uris=None,
            bound_audiences=[AUDIENCE],
            bound_claims_type="glob",
            bound_claims={"project_path": "platform/*", "ref": ["main", "release-*"]},
            groups_claim="groups_direct",
            token_policies=["deploy"],
            token_ttl=120,
            path="gitlab",
        )
        role = root.auth.jwt.read_role("platform-deploy", path="gitlab")["data"]
        assert role["bound_claims_type"] == "glob"
        assert role["bound_claims"] == {"project_path": "platform/*", "ref": ["main", "release-*"]}
        assert role["groups_claim"] == "groups_direct" and role["token_ttl"] == 120
        assert role["role_type"] == "jwt" and role["expiration_leeway"] == 0

        client = anonymous(dev_server)
        token = local_idp.gitlab_token("platform/infra", "release-2026.11", AUDIENCE)
        auth = client.auth.jwt.jwt_login("platform-deploy", token, path="gitlab")["auth"]
        assert auth["policies"] == ["default", "deploy"] and auth["lease_duration"] == 120
        assert auth["metadata"] == {"role": "platform-deploy"}

        outsider = local_idp.gitlab_token("marketing/site", "main", AUDIENCE)
        refused(
            lambda: client.auth.jwt.jwt_login("platform-deploy", outsider, path="gitlab"),
            'error validating claims: claim "project_path" does not match any associated '
            "bound claim values",
        )
        feature = local_idp.gitlab_token("platform/infra", "feature/x", AUDIENCE)
        refused(
            lambda: client.auth.jwt.jwt_login("platform-deploy", feature, path="gitlab"),
            'error validating claims: claim "ref" does not match any associated bound claim values',
        )
        # An RSA-signed token is refused: only ES256 is configured.
        rsa_signed = local_idp.sign(
            {"iss": "https://gitlab.example.com", "aud": AUDIENCE, "project_path": "platform/a"}
        )
        refused(
            lambda: client.auth.jwt.jwt_login("platform-deploy", rsa_signed, path="gitlab"),
            "error validating token: error verifying token signature: unexpected signature "
            'algorithm "RS256"; expected ["ES256"]',
        )
    finally:
        root.sys.disable_auth_method("gitlab")


def test_config_and_roles_read_list_delete_and_validation(
    dev_server: HushProcess, local_idp: LocalIdP
) -> None:
    root = dev_server.client()
    root.sys.enable_auth_method("jwt", path="cfg")
    try:
        with pytest.raises(hvac.exceptions.InvalidRequest) as caught:
            root.auth.jwt.configure(
                jwks_url=local_idp.jwks_url, jwt_validation_pubkeys=["x"], path="cfg"
            )
        assert "exactly one of" in caught.value.errors[0]
        with pytest.raises(hvac.exceptions.InvalidRequest) as caught:
            root.auth.jwt.configure(jwks_url=local_idp.url + "/missing", path="cfg")
        assert caught.value.errors[0].startswith("error checking jwks URL:")
        with pytest.raises(hvac.exceptions.InvalidRequest) as caught:
            root.auth.jwt.configure(
                jwks_url=local_idp.jwks_url, jwt_supported_algs=["HS256"], path="cfg"
            )
        assert caught.value.errors == ["invalid jwt_supported_algs: HS256"]
        with pytest.raises(hvac.exceptions.InvalidRequest) as caught:
            root.auth.jwt.configure(jwt_validation_pubkeys=["not a key"], path="cfg")
        assert caught.value.errors[0].startswith("error parsing public key")

        root.auth.jwt.configure(
            jwks_url=local_idp.jwks_url, bound_issuer="https://issuer", path="cfg"
        )
        config = root.auth.jwt.read_config(path="cfg")["data"]
        assert config["jwks_url"] == local_idp.jwks_url
        assert config["bound_issuer"] == "https://issuer"
        assert "oidc_client_secret" not in config

        refused(
            lambda: root.auth.jwt.create_role(
                "r", role_type="jwt", user_claim="sub", allowed_redirect_uris=None, path="cfg"
            ),
            "must have at least one bound constraint when creating/updating a role",
        )
        refused(
            lambda: root.auth.oidc.create_role(
                "r", user_claim="sub", allowed_redirect_uris=None, path="cfg"
            ),
            "'allowed_redirect_uris' must be set if 'role_type' is 'oidc' or unspecified.",
        )
        refused(
            lambda: root.auth.jwt.create_role(
                "r",
                role_type="jwt",
                user_claim="sub",
                allowed_redirect_uris=None,
                bound_subject="x",
                claim_mappings={"a": "role"},
                path="cfg",
            ),
            'metadata key "role" is reserved and may not be a mapping destination',
        )
        root.auth.jwt.create_role(
            "Svc",
            role_type="jwt",
            user_claim="sub",
            allowed_redirect_uris=None,
            bound_subject="svc",
            expiration_leeway="-1",
            clock_skew_leeway="2m",
            path="cfg",
        )
        role = root.auth.jwt.read_role("svc", path="cfg")["data"]
        assert role["bound_subject"] == "svc"
        assert role["expiration_leeway"] == -1 and role["clock_skew_leeway"] == 120
        assert role["token_policies"] == [] and role["token_type"] == "default"
        assert root.auth.jwt.list_roles(path="cfg")["data"]["keys"] == ["svc"]
        root.auth.jwt.delete_role("svc", path="cfg")
        with pytest.raises(hvac.exceptions.InvalidPath):
            root.auth.jwt.list_roles(path="cfg")
    finally:
        root.sys.disable_auth_method("cfg")


def test_jwks_key_rotation_is_picked_up_on_an_unknown_kid(dev_server: HushProcess) -> None:
    idp = LocalIdP().start()
    root = dev_server.client()
    root.sys.enable_auth_method("jwt", path="rotating")
    try:
        root.auth.jwt.configure(jwks_url=idp.jwks_url, path="rotating")
        root.auth.jwt.create_role(
            "ci",
            role_type="jwt",
            user_claim="sub",
            allowed_redirect_uris=None,
            bound_audiences=[AUDIENCE],
            path="rotating",
        )
        client = anonymous(dev_server)

        def login() -> None:
            token = idp.sign({"sub": "job", "aud": AUDIENCE})
            client.auth.jwt.jwt_login("ci", token, use_token=False, path="rotating")

        # Made before the first login: generating an RSA key can take seconds on a loaded
        # machine, and the next login must come within 5 s of the first one's fetch.
        new_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        login()  # the first login fetches and caches the JWKS
        fetched = idp.requests.count("/jwks")
        idp.rotate_rsa("rsa-2", new_key)
        # Right after a fetch an unknown kid does not trigger another (at most one per 5 s) ...
        with pytest.raises(hvac.exceptions.InvalidRequest) as caught:
            login()
        assert caught.value.errors == [
            "error validating token: error verifying token signature: failed to verify id token "
            "signature"
        ]
        assert idp.requests.count("/jwks") == fetched
        # ... after that the unknown kid refreshes the cache once, and the new key works.
        time.sleep(5.2)
        login()
        login()
        assert idp.requests.count("/jwks") == fetched + 1
    finally:
        root.sys.disable_auth_method("rotating")
        idp.stop()


def test_role_token_bound_cidrs_refuse_other_addresses(
    github: hvac.Client, dev_server: HushProcess, local_idp: LocalIdP
) -> None:
    github.auth.jwt.create_role(
        "office-only",
        role_type="jwt",
        user_claim="repository",
        allowed_redirect_uris=None,
        bound_audiences=[AUDIENCE],
        token_bound_cidrs=["10.0.0.0/8"],
        path="github",
    )
    token = local_idp.github_token("acme/api", "refs/heads/main", AUDIENCE)
    with pytest.raises(hvac.exceptions.Forbidden):
        anonymous(dev_server).auth.jwt.jwt_login("office-only", token, path="github")
