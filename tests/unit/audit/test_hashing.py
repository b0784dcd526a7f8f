"""Per-device HMAC of audit entries: what is hashed, what is kept, and that devices stay apart."""

from __future__ import annotations

import hashlib
import hmac
import re

import pytest

from hush.core.audit.entry import (
    build_request_entry,
    build_response_entry,
    format_time,
    from_jsonx,
    to_jsonx,
)
from hush.core.audit.hashing import Hasher, shape_entry
from hush.core.request import Operation, Response
from hush.crypto import SecretBytes
from tests.unit.audit.helpers import (
    ACCESSOR,
    CANARY,
    RESPONSE_CANARY,
    TOKEN,
    make_request,
    make_response,
)

SALT = SecretBytes(bytes(range(32)))


def expected_hmac(value: str, salt: bytes = bytes(range(32))) -> str:
    return "hmac-sha256:" + hmac.new(salt, value.encode(), hashlib.sha256).hexdigest()


def test_hash_is_vault_shaped_hmac_sha256_under_the_salt() -> None:
    assert Hasher(SALT).hash("hello") == expected_hmac("hello")
    assert Hasher(SecretBytes(b"\x01" * 32)).hash("hello") != expected_hmac("hello")


def test_strings_are_hashed_recursively_keys_and_non_strings_are_kept() -> None:
    data = {"a": "x", "n": 3, "f": 1.5, "b": True, "z": None, "l": ["y", 2, {"k": "v"}]}
    hashed = Hasher(SALT).hash_structure(data, frozenset())
    assert hashed == {
        "a": expected_hmac("x"),
        "n": 3,
        "f": 1.5,
        "b": True,
        "z": None,
        "l": [expected_hmac("y"), 2, {"k": expected_hmac("v")}],
    }
    assert data["a"] == "x"  # the input is not modified


def test_non_hmac_keys_stay_clear_at_any_depth_and_in_lists() -> None:
    data = {"user": "alice", "password": "pw", "nested": {"user": "bob"}, "user_list": ["c"]}
    hashed = Hasher(SALT).hash_structure(data, frozenset({"user", "user_list"}))
    assert hashed["user"] == "alice"
    assert hashed["nested"]["user"] == "bob"
    assert hashed["user_list"] == ["c"]
    assert hashed["password"] == expected_hmac("pw")


def test_request_entry_hashes_token_accessor_and_data() -> None:
    entry = build_request_entry(make_request())
    shaped = shape_entry(entry, Hasher(SALT))
    assert shaped["auth"]["client_token"] == expected_hmac(TOKEN)
    assert shaped["auth"]["accessor"] == expected_hmac(ACCESSOR)
    assert shaped["request"]["client_token"] == expected_hmac(TOKEN)
    assert shaped["request"]["client_token_accessor"] == expected_hmac(ACCESSOR)
    assert shaped["request"]["data"]["password"] == expected_hmac(CANARY)
    assert shaped["request"]["data"]["ttl"] == 3600
    assert shaped["request"]["data"]["enabled"] is True
    # Vault keeps the descriptive parts of the auth block readable.
    assert shaped["auth"]["policies"] == ["default", "dev"]
    assert shaped["auth"]["display_name"] == "token"
    assert shaped["request"]["path"] == "secret/app/db"
    assert shaped["request"]["namespace"] == {"id": "root"}
    assert entry["request"]["data"]["password"] == CANARY  # shaping works on a copy


def test_hmac_accessor_false_keeps_accessor_but_still_hashes_token() -> None:
    shaped = shape_entry(build_request_entry(make_request()), Hasher(SALT), hmac_accessor=False)
    assert shaped["auth"]["accessor"] == ACCESSOR
    assert shaped["request"]["client_token_accessor"] == ACCESSOR
    assert shaped["auth"]["client_token"] == expected_hmac(TOKEN)


def test_log_raw_leaves_values_clear() -> None:
    shaped = shape_entry(build_request_entry(make_request()), None)
    assert shaped["request"]["data"]["password"] == CANARY
    assert shaped["auth"]["client_token"] == TOKEN


def test_response_entry_hashes_response_data_and_auth() -> None:
    response = Response(
        data={"value": RESPONSE_CANARY, "version": 3},
        auth={"client_token": "hvs.new", "accessor": "acc2", "policies": ["p"]},
        warnings=["careful"],
        lease_id="secret/creds/abc",
    )
    entry = build_response_entry(make_request(), response, "boom")
    shaped = shape_entry(entry, Hasher(SALT), non_hmac_response_keys=frozenset({"version"}))
    block = shaped["response"]
    assert shaped["type"] == "response"
    assert shaped["error"] == "boom"
    assert block["data"] == {"value": expected_hmac(RESPONSE_CANARY), "version": 3}
    assert block["auth"]["client_token"] == expected_hmac("hvs.new")
    assert block["auth"]["accessor"] == expected_hmac("acc2")
    assert block["auth"]["policies"] == ["p"]
    assert block["warnings"] == ["careful"]
    assert block["secret"] == {"lease_id": "secret/creds/abc"}


def test_elide_list_responses_counts_keys_only_for_list_operations() -> None:
    response = Response(data={"keys": ["a", "b", "c"], "key_info": {"a": {}, "b": {}}})
    listing = build_response_entry(make_request(operation=Operation.LIST), response, None)
    shaped = shape_entry(listing, Hasher(SALT), elide_list_responses=True, is_list=True)
    assert shaped["response"]["data"] == {"keys": 3, "key_info": 2}
    read = build_response_entry(make_request(operation=Operation.READ), response, None)
    kept = shape_entry(read, Hasher(SALT), elide_list_responses=True, is_list=False)
    assert kept["response"]["data"]["keys"] == [expected_hmac(k) for k in "abc"]


def test_unauthenticated_request_has_no_auth_block_and_empty_token() -> None:
    entry = build_request_entry(make_request(auth=None, client_token=None, data={}))
    assert "auth" not in entry
    assert entry["request"]["client_token"] == ""
    assert "data" not in entry["request"]  # omitempty, as Vault
    assert shape_entry(entry, Hasher(SALT))["request"]["client_token"] == ""


def test_time_is_rfc3339_nano_utc() -> None:
    assert format_time(1_700_000_000_123_456_789) == "2023-11-14T22:13:20.123456789Z"
    assert format_time(1_700_000_000_100_000_000) == "2023-11-14T22:13:20.1Z"
    assert format_time(1_700_000_000_000_000_000) == "2023-11-14T22:13:20Z"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z", format_time())


def test_jsonx_renders_one_line_and_round_trips() -> None:
    entry = shape_entry(build_request_entry(make_request()), None)
    entry["request"]["data"]["multi"] = 'line one\nline <two> & "three"'
    rendered = to_jsonx(entry)
    assert b"\n" not in rendered
    assert rendered.startswith(b'<?xml version="1.0" encoding="UTF-8"?><json:object')
    assert from_jsonx(rendered) == entry


def test_jsonx_parser_refuses_dtds() -> None:
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><json:object/>'
    with pytest.raises(ValueError, match="DTD"):
        from_jsonx(bomb)


def test_make_response_helper_is_hashed_like_any_response() -> None:
    entry = build_response_entry(make_request(), make_response(), None)
    assert RESPONSE_CANARY not in str(shape_entry(entry, Hasher(SALT)))
    assert CANARY not in str(shape_entry(entry, Hasher(SALT)))
