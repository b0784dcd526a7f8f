"""The shared token_* fields: parsing, Vault's checks and messages, reads, and the LoginResult."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hush.auth.token_fields import (
    TokenSettings,
    address_allowed,
    normalize_addresses,
    sanitize_policies,
    token_fields,
)
from hush.core.errors import InvalidRequest
from hush.framework.fields import FieldData

FIELDS = token_fields("policies", "ttl", "max_ttl", "period", "bound_cidrs")


def parse(current: TokenSettings | None = None, **raw: Any) -> TokenSettings:
    return TokenSettings.parse(FieldData(FIELDS, raw), current)


def test_defaults_render_like_vault() -> None:
    assert parse().render() == {
        "token_bound_cidrs": [],
        "token_explicit_max_ttl": 0,
        "token_max_ttl": 0,
        "token_no_default_policy": False,
        "token_num_uses": 0,
        "token_period": 0,
        "token_policies": [],
        "token_type": "default",
        "token_ttl": 0,
    }


def test_values_are_weakly_decoded_like_vault() -> None:
    settings = parse(
        token_ttl="1h",
        token_max_ttl=7200,
        token_policies="b, a",
        token_bound_cidrs="10.0.0.0/8,127.0.0.1/32",
        token_num_uses="3",
        token_no_default_policy="true",
        token_type="service",
    )
    assert settings.render() == {
        "token_bound_cidrs": ["10.0.0.0/8", "127.0.0.1"],
        "token_explicit_max_ttl": 0,
        "token_max_ttl": 7200,
        "token_no_default_policy": True,
        "token_num_uses": 3,
        "token_period": 0,
        "token_policies": ["b", "a"],
        "token_type": "service",
        "token_ttl": 3600,
    }


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"token_type": "weird"}, "invalid 'token_type' value \"weird\""),
        ({"token_num_uses": -1}, "'token_num_uses' cannot be negative"),
        ({"token_ttl": "2h", "token_max_ttl": "1h"}, "'token_ttl' cannot be greater than"),
        ({"token_type": "batch", "token_period": 60}, "generate periodic tokens"),
        ({"token_type": "default-batch", "token_num_uses": 2}, "limited use count"),
        ({"token_bound_cidrs": "10.0.0.0/33"}, 'invalid IP address or CIDR block "10.0.0.0/33"'),
    ],
)
def test_invalid_settings_are_400_with_vaults_message(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse(**raw)
    assert message in caught.value.message


def test_update_keeps_what_was_not_sent() -> None:
    first = parse(token_ttl=60, token_policies="a")
    second = parse(first, token_max_ttl=120)
    assert (second.ttl, second.max_ttl, second.policies) == (60, 120, ("a",))


def test_legacy_alias_alone_sets_both_and_is_shown() -> None:
    settings = parse(policies="B,a,a", ttl="5m")
    assert settings.policies == ("a", "b")  # ParsePolicies: lowercased, unique, sorted
    data = settings.render()
    assert data["policies"] == data["token_policies"] == ["a", "b"]
    assert data["ttl"] == data["token_ttl"] == 300


def test_token_field_wins_and_stops_mirroring_an_unsent_alias() -> None:
    legacy = parse(policies="a")
    both = parse(legacy, token_policies="x", policies="y")
    assert both.policies == ("x",) and both.render()["policies"] == ["x"]
    modern = parse(both, token_policies="z")
    assert "policies" not in modern.render() and modern.policies == ("z",)


def test_storage_round_trip() -> None:
    settings = parse(token_policies="a", bound_cidrs="10.0.0.1", period="1h", token_type="service")
    assert TokenSettings.from_dict(settings.to_dict()) == settings


def test_to_login_carries_every_setting() -> None:
    settings = parse(
        token_policies="p",
        token_ttl=10,
        token_max_ttl=20,
        token_explicit_max_ttl=30,
        token_period=0,
        token_num_uses=4,
        token_no_default_policy=True,
        token_bound_cidrs="10.0.0.0/8",
        token_type="service",
    )
    login = settings.to_login("bob", "bob", {"username": "bob"})
    assert login.policies == ("p",) and login.display_name == "bob" and login.alias_name == "bob"
    assert (login.ttl, login.max_ttl, login.explicit_max_ttl, login.num_uses) == (10, 20, 30, 4)
    assert login.no_default_policy and login.renewable and login.token_type == "service"
    assert login.bound_cidrs == ("10.0.0.0/8",) and login.metadata == {"username": "bob"}


def test_sanitize_policies_keeps_root_alone() -> None:
    assert sanitize_policies(["Admin", " root ", "x"]) == ("root",)
    assert sanitize_policies([" ", "B", "a"]) == ("a", "b")


@pytest.mark.parametrize(
    ("remote", "cidrs", "allowed"),
    [
        ("10.1.2.3", ["10.0.0.0/8"], True),
        ("192.168.0.1", ["10.0.0.0/8"], False),
        ("::ffff:10.1.2.3", ["10.0.0.0/8"], True),
        ("2001:db8::1", ["2001:db8::/32"], True),
        ("", ["10.0.0.0/8"], False),
        ("not-an-ip", ["10.0.0.0/8"], False),
        ("anything", [], True),
    ],
)
def test_address_allowed(remote: str, cidrs: list[str], allowed: bool) -> None:
    assert address_allowed(remote, cidrs) is allowed


@given(st.ip_addresses(v=4), st.integers(min_value=0, max_value=32))
def test_normalized_block_contains_its_own_address(address: Any, prefix: int) -> None:
    (block,) = normalize_addresses([f"{address}/{prefix}"], "token_bound_cidrs")
    assert address_allowed(str(address), [block])
    if prefix == 32:
        assert block == str(address)
