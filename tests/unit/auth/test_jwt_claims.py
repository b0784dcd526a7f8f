"""Pure claim logic of the jwt method: globs, JSON pointers, bound claims, mappings, groups."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hush.auth.globs import glob_match
from hush.auth.jwt.claims import (
    ClaimError,
    check_bound_claims,
    claim_value,
    group_names,
    mapped_metadata,
    user_name,
    validate_bound_claims_config,
)
from hush.auth.jwt.oidc import redirect_allowed
from hush.auth.kubernetes.roles import bound


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("refs/heads/main", "refs/heads/main", True),
        ("refs/heads/*", "refs/heads/feature/x", True),
        ("refs/heads/*", "refs/tags/v1", False),
        ("*", "", True),
        ("repo:acme/*:ref:refs/heads/main", "repo:acme/api:ref:refs/heads/main", True),
        ("repo:acme/*:ref:refs/heads/main", "repo:acme/api:ref:refs/heads/mainx", False),
        ("a*b*c", "abc", True),
        ("a*b*c", "aXbYc", True),
        ("a*b*c", "acb", False),
        ("ab*ba", "aba", False),  # prefix and suffix may not overlap
        ("release-[0-9]*", "release-1", False),  # [ is literal, unlike fnmatch
        ("release-?", "release-1", False),  # ? is literal
        ("release-?", "release-?", True),
    ],
)
def test_glob_match_follows_go_glob(pattern: str, value: str, expected: bool) -> None:
    assert glob_match(pattern, value) is expected


@given(st.text(alphabet="ab/*-", max_size=8), st.text(alphabet="ab/-", max_size=10))
def test_glob_without_star_is_equality_and_star_alone_matches_all(pattern: str, value: str) -> None:
    if "*" not in pattern:
        assert glob_match(pattern, value) is (pattern == value)
    assert glob_match("*", value)
    assert glob_match(value, value)


def test_kubernetes_bindings_take_star_or_globs() -> None:
    assert bound(("*",), "anything")
    assert bound(("ci-*", "web"), "ci-runner") and bound(("ci-*", "web"), "web")
    assert not bound(("ci-*", "web"), "webx")
    assert not bound((), "x")


CLAIMS: dict[str, Any] = {
    "sub": "repo:acme/api:ref:refs/heads/main",
    "ref": "refs/heads/main",
    "run_number": 42,
    "ref_protected": True,
    "groups": ["eng", "ops"],
    "project": {"path": "platform/infra", "a/b": "slash", "tilde~": "t"},
}


def test_claim_values_by_name_and_json_pointer() -> None:
    assert claim_value(CLAIMS, "ref") == "refs/heads/main"
    assert claim_value(CLAIMS, "/project/path") == "platform/infra"
    assert claim_value(CLAIMS, "/project/a~1b") == "slash"
    assert claim_value(CLAIMS, "/project/tilde~0") == "t"
    assert claim_value(CLAIMS, "/groups/1") == "ops"
    assert claim_value(CLAIMS, "/groups/9") is None
    assert claim_value(CLAIMS, "/nope/x") is None


def test_bound_claims_any_of_a_list_and_types_are_not_confused() -> None:
    check_bound_claims({"ref": ["refs/heads/dev", "refs/heads/main"]}, CLAIMS, glob=False)
    check_bound_claims({"groups": "ops"}, CLAIMS, glob=False)  # a list claim: any element
    check_bound_claims({"run_number": 42, "ref_protected": True}, CLAIMS, glob=False)
    check_bound_claims({"/project/path": "platform/*"}, CLAIMS, glob=True)
    for bound_claims in (
        {"run_number": "42"},  # a string binding does not match a number claim
        {"ref_protected": 1},  # nor does 1 match true (Python's True == 1)
        {"ref_protected": "true"},
        {"ref": "refs/heads/*"},  # no globbing unless bound_claims_type=glob
    ):
        with pytest.raises(ClaimError, match="does not match"):
            check_bound_claims(bound_claims, CLAIMS, glob=False)
    with pytest.raises(ClaimError, match='claim "missing" is missing'):
        check_bound_claims({"missing": "x"}, CLAIMS, glob=False)
    with pytest.raises(ClaimError, match="is not a string"):
        check_bound_claims({"project": "x"}, CLAIMS, glob=False)


def test_glob_bindings_must_be_strings() -> None:
    validate_bound_claims_config({"ref": ["a*", "b"]}, glob=True)
    validate_bound_claims_config({"n": [1, True, "x"]}, glob=False)
    with pytest.raises(ClaimError):
        validate_bound_claims_config({"n": 1}, glob=True)
    with pytest.raises(ClaimError):
        validate_bound_claims_config({"n": {"a": "b"}}, glob=False)


def test_user_claim_groups_and_mappings() -> None:
    assert user_name(CLAIMS, "sub", json_pointer=False) == CLAIMS["sub"]
    assert user_name(CLAIMS, "run_number", json_pointer=False) == "42"
    assert user_name(CLAIMS, "/project/path", json_pointer=True) == "platform/infra"
    with pytest.raises(ClaimError, match="not found"):
        user_name(CLAIMS, "email", json_pointer=False)
    with pytest.raises(ClaimError, match="could not be converted"):
        user_name(CLAIMS, "groups", json_pointer=False)
    assert group_names(CLAIMS, "groups") == ("eng", "ops")
    assert group_names(CLAIMS, "ref") == ("refs/heads/main",)
    assert group_names(CLAIMS, "") == ()
    with pytest.raises(ClaimError):
        group_names(CLAIMS, "project")
    assert mapped_metadata(CLAIMS, {"ref": "branch", "groups": "teams", "x": "y"}) == {
        "branch": "refs/heads/main",
        "teams": "eng,ops",
    }


def test_redirect_uris_match_exactly_except_a_loopback_port() -> None:
    allowed = ("https://hush.example.com/ui/callback", "http://localhost:8250/oidc/callback")
    assert redirect_allowed("https://hush.example.com/ui/callback", allowed)
    assert redirect_allowed("http://localhost:51234/oidc/callback", allowed)
    for uri in (
        "https://hush.example.com/ui/callback/",
        "https://hush.example.com:8443/ui/callback",
        "https://hush.example.com/ui/callback?x=1",
        "http://localhost:8250/oidc/callback2",
        "https://localhost:8250/oidc/callback",
        "http://localhost.evil.example:8250/oidc/callback",
        "http://evil.example/oidc/callback",
        "http://[::1:8250/oidc/callback",
    ):
        assert not redirect_allowed(uri, allowed), uri
