"""AppRole in-process: roles, secret IDs (uses, CIDRs, expiry, accessors, tidy) and login."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from hush.auth.approle import AppRoleBackend
from hush.auth.approle.login import LOGIN_FAILED
from hush.barrier.barrier import Barrier
from hush.barrier.view import StorageView
from hush.core.errors import HushError, InvalidRequest, NotFound
from hush.core.request import LoginResult, Operation
from hush.framework.backend import BackendContext
from hush.storage.memory import MemoryStorage
from tests.unit.auth.helpers import FakeClock, call, data_of, mount, unsealed_storage

Scenario = Callable[[AppRoleBackend, Barrier, FakeClock], Awaitable[None]]

SAMPLE_PATHS = [
    "role",
    "role/",
    "role/web",
    "role/web/role-id",
    "role/web/secret-id",
    "role/web/secret-id/",
    "role/web/custom-secret-id",
    "role/web/secret-id/lookup",
    "role/web/secret-id/destroy",
    "role/web/secret-id-accessor/lookup",
    "role/web/secret-id-accessor/destroy",
    "role/web/policies",
    "role/web/secret-id-bound-cidrs",
    "role/web/token-bound-cidrs",
    "role/web/bind-secret-id",
    "role/web/local-secret-ids",
    "role/web/secret-id-num-uses",
    "role/web/secret-id-ttl",
    "role/web/period",
    "role/web/token-num-uses",
    "role/web/token-ttl",
    "role/web/token-max-ttl",
    "login",
    "tidy/secret-id",
]


def run(scenario: Scenario) -> None:
    async def main() -> None:
        _, barrier = await unsealed_storage()
        backend = await mount(AppRoleBackend, barrier, "approle/")
        clock = FakeClock()
        backend.clock = clock
        await scenario(backend, barrier, clock)

    asyncio.run(main())


async def role_id(backend: AppRoleBackend, name: str = "web", **settings: Any) -> str:
    await call(backend, Operation.CREATE, f"role/{name}", settings)
    return str((await data_of(backend, Operation.READ, f"role/{name}/role-id"))["role_id"])


async def secret_id(backend: AppRoleBackend, name: str = "web", **options: Any) -> dict[str, Any]:
    data: dict[str, Any] = await data_of(
        backend, Operation.UPDATE, f"role/{name}/secret-id", **options
    )
    return data


async def login(
    backend: AppRoleBackend, rid: str, sid: str | None, remote_addr: str = "127.0.0.1"
) -> LoginResult:
    body = {"role_id": rid} if sid is None else {"role_id": rid, "secret_id": sid}
    response = await call(backend, Operation.UPDATE, "login", body, remote_addr)
    assert response is not None and response.login is not None
    return response.login


async def refused(
    backend: AppRoleBackend, rid: str, sid: str | None, remote_addr: str = "127.0.0.1"
) -> None:
    with pytest.raises(HushError) as caught:
        await login(backend, rid, sid, remote_addr)
    assert isinstance(caught.value, InvalidRequest) and caught.value.errors == [LOGIN_FAILED]


def test_every_path_matches_exactly_one_declared_route() -> None:
    context = BackendContext(StorageView(MemoryStorage(), "auth/x/"), "approle/", "x")
    backend = AppRoleBackend(context)
    for sample in SAMPLE_PATHS:
        matches = [p.pattern for p in backend.declared_paths if p.match(sample) is not None]
        assert len(matches) == 1, (sample, matches)
    for path in backend.declared_paths:
        assert path.synopsis and all(f.description for f in path.fields.values()), path.pattern
    assert backend.is_unauthenticated("login") and not backend.is_unauthenticated("role/web")


def test_role_read_has_vaults_shape() -> None:
    async def scenario(backend: AppRoleBackend, barrier: Barrier, clock: FakeClock) -> None:
        await role_id(backend, "Web", token_policies="a", secret_id_ttl="10m", policies="a")
        assert await data_of(backend, Operation.READ, "role/web") == {
            "bind_secret_id": True,
            "secret_id_bound_cidrs": [],
            "secret_id_num_uses": 0,
            "secret_id_ttl": 600,
            "local_secret_ids": False,
            "token_bound_cidrs": [],
            "token_explicit_max_ttl": 0,
            "token_max_ttl": 0,
            "token_no_default_policy": False,
            "token_num_uses": 0,
            "token_period": 0,
            "token_policies": ["a"],
            "token_type": "default",
            "token_ttl": 0,
            "policies": ["a"],
        }
        assert await data_of(backend, Operation.LIST, "role") == {"keys": ["web"]}
        await call(backend, Operation.DELETE, "role/web")
        assert await call(backend, Operation.READ, "role/web") is None
        with pytest.raises(NotFound):
            await call(backend, Operation.LIST, "role")

    run(scenario)


def test_role_rules() -> None:
    async def scenario(backend: AppRoleBackend, barrier: Barrier, clock: FakeClock) -> None:
        with pytest.raises(InvalidRequest, match="at least one constraint"):
            await call(backend, Operation.CREATE, "role/web", {"bind_secret_id": False})
        await role_id(backend, "a", role_id="fixed")
        with pytest.raises(InvalidRequest, match="role_id already in use"):
            await call(backend, Operation.CREATE, "role/b", {"role_id": "fixed"})
        with pytest.raises(InvalidRequest, match="only be modified during role creation"):
            await call(backend, Operation.UPDATE, "role/a", {"local_secret_ids": True})
        response = await call(backend, Operation.UPDATE, "role/a", {"token_type": "default-batch"})
        assert response is not None and "adjusting to batch" in response.warnings[0]

    run(scenario)


def test_role_id_can_be_changed_and_the_old_one_stops_working() -> None:
    async def scenario(backend: AppRoleBackend, barrier: Barrier, clock: FakeClock) -> None:
        old = await role_id(backend)
        sid = (await secret_id(backend))["secret_id"]
        await call(backend, Operation.UPDATE, "role/web/role-id", {"role_id": "new-id"})
        await refused(backend, old, sid)
        assert (await login(backend, "new-id", sid)).alias_name == "new-id"

    run(scenario)


def test_per_setting_subpaths() -> None:
    async def scenario(backend: AppRoleBackend, barrier: Barrier, clock: FakeClock) -> None:
        await role_id(backend, token_ttl=60)
        for suffix, field, value, expected in [
            ("secret-id-num-uses", "secret_id_num_uses", 3, 3),
            ("secret-id-ttl", "secret_id_ttl", "1h", 3600),
            ("token-max-ttl", "token_max_ttl", "2m", 120),
            ("token-num-uses", "token_num_uses", 5, 5),
            ("secret-id-bound-cidrs", "secret_id_bound_cidrs", "10.0.0.0/8", ["10.0.0.0/8"]),
            ("policies", "token_policies", "B,a", ["a", "b"]),
        ]:
            await call(backend, Operation.UPDATE, f"role/web/{suffix}", {field: value})
            assert await data_of(backend, Operation.READ, f"role/web/{suffix}") == {field: expected}
            await call(backend, Operation.DELETE, f"role/web/{suffix}")
        assert (await data_of(backend, Operation.READ, "role/web"))["secret_id_num_uses"] == 0
        with pytest.raises(InvalidRequest, match="token_max_ttl should be greater"):
            await call(backend, Operation.UPDATE, "role/web/token-max-ttl", {"token_max_ttl": 1})
        await call(backend, Operation.UPDATE, "role/web/token-max-ttl", {"token_max_ttl": 120})
        with pytest.raises(InvalidRequest, match="token_ttl should not be greater"):
            await call(backend, Operation.UPDATE, "role/web/token-ttl", {"token_ttl": 200})
        with pytest.raises(InvalidRequest, match="missing secret_id_ttl"):
            await call(backend, Operation.UPDATE, "role/web/secret-id-ttl", {})
        with pytest.raises(InvalidRequest, match="at least one constraint"):
            await call(backend, Operation.UPDATE, "role/web/bind-secret-id", {"bind_secret_id": 0})
        with pytest.raises(NotFound):
            await call(backend, Operation.UPDATE, "role/nope/secret-id-ttl", {"secret_id_ttl": 1})

    run(scenario)


def test_generate_lookup_list_and_destroy_secret_ids() -> None:
    async def scenario(backend: AppRoleBackend, barrier: Barrier, clock: FakeClock) -> None:
        await role_id(backend, secret_id_ttl="1h")
        issued = await secret_id(backend, metadata='{"team": "web"}', cidr_list="10.0.0.0/8")
        assert set(issued) == {
            "secret_id",
            "secret_id_accessor",
            "secret_id_ttl",
            "secret_id_num_uses",
        }
        assert issued["secret_id_ttl"] == 3600
        looked_up = await data_of(
            backend, Operation.UPDATE, "role/web/secret-id/lookup", secret_id=issued["secret_id"]
        )
        assert looked_up["secret_id_accessor"] == issued["secret_id_accessor"]
        assert looked_up["metadata"] == {"team": "web"} and looked_up["cidr_list"] == ["10.0.0.0/8"]
        assert looked_up["expiration_time"].endswith("Z") and looked_up["secret_id_ttl"] == 3600
        by_accessor = await data_of(
            backend,
            Operation.UPDATE,
            "role/web/secret-id-accessor/lookup",
            secret_id_accessor=issued["secret_id_accessor"],
        )
        assert by_accessor == looked_up
        listed = await data_of(backend, Operation.LIST, "role/web/secret-id")
        assert listed == {"keys": [issued["secret_id_accessor"]]}
        await call(
            backend,
            Operation.UPDATE,
            "role/web/secret-id-accessor/destroy",
            {"secret_id_accessor": issued["secret_id_accessor"]},
        )
        assert (
            await call(
                backend,
                Operation.UPDATE,
                "role/web/secret-id/lookup",
                {"secret_id": issued["secret_id"]},
            )
            is None
        )
        second = await secret_id(backend)
        await call(
            backend,
            Operation.DELETE,
            "role/web/secret-id/destroy",
            {"secret_id": second["secret_id"]},
        )
        await refused(backend, await role_id(backend), second["secret_id"])

    run(scenario)


def test_secret_id_limits_cannot_exceed_the_roles() -> None:
    async def scenario(backend: AppRoleBackend, barrier: Barrier, clock: FakeClock) -> None:
        await role_id(
            backend, secret_id_num_uses=2, secret_id_ttl=60, secret_id_bound_cidrs="10.0.0.0/8"
        )
        with pytest.raises(InvalidRequest, match="num_uses cannot be higher"):
            await secret_id(backend, num_uses=3)
        with pytest.raises(InvalidRequest, match="ttl cannot be longer"):
            await secret_id(backend, ttl=0)
        with pytest.raises(InvalidRequest, match="subset relationship"):
            await secret_id(backend, cidr_list="192.168.0.0/16")
        assert (await secret_id(backend, num_uses=1, ttl=30))["secret_id_num_uses"] == 1

    run(scenario)


def test_custom_secret_id_and_duplicates() -> None:
    async def scenario(backend: AppRoleBackend, barrier: Barrier, clock: FakeClock) -> None:
        rid = await role_id(backend)
        await call(backend, Operation.UPDATE, "role/web/custom-secret-id", {"secret_id": "s3cr3t"})
        with pytest.raises(InvalidRequest, match="already registered"):
            await call(
                backend, Operation.UPDATE, "role/web/custom-secret-id", {"secret_id": "s3cr3t"}
            )
        await login(backend, rid, "s3cr3t")

    run(scenario)


def test_login_result_and_token_cidr_override() -> None:
    async def scenario(backend: AppRoleBackend, barrier: Barrier, clock: FakeClock) -> None:
        rid = await role_id(
            backend, token_policies="app", token_ttl="5m", token_bound_cidrs="10.0.0.0/8"
        )
        sid = (await secret_id(backend, metadata="env=prod", token_bound_cidrs="10.1.0.0/16"))[
            "secret_id"
        ]
        result = await login(backend, rid, sid)
        assert result.policies == ("app",) and result.ttl == 300 and result.alias_name == rid
        assert result.metadata == {"env": "prod", "role_name": "web"}
        assert result.bound_cidrs == ("10.1.0.0/16",)

    run(scenario)


def test_unknown_role_id_and_wrong_secret_id_fail_alike() -> None:
    async def scenario(backend: AppRoleBackend, barrier: Barrier, clock: FakeClock) -> None:
        rid = await role_id(backend)
        sid = (await secret_id(backend))["secret_id"]
        await refused(backend, "no-such-role-id", sid)
        await refused(backend, rid, "wrong")
        await refused(backend, rid, None)
        with pytest.raises(InvalidRequest, match="missing role_id"):
            await call(backend, Operation.UPDATE, "login", {"secret_id": sid})

    run(scenario)


def test_single_use_secret_id_works_exactly_once() -> None:
    async def scenario(backend: AppRoleBackend, barrier: Barrier, clock: FakeClock) -> None:
        rid = await role_id(backend)
        sid = (await secret_id(backend, num_uses=1))["secret_id"]
        await login(backend, rid, sid)
        await refused(backend, rid, sid)
        assert await barrier.list("auth/u1/accessor/") == []

    run(scenario)


def test_single_use_secret_id_wins_one_race() -> None:
    async def scenario(backend: AppRoleBackend, barrier: Barrier, clock: FakeClock) -> None:
        rid = await role_id(backend)
        sid = (await secret_id(backend, num_uses=1))["secret_id"]
        outcomes = await asyncio.gather(
            *(login(backend, rid, sid) for _ in range(10)), return_exceptions=True
        )
        assert sum(isinstance(o, LoginResult) for o in outcomes) == 1

    run(scenario)


def test_limited_secret_id_counts_down() -> None:
    async def scenario(backend: AppRoleBackend, barrier: Barrier, clock: FakeClock) -> None:
        rid = await role_id(backend)
        sid = (await secret_id(backend, num_uses=3))["secret_id"]
        await login(backend, rid, sid)
        looked_up = await data_of(
            backend, Operation.UPDATE, "role/web/secret-id/lookup", secret_id=sid
        )
        assert looked_up["secret_id_num_uses"] == 2
        await login(backend, rid, sid)
        await login(backend, rid, sid)
        await refused(backend, rid, sid)

    run(scenario)


def test_cidr_bound_secret_id_refuses_other_addresses_without_spending_a_use() -> None:
    async def scenario(backend: AppRoleBackend, barrier: Barrier, clock: FakeClock) -> None:
        rid = await role_id(backend)
        sid = (await secret_id(backend, num_uses=1, cidr_list="10.0.0.0/8"))["secret_id"]
        await refused(backend, rid, sid, "192.168.1.10")
        await refused(backend, rid, sid, "")
        await login(backend, rid, sid, "10.2.3.4")

    run(scenario)


def test_role_cidrs_bind_secret_less_logins() -> None:
    async def scenario(backend: AppRoleBackend, barrier: Barrier, clock: FakeClock) -> None:
        rid = await role_id(backend, bind_secret_id=False, secret_id_bound_cidrs="10.0.0.0/8")
        assert (await login(backend, rid, None, "10.0.0.7")).metadata == {"role_name": "web"}
        await refused(backend, rid, None, "172.16.0.1")

    run(scenario)


def test_expired_secret_id_is_refused_and_removed() -> None:
    async def scenario(backend: AppRoleBackend, barrier: Barrier, clock: FakeClock) -> None:
        rid = await role_id(backend)
        sid = (await secret_id(backend, ttl=60))["secret_id"]
        clock.advance(59)
        await login(backend, rid, sid)
        clock.advance(1)
        await refused(backend, rid, sid)
        with pytest.raises(NotFound):
            await call(backend, Operation.LIST, "role/web/secret-id")

    run(scenario)


def test_periodic_tidies_expired_secret_ids_and_keeps_live_ones() -> None:
    async def scenario(backend: AppRoleBackend, barrier: Barrier, clock: FakeClock) -> None:
        rid = await role_id(backend)
        for _ in range(300):  # more than one batch
            await secret_id(backend, ttl=60)
        keeper = (await secret_id(backend, ttl=3600))["secret_id"]
        clock.advance(61)
        await backend.periodic(clock())
        listed = await data_of(backend, Operation.LIST, "role/web/secret-id")
        assert len(listed["keys"]) == 1 and len(await barrier.list("auth/u1/accessor/")) == 1
        await login(backend, rid, keeper)
        clock.advance(3600)
        response = await call(backend, Operation.UPDATE, "tidy/secret-id")
        assert response is not None and response.status == 202
        assert await barrier.list("auth/u1/accessor/") == []

    run(scenario)


def test_accessors_of_another_role_are_invisible() -> None:
    async def scenario(backend: AppRoleBackend, barrier: Barrier, clock: FakeClock) -> None:
        await role_id(backend, "a")
        await role_id(backend, "b")
        accessor = (await secret_id(backend, "a"))["secret_id_accessor"]
        with pytest.raises(NotFound):
            await call(
                backend,
                Operation.UPDATE,
                "role/b/secret-id-accessor/lookup",
                {"secret_id_accessor": accessor},
            )
        with pytest.raises(InvalidRequest):
            await call(
                backend,
                Operation.UPDATE,
                "role/b/secret-id-accessor/destroy",
                {"secret_id_accessor": accessor},
            )

    run(scenario)


def test_secret_and_role_ids_are_stored_only_as_hmacs() -> None:
    async def scenario(backend: AppRoleBackend, barrier: Barrier, clock: FakeClock) -> None:
        rid = await role_id(backend, role_id="visible-role-id")
        sid = (await secret_id(backend))["secret_id"]
        stored = b""
        pending = ["auth/u1/"]
        while pending:
            folder = pending.pop()
            for child in await barrier.list(folder):
                if child.endswith("/"):
                    pending.append(folder + child)
                else:
                    stored += (
                        folder.encode()
                        + child.encode()
                        + (await barrier.get(folder + child) or b"")
                    )
        assert sid.encode() not in stored
        assert stored.count(rid.encode()) == 1  # in the role itself, as Vault (role-id is readable)

    run(scenario)


def test_deleting_a_role_deletes_its_secret_ids() -> None:
    async def scenario(backend: AppRoleBackend, barrier: Barrier, clock: FakeClock) -> None:
        rid = await role_id(backend)
        sid = (await secret_id(backend))["secret_id"]
        await call(backend, Operation.DELETE, "role/web")
        assert await barrier.list("auth/u1/secret_id/") == []
        assert await barrier.list("auth/u1/accessor/") == []
        await refused(backend, rid, sid)

    run(scenario)
