"""ACL policies: parsing (HCL, JSON, legacy), Vault's matching and priority rules, parameters."""

from __future__ import annotations

import itertools
import json
import re

import pytest
from hypothesis import given, settings, target
from hypothesis import strategies as st

from hush.core.acl import (
    ACL,
    DEFAULT_POLICY_TEXT,
    Policy,
    PolicyError,
    canonical_policy_name,
    parse_policy,
    sanitize_policies,
)
from hush.core.errors import InvalidRequest
from hush.core.request import Operation

READ, LIST, UPDATE, CREATE = Operation.READ, Operation.LIST, Operation.UPDATE, Operation.CREATE


def acl(*texts: str) -> ACL:
    return ACL(parse_policy(f"p{i}", text) for i, text in enumerate(texts))


def caps(text: str) -> dict[str, list[str]]:
    return {r.pattern: sorted(r.capabilities) for r in parse_policy("p", text).rules}


# --- parsing ---------------------------------------------------------------------------------


def test_hcl_policy_parses_paths_and_capabilities() -> None:
    text = """
    # comment
    path "secret/*" {
      capabilities = ["read", "list"]
    }
    path "/sys/mounts" { capabilities = ["sudo", "read"] }
    """
    policy = parse_policy("app", text)
    assert policy.name == "app" and policy.raw == text
    assert caps(text) == {"secret/*": ["list", "read"], "sys/mounts": ["read", "sudo"]}


def test_json_policy_parses_like_hcl() -> None:
    text = '{"path": {"secret/*": {"capabilities": ["read"]}, "a/+": {"policy": "write"}}}'
    assert caps(text) == {
        "secret/*": ["read"],
        "a/+": ["create", "delete", "list", "read", "update"],
    }


@pytest.mark.parametrize(
    ("legacy", "expected"),
    [
        ("read", ["list", "read"]),
        ("write", ["create", "delete", "list", "read", "update"]),
        ("sudo", ["create", "delete", "list", "read", "sudo", "update"]),
        ("deny", ["deny"]),
    ],
)
def test_legacy_policy_shorthand_maps_like_vault(legacy: str, expected: list[str]) -> None:
    assert caps(f'path "x" {{ policy = "{legacy}" }}') == {"x": expected}


def test_legacy_shorthand_adds_to_capabilities() -> None:
    assert caps('path "x" { policy = "read"\n capabilities = ["patch"] }') == {
        "x": ["list", "patch", "read"]
    }


def test_deny_drops_every_other_capability_and_constraint() -> None:
    rule = parse_policy(
        "p", 'path "x" {\n capabilities = ["read", "deny"]\n required_parameters = ["a"] }'
    ).rules[0]
    assert rule.capabilities == {"deny"} and rule.required_parameters == ()


def test_duplicate_patterns_in_one_policy_merge() -> None:
    text = 'path "a/*" { capabilities = ["read"] }\npath "a/*" { capabilities = ["list"] }'
    assert caps(text) == {"a/*": ["list", "read"]}


def test_parameters_are_parsed_with_lowercased_names() -> None:
    rule = parse_policy(
        "p",
        """path "x" {
          capabilities = ["update"]
          allowed_parameters = { "Foo" = ["a", 1, true] "*" = [] }
          denied_parameters = { "bar" = [] }
          required_parameters = ["Foo"]
          min_wrapping_ttl = "1m"
          max_wrapping_ttl = 3600
        }""",
    ).rules[0]
    assert dict(rule.allowed_parameters) == {"foo": ("a", 1, True), "*": ()}
    assert dict(rule.denied_parameters) == {"bar": ()}
    assert rule.required_parameters == ("Foo",)
    assert (rule.min_wrapping_ttl, rule.max_wrapping_ttl) == (60, 3600)


def test_hcl_syntax_error_names_line_and_column() -> None:
    with pytest.raises(PolicyError) as info:
        parse_policy("p", 'path "a/*" {\n  capabilities = ["read"\n  policy = "read"\n}')
    assert info.value.status == 400
    assert info.value.message.startswith("failed to parse policy: line 3, column 3: ")
    assert 'unexpected token "policy"' in info.value.message


def test_hcl_unterminated_block_is_a_syntax_error_with_position() -> None:
    with pytest.raises(PolicyError, match=r"line 3, column \d+: unexpected end of policy"):
        parse_policy("p", 'path "a/*" {\n  capabilities = ["read"]\n')


def test_json_syntax_error_names_line_and_column() -> None:
    with pytest.raises(PolicyError, match="line 2, column 32: Expecting property name"):
        parse_policy("p", '{"path": {\n"a": {"capabilities": ["read"],}}}')


def test_unknown_capability_suggests_the_closest() -> None:
    with pytest.raises(PolicyError) as info:
        parse_policy("p", 'path "secret/*" { capabilities = ["raed"] }')
    assert 'path "secret/*": unknown capability "raed" (did you mean "read"?)' in str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('path "a" { capabilites = ["read"] }', 'unknown key "capabilites" (did you mean'),
        ('paths "a" { capabilities = ["read"] }', 'unknown key "paths"'),
        ('path "a" { capabilities = "read" }', '"capabilities" must be a list of strings'),
        ('path "a" { capabilities = [1] }', '"capabilities" must be a list of strings'),
        ('path "a" { capabilities = [read] }', "is not a literal"),
        ('path "a" { policy = "wirte" }', 'invalid policy "wirte"'),
        ('path "a" { min_wrapping_ttl = "1x" }', 'invalid "min_wrapping_ttl": time: unknown'),
        ('path "a" { max_wrapping_ttl = true }', '"max_wrapping_ttl" must be a duration'),
        ('path "a" { min_wrapping_ttl = "1h"\n max_wrapping_ttl = "1m" }', "cannot be less"),
        ('path "a/+*" { capabilities = ["read"] }', "invalid use of wildcards"),
        ('path "a" { mfa_methods = ["m"] }', '"mfa_methods" is not supported'),
        ('path "a" { allowed_parameters = { "x" = "y" } }', "must be a list of values"),
        ('path "a" "b" { capabilities = ["read"] }', "exactly one label"),
        ("path = { a = 1 }", '"path" must be a block'),
        ('{"path": {"a": {"capabilities": ["raed"]}}}', 'unknown capability "raed"'),
        ('{"paths": {}}', 'unknown key "paths"'),
        ("", "'policy' parameter not supplied or empty"),
        ("  \n", "'policy' parameter not supplied or empty"),
    ],
)
def test_bad_policies_are_rejected_with_a_useful_message(text: str, message: str) -> None:
    with pytest.raises(PolicyError) as info:
        parse_policy("p", text)
    assert message in str(info.value)


def test_default_policy_text_parses() -> None:
    policy = parse_policy("default", DEFAULT_POLICY_TEXT)
    patterns = {rule.pattern for rule in policy.rules}
    assert {"auth/token/lookup-self", "cubbyhole/*", "sys/capabilities-self"} <= patterns
    assert ACL([policy]).check("cubbyhole/x", CREATE).allowed
    assert not ACL([policy]).check("secret/x", READ).allowed


# --- names -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["root", "Root", " root", "root ", "ROOT\n", "\uff52\uff4f\uff4f\uff54", "\u00a0root"]
)
def test_every_spelling_of_root_is_root(name: str) -> None:
    assert canonical_policy_name(name) == "root"


@pytest.mark.parametrize(
    "name", ["", "   ", "/", "//", "ro\x00ot", "root\x1f", "r\u043eot", "ro\u200bot", "a" * 257]
)
def test_bad_policy_names_are_rejected(name: str) -> None:
    with pytest.raises(InvalidRequest):
        canonical_policy_name(name)


def test_names_are_lowercased_and_may_contain_slashes() -> None:
    assert canonical_policy_name(" Team/App ") == "team/app"


def test_sanitize_policies_like_vault() -> None:
    assert sanitize_policies(["b", " A", "", "b"], add_default=True) == ["a", "b", "default"]
    assert sanitize_policies(["x", "ROOT"], add_default=True) == ["root"]
    assert sanitize_policies([], add_default=False) == []


# --- matching --------------------------------------------------------------------------------


def test_exact_glob_and_segment_wildcards_match() -> None:
    a = acl(
        'path "exact" { capabilities = ["read"] }\n'
        'path "glob/*" { capabilities = ["read"] }\n'
        'path "seg/+/x" { capabilities = ["read"] }\n'
        'path "mix/+/y*" { capabilities = ["read"] }'
    )
    allowed = ["exact", "glob/", "glob/a/b", "seg/a/x", "mix/a/y", "mix/a/yz/deeper"]
    refused = ["exact/", "exac", "glob", "seg/a/b/x", "seg/a", "seg/a/x/", "mix/a/z"]
    assert all(a.check(p, READ).allowed for p in allowed)
    assert not any(a.check(p, READ).allowed for p in refused)


def test_exact_rule_beats_every_wildcard() -> None:
    a = acl('path "a/*" { capabilities = ["read"] }\npath "a/b" { capabilities = ["deny"] }')
    assert not a.check("a/b", READ).allowed
    assert a.check("a/bc", READ).allowed


def test_list_falls_back_to_the_exact_rule_without_the_slash() -> None:
    a = acl('path "a/b" { capabilities = ["list"] }\npath "a/b/*" { capabilities = ["deny"] }')
    assert a.check("a/b/", LIST).allowed
    assert not a.check("a/b/", READ).allowed


@pytest.mark.parametrize(
    ("winner", "loser", "path"),
    [
        # (1) the first wildcard or glob comes later
        ("foo/a*", "foo/+", "foo/ab"),
        ("foo/bar/+/baz", "foo/+/bar/baz", "foo/bar/bar/baz"),
        ("secret/+/foo", "secret/*", "secret/x/foo"),
        # (2) not ending in *
        ("foo/+", "foo/*", "foo/x"),
        ("foo/+/bar", "foo/+/ba*", "foo/x/bar"),
        # (3) fewer + segments
        ("foo/+/bar/baz", "foo/+/+/baz", "foo/x/bar/baz"),
        # (4) longer
        ("foo/+/bar/ba*", "foo/+/bar/b*", "foo/x/bar/bam"),
        ("secret/app/*", "secret/*", "secret/app/x"),
    ],
)
def test_priority_rules_from_vault_docs(winner: str, loser: str, path: str) -> None:
    a = acl(f'path "{winner}" {{ capabilities = ["read"] }}')
    b = acl(f'path "{loser}" {{ capabilities = ["read"] }}')
    assert a.check(path, READ).allowed and b.check(path, READ).allowed  # both match
    both = acl(
        f'path "{winner}" {{ capabilities = ["update"] }}\n'
        f'path "{loser}" {{ capabilities = ["read"] }}'
    )
    assert both.capabilities(path) == ["update"]


def test_deny_on_a_pattern_in_any_policy_wins() -> None:
    a = acl(
        'path "s/*" { capabilities = ["read", "sudo"] }', 'path "s/*" { capabilities = ["deny"] }'
    )
    result = a.check("s/x", READ)
    assert not result.allowed and not result.sudo and a.capabilities("s/x") == ["deny"]


def test_capabilities_merge_across_policies() -> None:
    a = acl('path "s/*" { capabilities = ["read"] }', 'path "s/*" { capabilities = ["list"] }')
    assert a.capabilities("s/x") == ["list", "read"]
    assert a.policy_names == ("p0", "p1")


def test_allowed_parameters_merge_and_empty_list_absorbs() -> None:
    a = acl(
        'path "x" { capabilities = ["update"]\n allowed_parameters = { "k" = ["a"] "j" = ["1"] } }',
        'path "x" { capabilities = ["update"]\n allowed_parameters = { "k" = ["b"] "j" = [] } }',
    )
    assert a.check("x", UPDATE, {"k": "a"}).allowed and a.check("x", UPDATE, {"k": "b"}).allowed
    assert not a.check("x", UPDATE, {"k": "c"}).allowed
    assert a.check("x", UPDATE, {"j": "anything"}).allowed


def test_root_policy_allows_everything_with_sudo() -> None:
    a = ACL([Policy("root", (), "")])
    result = a.check("sys/seal", UPDATE, {"anything": 1})
    assert result.allowed and result.root and result.sudo and a.capabilities("x") == ["root"]


def test_nothing_matching_is_denied() -> None:
    a = acl('path "a" { capabilities = ["read"] }')
    assert not a.check("b", READ).allowed and a.capabilities("b") == ["deny"]
    assert not ACL([]).check("a", READ).allowed


def test_help_needs_some_capability_on_the_path() -> None:
    a = acl('path "a" { capabilities = ["list"] }\npath "b" { capabilities = [] }')
    assert a.check("a", Operation.HELP).allowed
    assert not a.check("b", Operation.HELP).allowed and not a.check("c", Operation.HELP).allowed
    assert a.capabilities("b") == ["deny"]


def test_patch_needs_the_patch_capability() -> None:
    a = acl('path "a" { capabilities = ["update"] }')
    assert not a.check("a", Operation.PATCH).allowed
    assert acl('path "a" { capabilities = ["patch"] }').check("a", Operation.PATCH).allowed


def test_sudo_is_reported_for_the_governing_rule() -> None:
    a = acl('path "sys/*" { capabilities = ["update", "sudo"] }')
    assert a.check("sys/seal", UPDATE).sudo
    assert a.check("sys/seal", READ).sudo and not a.check("sys/seal", READ).allowed


def test_wrapping_ttl_bounds_require_wrapping() -> None:
    a = acl('path "a" { capabilities = ["read"]\n min_wrapping_ttl = 60\n max_wrapping_ttl = 600 }')
    assert not a.check("a", READ).allowed
    assert a.check("a", READ, wrap_ttl=300).allowed
    assert not a.check("a", READ, wrap_ttl=30).allowed
    assert not a.check("a", READ, wrap_ttl=601).allowed


# --- parameter constraints -------------------------------------------------------------------


def rule_acl(body: str) -> ACL:
    return acl(f'path "x" {{\n capabilities = ["create", "read", "update", "list"]\n {body}\n}}')


def test_denied_parameter_present_is_refused() -> None:
    a = rule_acl('denied_parameters = { "admin" = [] "mode" = ["root*"] }')
    assert not a.check("x", UPDATE, {"ADMIN": False}).allowed
    assert not a.check("x", CREATE, {"mode": "rooted"}).allowed
    assert a.check("x", UPDATE, {"mode": "user"}).allowed
    assert a.check("x", LIST, {"admin": True}).allowed  # list carries no parameter checks


def test_denied_star_refuses_any_data() -> None:
    a = rule_acl('denied_parameters = { "*" = [] }')
    assert a.check("x", UPDATE, {}).allowed and not a.check("x", UPDATE, {"a": 1}).allowed


def test_allowed_parameters_restrict_keys_and_values() -> None:
    a = rule_acl('allowed_parameters = { "name" = [] "env" = ["dev", "*-test", "stag*", 5] }')
    assert a.check("x", UPDATE, {"name": "anything", "env": "dev"}).allowed
    assert a.check("x", UPDATE, {"env": "unit-test"}).allowed
    assert a.check("x", UPDATE, {"env": "staging"}).allowed
    assert a.check("x", UPDATE, {"env": 5}).allowed
    assert not a.check("x", UPDATE, {"env": "prod"}).allowed
    assert not a.check("x", UPDATE, {"env": True}).allowed
    assert not a.check("x", UPDATE, {"other": "x"}).allowed


def test_allowed_star_key_admits_unlisted_keys_but_listed_keys_keep_their_values() -> None:
    a = rule_acl('allowed_parameters = { "*" = [] "env" = ["dev"] }')
    assert a.check("x", UPDATE, {"other": 1}).allowed
    assert not a.check("x", UPDATE, {"env": "prod"}).allowed
    assert rule_acl('allowed_parameters = { "*" = ["z"] }').check("x", UPDATE, {"a": 1}).allowed


def test_required_parameters_must_be_present() -> None:
    a = rule_acl('required_parameters = ["owner"]')
    assert not a.check("x", UPDATE, {}).allowed
    assert not a.check("x", READ, {"x": 1}).allowed
    assert a.check("x", UPDATE, {"owner": "me"}).allowed


def test_reason_never_contains_parameter_values() -> None:
    result = rule_acl('denied_parameters = { "password" = [] }').check(
        "x", UPDATE, {"password": "hunter2"}
    )
    assert not result.allowed and "hunter2" not in result.reason


# --- property: ACL.check against a brute-force reference model ----------------------------


CAPS = ["create", "read", "update", "patch", "delete", "list", "sudo", "subscribe"]
# Every pattern over segments "a" and "+" up to three deep, exact or with a glob: small enough
# that random picks overlap (the interesting case), varied enough to reach all five rules.
STEMS = ["/".join(parts) for n in (1, 2, 3) for parts in itertools.product("a+", repeat=n)]
PATTERNS = [
    stem + ending
    for stem in STEMS
    for ending in ("", "*", "/*", "/b*")
    if not (stem.endswith("+") and ending == "*")  # "+*" is not a valid pattern
]
Case = tuple[list[list[tuple[str, set[str]]]], str]

rules = st.tuples(
    st.sampled_from(PATTERNS),
    # Mostly distinct capability sets, so capabilities() shows which rule won.
    st.one_of(
        st.sets(st.sampled_from(CAPS), min_size=1, max_size=5), st.just({"deny"}), st.just(set())
    ),
)
cases = st.tuples(
    st.lists(st.lists(rules, min_size=2, max_size=10), min_size=1, max_size=3),
    st.builds(
        "".join,
        st.tuples(
            st.sampled_from(["", "", "", "/"]),
            st.lists(st.sampled_from(["a", "a", "a", "b", "ab", ""]), min_size=1, max_size=4).map(
                "/".join
            ),
        ),
    ),
)


def reference_capabilities(
    rules: list[tuple[str, set[str]]], path: str, listing: bool
) -> tuple[set[str] | None, int]:
    """(capabilities of the governing rule or None, number of wildcard patterns that matched)."""
    path = path.lstrip("/")  # Vault ignores leading slashes
    merged: dict[str, set[str]] = {}
    for pattern, granted in rules:
        current = merged.setdefault(pattern, set())
        current |= granted
        if "deny" in current:
            merged[pattern] = {"deny"}

    def is_wildcard(p: str) -> bool:
        return p.endswith("*") or "+" in p.split("/")

    def matches(p: str) -> bool:
        body = p[:-1] if p.endswith("*") else p
        regex = "/".join("[^/]*" if s == "+" else re.escape(s) for s in body.split("/"))
        return re.fullmatch(regex + (".*" if p.endswith("*") else ""), path) is not None

    def priority(p: str) -> tuple[int, bool, int, int, str]:
        stem = p[:-1] if p.endswith("*") else p
        first = min(i for i, ch in enumerate(p) if ch in "+*")
        plus = stem.split("/").count("+")
        return (first, not p.endswith("*"), -plus, len(stem), stem)

    candidates = [p for p in merged if is_wildcard(p) and matches(p)]
    exact = [p for p in merged if not is_wildcard(p)]
    if path in exact:
        return merged[path], len(candidates)
    if listing and path.endswith("/") and path[:-1] in exact:
        return merged[path[:-1]], len(candidates)
    return (merged[max(candidates, key=priority)] if candidates else None), len(candidates)


@settings(max_examples=300, deadline=None)
@given(cases, st.sampled_from([READ, LIST, UPDATE]))
def test_check_agrees_with_a_brute_force_reference(case: Case, operation: Operation) -> None:
    rule_sets, path = case
    texts = [
        "\n".join(f'path "{p}" {{ capabilities = {json.dumps(sorted(g))} }}' for p, g in rules)
        for rules in rule_sets
    ]
    compiled = acl(*texts)
    flat = [rule for rules in rule_sets for rule in rules]
    expected, candidates = reference_capabilities(flat, path, operation is LIST)
    target(float(candidates), label="wildcard patterns matching the path")
    allowed = expected is not None and "deny" not in expected and operation.value in expected
    assert compiled.check(path, operation).allowed == allowed
    listed, _ = reference_capabilities(flat, path, True)
    want = sorted(listed) if listed and "deny" not in listed else ["deny"]
    assert compiled.capabilities(path) == want


def test_has_any_under_finds_grants_below_a_mount() -> None:
    a = acl(
        'path "kv/app/*" { capabilities = ["read"] }\n'
        'path "other/x" { capabilities = ["deny"] }\n'
        'path "+/team/+" { capabilities = ["list"] }\n'
        'path "events/*" { capabilities = ["subscribe"] }'
    )
    assert a.has_any_under("kv/") and a.has_any_under("anything/")  # via +/team/+
    assert acl('path "kv/app/*" { capabilities = ["read"] }').has_any_under("kv/")
    only_deny = acl(
        'path "other/x" { capabilities = ["deny"] }', 'path "events/*" { policy = "deny" }'
    )
    assert not only_deny.has_any_under("other/") and not only_deny.has_any_under("events/")
    assert not acl('path "events/*" { capabilities = ["subscribe"] }').has_any_under("events/")
    nested = acl('path "+/b*" { capabilities = ["read"] }')
    assert nested.has_any_under("a/bc/") and not nested.has_any_under("a/c/")
    assert ACL([Policy("root", (), "")]).has_any_under("x/")
