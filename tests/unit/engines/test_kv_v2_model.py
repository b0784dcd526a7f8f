"""KV v2 bookkeeping rules: pruning, timestamps, durations, merge patch, subkeys, input parsing."""

from __future__ import annotations

from typing import Any

import pytest

from hush.core.errors import InvalidRequest
from hush.engines.kv.v2_model import (
    KeyMetadata,
    MountConfig,
    check_custom_metadata,
    go_duration,
    merge_patch,
    parse_cas,
    parse_versions,
    rfc3339_nano,
    subkeys,
)

NS = 1_000_000_000


def test_pruning_keeps_max_versions_like_vaults_add_version() -> None:
    meta = KeyMetadata(max_versions=2)
    pruned = [meta.add_version(n * NS, MountConfig())[1] for n in range(1, 5)]
    assert pruned == [[], [], [1], [2]]
    assert sorted(meta.versions) == [3, 4] and meta.oldest_version == 3
    meta.max_versions = 0  # falls back to the mount's setting, then to 10
    assert meta.add_version(5 * NS, MountConfig(max_versions=1))[1] == [3, 4]


def test_delete_version_after_uses_the_shorter_of_mount_and_key() -> None:
    meta = KeyMetadata(delete_version_after=60)
    version, _ = meta.add_version(NS, MountConfig(delete_version_after=30))
    assert version.deletion == 31 * NS
    assert not version.is_deleted(30 * NS) and version.is_deleted(31 * NS)
    assert KeyMetadata().add_version(NS, MountConfig())[0].deletion == 0


def test_metadata_round_trips_through_json() -> None:
    meta = KeyMetadata(custom_metadata={"o": "p"}, cas_required=True)
    meta.add_version(NS, MountConfig())
    assert KeyMetadata.from_json(meta.to_json()) == meta


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (0, ""),
        (1521685446 * NS + 945319214, "2018-03-22T02:24:06.945319214Z"),
        (1521685446 * NS + 900000000, "2018-03-22T02:24:06.9Z"),
        (1521685446 * NS, "2018-03-22T02:24:06Z"),
    ],
)
def test_timestamps_are_gos_rfc3339_nano(ns: int, text: str) -> None:
    assert rfc3339_nano(ns) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (45, "45s"), (90, "1m30s"), (3600, "1h0m0s"), (90061, "25h1m1s")],
)
def test_durations_are_gos_duration_string(seconds: int, text: str) -> None:
    assert go_duration(seconds) == text


@pytest.mark.parametrize(
    ("target", "patch", "result"),
    [  # RFC 7386 appendix A
        ({"a": "b"}, {"a": "c"}, {"a": "c"}),
        ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
        ({"a": "b"}, {"a": None}, {}),
        ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
        ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
        ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
        ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
        ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
        ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    ],
)
def test_merge_patch_follows_rfc_7386(target: Any, patch: Any, result: Any) -> None:
    assert merge_patch(target, patch) == result


def test_subkeys_replace_values_with_null_up_to_depth() -> None:
    data = {"foo": "abc", "bar": {"baz": "def", "x": {"y": 1}}, "quux": {}}
    assert subkeys(data, 0) == {"foo": None, "bar": {"baz": None, "x": {"y": None}}, "quux": None}
    assert subkeys(data, 1) == {"foo": None, "bar": None, "quux": None}
    assert subkeys(data, 2) == {"foo": None, "bar": {"baz": None, "x": None}, "quux": None}


def test_versions_and_cas_parsing() -> None:
    assert parse_versions([1, "2"]) == [1, 2] and parse_versions("3, 4") == [3, 4]
    assert parse_cas({}) is None and parse_cas({"cas": "2"}) == 2 and parse_cas({"cas": 0}) == 0
    for bad in ([0], [True], [1.5], {"1": 1}, "a,b", None, []):
        with pytest.raises(InvalidRequest):
            parse_versions(bad)
    for cas in (-1, "x", True, [1]):
        with pytest.raises(InvalidRequest):
            parse_cas({"cas": cas})


def test_custom_metadata_limits_match_vault() -> None:
    check_custom_metadata({f"k{i}": "v" * 512 for i in range(64)})
    check_custom_metadata({"k" * 128: ""})
    for bad in (
        {f"k{i}": "v" for i in range(65)},
        {"k" * 129: "v"},
        {"": "v"},
        {"k": "v" * 513},
        {"k\x00": "v"},
        {"k": "\x07"},
    ):
        with pytest.raises(InvalidRequest, match="custom_metadata validation failed"):
            check_custom_metadata(bad)
