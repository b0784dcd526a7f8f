"""Password policy parsing, validation and generation (pure logic)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hush.core.errors import InvalidRequest
from hush.core.password_policies import (
    DEFAULT_PASSWORD_POLICY,
    CharsetRule,
    PasswordPolicy,
    parse_password_policy,
)

POLICY = """
length = 24
rule "charset" {
  charset = "abcdefghijklmnopqrstuvwxyz"
  min-chars = 1
}
rule "charset" {
  charset = "0123456789"
  min-chars = 4
}
rule "charset" {
  charset = "!@#"
  min-chars = 2
}
"""


def test_hcl_policy_parses_into_rules() -> None:
    policy = parse_password_policy(POLICY)
    assert policy.length == 24
    assert policy.rules == (
        CharsetRule("abcdefghijklmnopqrstuvwxyz", 1),
        CharsetRule("0123456789", 4),
        CharsetRule("!@#", 2),
    )


def test_generated_passwords_follow_every_rule() -> None:
    policy = parse_password_policy(POLICY)
    for _ in range(200):
        password = policy.generate()
        assert len(password) == 24
        assert set(password) <= set(policy.charset)
        assert sum(c.isdigit() for c in password) >= 4
        assert sum(c in "!@#" for c in password) >= 2
        assert any(c.islower() for c in password)


def test_json_policy_is_accepted() -> None:
    policy = parse_password_policy(
        '{"length": 8, "rule": {"charset": [{"charset": "ab", "min-chars": 2}]}}'
    )
    assert policy == PasswordPolicy(8, (CharsetRule("ab", 2),))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('length = 3\nrule "charset" { charset = "ab" }', "between 4 and 100"),
        ('length = 101\nrule "charset" { charset = "ab" }', "between 4 and 100"),
        ("length = 10", "no charset specified"),
        (
            'length = 5\nrule "charset" {\n charset = "ab"\n min-chars = 6\n}',
            "require at least 6 characters but 5 is specified",
        ),
        ('length = 10\nrule "bogus" { charset = "ab" }', 'unrecognized rule type "bogus"'),
        ('length = 10\nrule "charset" { charset = "ab"\n minchars = 1 }', "minchars"),
        ('length = "x"\nrule "charset" { charset = "ab" }', "length must be an integer"),
        ("length = = 2", "invalid password policy"),
        ('lenght = 10\nrule "charset" { charset = "ab" }', "unknown key(s): lenght"),
        ('length = 10\nrule "charset" { charset = "a\\u0007" }', "non-printable"),
    ],
)
def test_impossible_or_malformed_policies_are_refused(text: str, message: str) -> None:
    with pytest.raises(InvalidRequest) as exc:
        parse_password_policy(text)
    assert message in exc.value.message


def test_default_policy_matches_vault_database_default() -> None:
    password = DEFAULT_PASSWORD_POLICY.generate()
    assert len(password) == 20
    assert any(c.islower() for c in password)
    assert any(c.isupper() for c in password)
    assert any(c.isdigit() for c in password)
    assert "-" in password


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(st.text(alphabet="abcdefXYZ0123-_", min_size=1, max_size=6), st.integers(0, 5)),
        min_size=1,
        max_size=4,
    ),
    st.integers(4, 40),
)
def test_any_satisfiable_policy_generates_a_conforming_password(
    rules: list[tuple[str, int]], length: int
) -> None:
    policy = PasswordPolicy(length, tuple(CharsetRule(c, n) for c, n in rules))
    if sum(n for _, n in rules) > length:
        with pytest.raises(InvalidRequest):
            policy.validate()
        return
    policy.validate()
    password = policy.generate()
    assert len(password) == length
    for charset, minimum in rules:
        assert sum(ch in charset for ch in password) >= minimum
