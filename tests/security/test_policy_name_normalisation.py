"""Policy-name normalisation: no spelling of ``root`` makes a token root for a non-root caller.

Policy names have one normal form (:func:`hush.core.acl.canonical_policy_name`: NFKC, trimmed,
lowercased, printable ASCII), so ``Root``, fullwidth or superscript ``root`` *are*
``root`` and zero-width or other non-printable look-alikes are refused. The attacker here holds an
"operator" token that may write policies, token roles and userpass users but is not root: every
route from such a name to a token (child, orphan, token role, login) must be refused, and names
that merely resemble ``root`` are ordinary policies that grant nothing of root's.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.conftest import DEV_ROOT_TOKEN
from tests.support.server import HushProcess

ROOT_LOOKALIKES = [
    "root",
    "Root",
    "ROOT",
    " root",
    "root ",
    "root\t",
    "\uff52\uff4f\uff4f\uff54",  # fullwidth: NFKC folds it to "root"
    "\u02b3\u1d52\u1d52\u1d57",  # superscript modifier letters: NFKC folds them too
    "RoOt\u3000",  # ideographic space, stripped after NFKC
    "root\u200b",  # zero-width space: not printable, refused
    "\u0280oot",  # Latin letter small capital R: not ASCII, refused
]
NEAR_MISSES = ["root2", "r00t", "_root", "root.", "roots", "root-admin"]
ROOT = {"X-Vault-Token": DEV_ROOT_TOKEN}
OPERATOR_POLICY = """
path "sys/policy/*" { capabilities = ["create", "read", "update", "delete"] }
path "sys/policies/acl/*" { capabilities = ["create", "read", "update", "delete"] }
path "auth/token/create" { capabilities = ["update"] }
path "auth/token/create-orphan" { capabilities = ["update", "sudo"] }
path "auth/token/create/*" { capabilities = ["update"] }
path "auth/token/roles/*" { capabilities = ["create", "read", "update"] }
path "auth/userpass/users/*" { capabilities = ["create", "update"] }
"""


@pytest.fixture(scope="module")
def http(dev_server: HushProcess) -> Iterator[httpx.Client]:
    with dev_server.http() as client:
        yield client


@pytest.fixture(scope="module")
def operator(http: httpx.Client) -> dict[str, str]:
    """Headers of a powerful token that is not root (and userpass enabled for it to abuse)."""
    assert http.put("/v1/sys/policy/operator", json={"policy": OPERATOR_POLICY}, headers=ROOT)
    assert http.post("/v1/sys/auth/userpass", json={"type": "userpass"}, headers=ROOT).is_success
    created = http.post("/v1/auth/token/create", json={"policies": ["operator"]}, headers=ROOT)
    return {"X-Vault-Token": created.json()["auth"]["client_token"]}


def _path(name: str) -> str:
    return quote(name, safe="")


def _assert_not_root(response: httpx.Response) -> None:
    """A refusal (4xx), or at worst a token that is not root; never a 5xx."""
    assert response.status_code < 500, response.text
    if response.is_success:
        policies: list[str] = response.json()["auth"]["policies"]
        assert "root" not in policies, policies


def _capabilities_on(http: httpx.Client, headers: dict[str, str], path: str) -> Any:
    answer = http.post("/v1/sys/capabilities-self", json={"paths": [path]}, headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()["data"][path]


@pytest.mark.parametrize("name", ROOT_LOOKALIKES)
def test_lookalike_policy_documents_are_refused(
    http: httpx.Client, operator: dict[str, str], name: str
) -> None:
    document = {"policy": 'path "sys/*" { capabilities = ["read", "update", "sudo"] }'}
    for headers in (operator, ROOT):
        for api in ("/v1/sys/policy/", "/v1/sys/policies/acl/"):
            answer = http.put(api + _path(name), json=document, headers=headers)
            assert answer.status_code == 400, (api, answer.text)
    listed: list[str] = http.get("/v1/sys/policy", headers=ROOT).json()["policies"]
    assert name == "root" or name not in listed
    assert all(p.isascii() and p.isprintable() and p == p.strip().lower() for p in listed), listed


@pytest.mark.parametrize("name", ROOT_LOOKALIKES)
def test_non_root_caller_cannot_request_root_by_any_spelling(
    http: httpx.Client, operator: dict[str, str], name: str
) -> None:
    for endpoint, body in (
        ("auth/token/create", {"policies": [name]}),
        ("auth/token/create", {"policies": [name], "no_parent": True}),
        ("auth/token/create-orphan", {"policies": [name]}),
        ("auth/token/create", {"policies": ["default", name], "type": "batch"}),
    ):
        answer = http.post(f"/v1/{endpoint}", json=body, headers=operator)
        assert 400 <= answer.status_code < 500, (endpoint, body, answer.text)


@pytest.mark.parametrize("name", ROOT_LOOKALIKES)
def test_token_role_cannot_mint_root_for_a_non_root_caller(
    http: httpx.Client, operator: dict[str, str], name: str
) -> None:
    # Regression: a role whose allowed_policies held "root" (any spelling) minted root tokens
    # for any caller allowed to use the role; Vault refuses root from a non-root parent.
    for role_name, author in (("by-operator", operator), ("by-root", ROOT)):
        role = {"allowed_policies": [name], "orphan": author is ROOT}
        written = http.post(f"/v1/auth/token/roles/{role_name}", json=role, headers=author)
        assert written.status_code < 500, written.text
        for body in ({}, {"policies": [name]}):
            answer = http.post(f"/v1/auth/token/create/{role_name}", json=body, headers=operator)
            _assert_not_root(answer)
            assert not answer.is_success, answer.text


def test_token_role_policy_lists_compare_canonical_names(
    http: httpx.Client, operator: dict[str, str]
) -> None:
    # Regression: a role stored "Admin" as written, so disallowing "Admin" (or "ADM*") did not
    # stop a token with the canonical "admin".
    for policy in ("admin", "dev"):
        rules = {"policy": 'path "secret/*" { capabilities = ["read"] }'}
        assert http.put(f"/v1/sys/policy/{policy}", json=rules, headers=ROOT).status_code == 204
    for role in (
        {"allowed_policies": ["dev", "admin"], "disallowed_policies": ["Admin"]},
        {"disallowed_policies_glob": ["ADM*"]},
        {"allowed_policies": ["DEV"]},
    ):
        assert http.post("/v1/auth/token/roles/canon", json=role, headers=ROOT).status_code == 204
        stored = http.get("/v1/auth/token/roles/canon", headers=ROOT).json()["data"]
        for key in role:
            assert stored[key] == sorted(p.lower() for p in role[key]), stored
        answer = http.post(
            "/v1/auth/token/create/canon", json={"policies": ["admin"]}, headers=ROOT
        )
        assert answer.status_code == 400, answer.text


@pytest.mark.parametrize("name", ROOT_LOOKALIKES)
def test_login_never_mints_root_whatever_the_user_record_says(
    http: httpx.Client, operator: dict[str, str], name: str
) -> None:
    # Regression: whoever may write a userpass user (no sudo needed) could give it "ROOT" and
    # log in as root; Vault refuses root tokens from every auth method.
    user = f"/v1/auth/userpass/users/u{ROOT_LOOKALIKES.index(name)}"
    for field in ("token_policies", "policies"):
        written = http.post(
            user, json={"password": "pw-Correct-1", field: [name]}, headers=operator
        )
        assert written.status_code < 500, written.text
        login = http.post(
            f"/v1/auth/userpass/login/u{ROOT_LOOKALIKES.index(name)}",
            json={"password": "pw-Correct-1"},
        )
        _assert_not_root(login)
        assert not login.is_success, login.text


@pytest.mark.parametrize("name", ROOT_LOOKALIKES)
def test_root_caller_gets_the_one_canonical_root_or_a_refusal(
    http: httpx.Client, name: str
) -> None:
    # As in Vault, root asking for "Root" gets a root token: root may mint root anyway. What must
    # never exist is a second policy that looks like root and is stored under another name.
    answer = http.post("/v1/auth/token/create", json={"policies": [name]}, headers=ROOT)
    if answer.status_code == 400:
        assert "printable ASCII" in answer.text
        return
    assert answer.status_code == 200, answer.text
    assert answer.json()["auth"]["policies"] == ["root"]


@pytest.mark.parametrize("name", NEAR_MISSES)
def test_names_that_resemble_root_grant_nothing_of_root(http: httpx.Client, name: str) -> None:
    document = {"policy": 'path "secret/shared/*" { capabilities = ["read"] }'}
    assert http.put(f"/v1/sys/policy/{name}", json=document, headers=ROOT).status_code == 204
    created = http.post("/v1/auth/token/create", json={"policies": [name]}, headers=ROOT)
    auth = created.json()["auth"]
    assert "root" not in auth["policies"] and name in auth["policies"]
    token = {"X-Vault-Token": auth["client_token"]}
    assert _capabilities_on(http, token, "sys/mounts") != ["root"]
    assert _capabilities_on(http, token, "sys/seal") == ["deny"]
    assert http.put("/v1/sys/seal", headers=token).status_code == 403
    assert http.get("/v1/sys/mounts", headers=token).status_code == 403
    assert http.put("/v1/sys/policy/root", json=document, headers=token).status_code in (400, 403)
    assert http.get("/v1/sys/seal-status").json()["sealed"] is False
