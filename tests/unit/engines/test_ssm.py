"""The ssm engine in-process: names, selectors, tiers, policies, labels, paging and the expiry
of parameters by their Expiration policy through ``periodic``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hush.barrier.view import StorageView
from hush.core.request import Operation, Request
from hush.engines.ssm import SsmBackend
from hush.engines.ssm.errors import (
    HierarchyLevelLimitExceeded,
    InvalidPolicyAttribute,
    InvalidPolicyType,
    ParameterMaxVersionLimitExceeded,
    ParameterVersionLabelLimitExceeded,
    SsmValidation,
)
from hush.engines.ssm.names import check_name, logical_name, parse_selector, strip_arn
from hush.engines.ssm.values import parse_policies, resolve_tier
from hush.framework.backend import BackendContext
from hush.storage.memory import MemoryStorage


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coro)


class YieldingView(StorageView):
    """A storage view that lets other tasks run at every read and write, as SQLite does."""

    async def get(self, path: str) -> bytes | None:
        await asyncio.sleep(0)
        return await super().get(path)

    async def put(self, path: str, value: bytes) -> None:
        await asyncio.sleep(0)
        await super().put(path, value)


class Ssm:
    def __init__(self) -> None:
        storage = YieldingView(MemoryStorage(), "logical/ssm/")
        self.backend = SsmBackend(BackendContext(storage, "ssm/", "ssm"))

    def call(self, op: Operation, path: str, **data: Any) -> dict[str, Any]:
        async def go() -> dict[str, Any]:
            request = Request("r", op, "ssm/" + path, data=dict(data)).with_route("ssm/", path)
            response = await (await self.backend.prepare(request)).run()
            return dict(response.data or {}) if response is not None else {}

        result: dict[str, Any] = run(go())
        return result

    def put(self, name: str, value: str = "v", **data: Any) -> dict[str, Any]:
        data.setdefault("Type", "String")
        return self.call(
            Operation.UPDATE, "parameter/" + logical_name(name), Name=name, Value=value, **data
        )

    def get(self, name: str) -> dict[str, Any]:
        base = parse_selector(name).name
        found: dict[str, Any] = self.call(
            Operation.READ, "parameter/" + logical_name(base), Name=name
        )["Parameter"]
        return found


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("/a/b/c", True),
        ("plain.name-1_x", True),
        ("/" + "/".join("x" * 15), True),
        ("a/b", False),
        ("/a//b", False),
        ("/a/b/", False),
        ("/a b", False),
        ("AWS-thing", False),
        ("/SSM/thing", False),
        ("/a/$b", False),
        ("x" * 1012, False),
    ],
)
def test_names(name: str, ok: bool) -> None:
    if ok:
        assert check_name(name) == name
    else:
        with pytest.raises(SsmValidation):
            check_name(name)


def test_sixteen_levels_is_hierarchy_limit() -> None:
    with pytest.raises(HierarchyLevelLimitExceeded):
        check_name("/" + "/".join("x" * 16))


def test_arns_reduce_to_names_and_selectors_parse() -> None:
    assert strip_arn("arn:aws:ssm:us-east-1:123456789012:parameter/app/db") == "/app/db"
    assert strip_arn("arn:aws:ssm:us-east-1:123456789012:parameter/flat") == "flat"
    assert parse_selector("/a/b:3").version == 3
    assert parse_selector("/a/b:prod").label == "prod"
    assert parse_selector("arn:aws:ssm:us-east-1:1:parameter/a/b:7").version == 7
    for bad in ("/a/b:", "/a/b:1:2", "/a/b:aws-x", "/a/b:bad label"):
        with pytest.raises(SsmValidation):
            parse_selector(bad)


@given(st.text(max_size=40))
def test_check_name_never_raises_anything_but_validation(text: str) -> None:
    with contextlib.suppress(SsmValidation, HierarchyLevelLimitExceeded):
        assert check_name(text) == text


def test_tier_rules() -> None:
    assert resolve_tier("", None, 10, False) == "Standard"
    assert resolve_tier("", "Advanced", 10, False) == "Advanced"
    assert resolve_tier("Intelligent-Tiering", None, 5000, False) == "Advanced"
    assert resolve_tier("Intelligent-Tiering", None, 10, True) == "Advanced"
    assert resolve_tier("Intelligent-Tiering", None, 10, False) == "Standard"
    for args in (
        ("Standard", "Advanced", 1, False),
        ("Standard", None, 1, True),
        ("X", None, 1, False),
    ):
        with pytest.raises(SsmValidation):
            resolve_tier(*args)


def _iso(seconds_from_now: float) -> str:
    return datetime.fromtimestamp(time.time() + seconds_from_now, UTC).isoformat()


def test_policy_validation() -> None:
    now = time.time()
    good = json.dumps(
        [
            {"Type": "Expiration", "Version": "1.0", "Attributes": {"Timestamp": _iso(3600)}},
            {
                "Type": "NoChangeNotification",
                "Version": "1.0",
                "Attributes": {"After": "2", "Unit": "Hours"},
            },
        ]
    )
    parsed = parse_policies(good, now)
    assert [p.type for p in parsed] == ["Expiration", "NoChangeNotification"]
    assert parsed[1].offset == 7200
    bad_type = '[{"Type": "Rotate", "Version": "1.0", "Attributes": {}}]'
    bad_unit = '[{"Type": "NoChangeNotification", "Attributes": {"After": "1", "Unit": "Weeks"}}]'
    notice_alone = (
        '[{"Type": "ExpirationNotification", "Attributes": {"Before": "1", "Unit": "Days"}}]'
    )
    with pytest.raises(InvalidPolicyType):
        parse_policies(bad_type, now)
    with pytest.raises(InvalidPolicyType):
        parse_policies("not json", now)
    with pytest.raises(InvalidPolicyAttribute):
        parse_policies(bad_unit, now)
    with pytest.raises(InvalidPolicyAttribute):
        parse_policies(notice_alone, now)


def test_expiration_policy_deletes_the_parameter_when_due() -> None:
    ssm = Ssm()
    policy = json.dumps(
        [{"Type": "Expiration", "Version": "1.0", "Attributes": {"Timestamp": _iso(60)}}]
    )
    ssm.put("/exp/a", Tier="Advanced", Policies=policy)
    ssm.put("/exp/b")
    run(ssm.backend.periodic(time.time()))
    assert ssm.get("/exp/a")["Value"] == "v"
    run(ssm.backend.periodic(time.time() + 120))
    assert run(ssm.backend.settings.store.get("/exp/a")) is None
    assert ssm.get("/exp/b")["Value"] == "v"
    assert run(ssm.backend.settings.due.due(time.time() + 10_000)) == []


def test_overwrite_without_the_policy_cancels_expiry() -> None:
    ssm = Ssm()
    policy = json.dumps(
        [{"Type": "Expiration", "Version": "1.0", "Attributes": {"Timestamp": _iso(60)}}]
    )
    ssm.put("/keep/a", Tier="Advanced", Policies=policy)
    ssm.put("/keep/a", "v2", Overwrite=True)
    run(ssm.backend.periodic(time.time() + 120))
    assert ssm.get("/keep/a")["Value"] == "v2"


def test_secure_string_is_never_stored_from_the_vault_api() -> None:
    ssm = Ssm()
    assert ssm.put("/s/x", "clear", Type="SecureString", DryRun=True)["Type"] == "SecureString"
    with pytest.raises(SsmValidation):
        ssm.put("/s/x", "clear", Type="SecureString")
    with pytest.raises(SsmValidation):
        ssm.put("/s/y", "clear", Type="String", Encrypted=True, KmsKeyId="k")


def test_path_must_match_the_name() -> None:
    ssm = Ssm()
    with pytest.raises(SsmValidation):
        ssm.call(Operation.UPDATE, "parameter/a/b", Name="/other", Value="v", Type="String")


def test_hundred_versions_drop_the_oldest_unless_labelled() -> None:
    ssm = Ssm()
    ssm.put("/v/a")
    for _ in range(99):
        ssm.put("/v/a", Overwrite=True)
    ssm.call(Operation.UPDATE, "labels/v/a", Name="/v/a", Labels=["pin"], ParameterVersion=1)
    with pytest.raises(ParameterMaxVersionLimitExceeded):
        ssm.put("/v/a", Overwrite=True)
    ssm.call(
        Operation.UPDATE, "labels/v/a", Name="/v/a", Labels=["pin"], ParameterVersion=1, Remove=True
    )
    assert ssm.put("/v/a", Overwrite=True)["Version"] == 101
    history = ssm.call(Operation.READ, "history/v/a", Name="/v/a")
    assert history["Parameters"][0]["Version"] == 2 and "NextToken" in history


def test_ten_labels_per_version() -> None:
    ssm = Ssm()
    ssm.put("/l/a")
    labels = [f"l{i}" for i in range(10)]
    ssm.call(Operation.UPDATE, "labels/l/a", Name="/l/a", Labels=labels)
    with pytest.raises(ParameterVersionLabelLimitExceeded):
        ssm.call(Operation.UPDATE, "labels/l/a", Name="/l/a", Labels=["one-more"])


def test_by_path_pages_are_complete_and_disjoint() -> None:
    ssm = Ssm()
    names = sorted(f"/p/{i:02d}/x" for i in range(23))
    for name in names:
        ssm.put(name)
    seen: list[str] = []
    token = ""
    while True:
        extra = {"NextToken": token} if token else {}
        page = ssm.call(Operation.LIST, "by-path/p/", Recursive=True, MaxResults=10, **extra)
        assert len(page["Names"]) <= 10
        seen += page["Names"]
        token = page.get("NextToken", "")
        if not token:
            break
    assert seen == names
    assert ssm.call(Operation.LIST, "by-path/p/")["Names"] == []  # one level: only folders


def test_concurrent_overwrites_get_distinct_versions() -> None:
    ssm = Ssm()
    ssm.put("/c/a")

    async def many() -> list[int]:
        async def one(i: int) -> int:
            request = Request(
                "r",
                Operation.UPDATE,
                "ssm/parameter/c/a",
                data={"Name": "/c/a", "Value": f"v{i}", "Overwrite": True},
            ).with_route("ssm/", "parameter/c/a")
            response = await (await ssm.backend.prepare(request)).run()
            assert response is not None and response.data is not None
            return int(response.data["Version"])

        return await asyncio.gather(*(one(i) for i in range(20)))

    versions = run(many())
    assert sorted(versions) == list(range(2, 22))


def test_every_ssm_path_matches_exactly_one_declared_route() -> None:
    backend = Ssm().backend
    samples = [
        "parameter/app/db",
        "parameter/flat",
        "history/app/db",
        "labels/app/db",
        "tags/app/db",
        "parameters",
        "by-path/",
        "by-path/app/db/",
    ]
    for sample in samples:
        matches = [p.pattern for p in backend.declared_paths if p.match(sample) is not None]
        assert len(matches) == 1, (sample, matches)
    for path in backend.declared_paths:
        assert path.synopsis and all(f.description for f in path.fields.values()), path.pattern
