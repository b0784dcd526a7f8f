"""userpass in-process: users, the LoginResult, one canonical username, lockout, equal timing."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from hush.auth.userpass import UserpassBackend
from hush.auth.userpass.backend import LOGIN_FAILED
from hush.barrier.barrier import Barrier
from hush.barrier.view import StorageView
from hush.core.errors import HushError, InvalidRequest, NotFound, PermissionDenied
from hush.core.request import LoginResult, Operation
from hush.framework.backend import BackendContext
from hush.storage.memory import MemoryStorage
from tests.unit.auth.helpers import FakeClock, call, data_of, mount, unsealed_storage

Scenario = Callable[[UserpassBackend, Barrier, FakeClock], Awaitable[None]]


def run(scenario: Scenario, config: dict[str, Any] | None = None) -> None:
    async def main() -> None:
        _, barrier = await unsealed_storage()
        backend = await mount(UserpassBackend, barrier, "userpass/", config)
        clock = FakeClock()
        backend.clock = clock
        await scenario(backend, barrier, clock)

    asyncio.run(main())


async def create(backend: UserpassBackend, name: str = "bob", **data: Any) -> None:
    await call(backend, Operation.CREATE, f"users/{name}", {"password": "right", **data})


async def login(
    backend: UserpassBackend, name: str, password: str, remote_addr: str = "127.0.0.1"
) -> LoginResult:
    response = await call(
        backend, Operation.UPDATE, f"login/{name}", {"password": password}, remote_addr
    )
    assert response is not None and response.login is not None
    return response.login


async def failed_login(backend: UserpassBackend, name: str, password: str) -> HushError:
    with pytest.raises(HushError) as caught:
        await login(backend, name, password)
    return caught.value


def assert_login_failed(error: HushError) -> None:
    assert isinstance(error, InvalidRequest) and error.status == 400
    assert error.errors == [LOGIN_FAILED]


def test_every_path_matches_exactly_one_declared_route() -> None:
    context = BackendContext(StorageView(MemoryStorage(), "auth/x/"), "userpass/", "x")
    backend = UserpassBackend(context)
    samples = ["users", "users/", "users/bob", "users/b.o-b@x/password", "users/bob/policies"]
    for sample in [*samples, "login/bob", "login/ Bob "]:
        matches = [p.pattern for p in backend.declared_paths if p.match(sample) is not None]
        assert len(matches) == 1, (sample, matches)
    for path in backend.declared_paths:
        assert path.synopsis and all(f.description for f in path.fields.values()), path.pattern
    assert backend.is_unauthenticated("login/bob") and not backend.is_unauthenticated("users/bob")


def test_read_and_list_have_vaults_shape() -> None:
    async def scenario(backend: UserpassBackend, barrier: Barrier, clock: FakeClock) -> None:
        await create(backend, "Alice", token_policies="dev,ops", ttl="1h", bound_cidrs="10.0.0.1")
        data = await data_of(backend, Operation.READ, "users/alice")
        assert data == {
            "token_bound_cidrs": ["10.0.0.1"],
            "token_explicit_max_ttl": 0,
            "token_max_ttl": 0,
            "token_no_default_policy": False,
            "token_num_uses": 0,
            "token_period": 0,
            "token_policies": ["dev", "ops"],
            "token_type": "default",
            "token_ttl": 3600,
            "ttl": 3600,
            "bound_cidrs": ["10.0.0.1"],
        }
        assert await data_of(backend, Operation.LIST, "users/") == {"keys": ["alice"]}
        await call(backend, Operation.DELETE, "users/ALICE")
        assert await call(backend, Operation.READ, "users/alice") is None
        with pytest.raises(NotFound):
            await call(backend, Operation.LIST, "users/")

    run(scenario)


def test_create_needs_a_password_and_update_keeps_it() -> None:
    async def scenario(backend: UserpassBackend, barrier: Barrier, clock: FakeClock) -> None:
        with pytest.raises(InvalidRequest, match="missing password"):
            await call(backend, Operation.CREATE, "users/bob", {"token_ttl": 60})
        await create(backend)
        await call(backend, Operation.UPDATE, "users/bob", {"token_ttl": 60})
        assert (await login(backend, "bob", "right")).ttl == 60

    run(scenario)


def test_login_result_is_what_the_core_needs() -> None:
    async def scenario(backend: UserpassBackend, barrier: Barrier, clock: FakeClock) -> None:
        await create(backend, token_policies="dev", token_ttl="10m", token_type="service")
        result = await login(backend, "bob", "right")
        assert result.policies == ("dev",) and result.ttl == 600
        assert result.display_name == result.alias_name == "bob"
        assert result.metadata == {"username": "bob"} and result.token_type == "service"

    run(scenario)


def test_password_and_policies_subpaths() -> None:
    async def scenario(backend: UserpassBackend, barrier: Barrier, clock: FakeClock) -> None:
        await create(backend)
        await call(backend, Operation.UPDATE, "users/bob/password", {"password": "new"})
        assert_login_failed(await failed_login(backend, "bob", "right"))
        await login(backend, "bob", "new")
        await call(backend, Operation.UPDATE, "users/bob/policies", {"token_policies": "B,a"})
        assert (await data_of(backend, Operation.READ, "users/bob"))["token_policies"] == ["a", "b"]
        with pytest.raises(InvalidRequest, match="must provide token_policies"):
            await call(backend, Operation.UPDATE, "users/bob/policies", {})
        with pytest.raises(InvalidRequest, match="username does not exist"):
            await call(backend, Operation.UPDATE, "users/nobody/password", {"password": "x"})

    run(scenario)


def test_password_is_stored_as_argon2id_only() -> None:
    async def scenario(backend: UserpassBackend, barrier: Barrier, clock: FakeClock) -> None:
        await create(backend, password="correct horse battery staple")
        blob = await barrier.get("auth/u1/user/bob")
        assert blob is not None and b"$argon2id$" in blob
        assert b"correct horse" not in blob

    run(scenario)


def test_secret_never_appears_in_an_error() -> None:
    async def scenario(backend: UserpassBackend, barrier: Barrier, clock: FakeClock) -> None:
        await create(backend)
        with pytest.raises(InvalidRequest) as caught:
            await call(backend, Operation.UPDATE, "login/bob", {"password": {"x": "hunter2"}})
        assert "hunter2" not in str(caught.value.errors)

    run(scenario)


def test_bound_cidrs_refuse_other_addresses_with_403() -> None:
    async def scenario(backend: UserpassBackend, barrier: Barrier, clock: FakeClock) -> None:
        await create(backend, token_bound_cidrs="10.0.0.0/8")
        assert (await login(backend, "bob", "right", "10.9.9.9")).bound_cidrs == ("10.0.0.0/8",)
        with pytest.raises(PermissionDenied):
            await login(backend, "bob", "right", "192.168.1.1")

    run(scenario)


def test_unknown_user_wrong_password_and_locked_user_fail_alike() -> None:
    async def scenario(backend: UserpassBackend, barrier: Barrier, clock: FakeClock) -> None:
        await create(backend)
        assert_login_failed(await failed_login(backend, "nobody", "right"))
        for _ in range(5):
            assert_login_failed(await failed_login(backend, "bob", "wrong"))
        # Locked: the right password gets the very same answer.
        assert_login_failed(await failed_login(backend, "bob", "right"))

    run(scenario)


def test_lockout_ends_after_its_duration() -> None:
    async def scenario(backend: UserpassBackend, barrier: Barrier, clock: FakeClock) -> None:
        await create(backend)
        for _ in range(5):
            await failed_login(backend, "bob", "wrong")
        clock.advance(15 * 60 - 1)
        assert_login_failed(await failed_login(backend, "bob", "right"))
        clock.advance(2)
        await login(backend, "bob", "right")

    run(scenario)


def test_attempts_while_locked_do_not_extend_the_lockout() -> None:
    async def scenario(backend: UserpassBackend, barrier: Barrier, clock: FakeClock) -> None:
        await create(backend)
        for _ in range(5):
            await failed_login(backend, "bob", "wrong")
        clock.advance(14 * 60)
        await failed_login(backend, "bob", "wrong")
        clock.advance(61)
        await login(backend, "bob", "right")

    run(scenario)


def test_counter_resets_after_quiet_period() -> None:
    async def scenario(backend: UserpassBackend, barrier: Barrier, clock: FakeClock) -> None:
        await create(backend)
        for _ in range(4):
            await failed_login(backend, "bob", "wrong")
        clock.advance(15 * 60 + 1)
        for _ in range(4):
            await failed_login(backend, "bob", "wrong")
        await login(backend, "bob", "right")

    run(scenario)


def test_success_clears_the_counter() -> None:
    async def scenario(backend: UserpassBackend, barrier: Barrier, clock: FakeClock) -> None:
        await create(backend)
        for _ in range(4):
            await failed_login(backend, "bob", "wrong")
        await login(backend, "bob", "right")
        for _ in range(4):
            await failed_login(backend, "bob", "wrong")
        await login(backend, "bob", "right")

    run(scenario)


@pytest.mark.parametrize("variant", ["Bob", " bob", "bob ", "BOB", " bOb\t"])
def test_case_and_whitespace_variants_are_one_user(variant: str) -> None:
    async def scenario(backend: UserpassBackend, barrier: Barrier, clock: FakeClock) -> None:
        await create(backend, "bob")
        assert (await login(backend, variant, "right")).alias_name == "bob"
        assert (await data_of(backend, Operation.READ, f"users/{variant}"))["token_type"]

    run(scenario)


def test_variants_share_one_lockout_counter() -> None:
    async def scenario(backend: UserpassBackend, barrier: Barrier, clock: FakeClock) -> None:
        await create(backend, "bob")
        for variant in ["Bob", " bob", "bob ", "BOB", "bOb"]:
            assert_login_failed(await failed_login(backend, variant, "wrong"))
        for variant in ["bob", "BOB", " Bob "]:
            assert_login_failed(await failed_login(backend, variant, "right"))
        assert [u["alias_identifier"] for u in await backend.locked_users()] == ["bob"]

    run(scenario)


def test_concurrent_guesses_cannot_exceed_the_threshold() -> None:
    async def scenario(backend: UserpassBackend, barrier: Barrier, clock: FakeClock) -> None:
        await create(backend)
        passwords = [f"guess{i}" for i in range(9)] + ["right"]
        outcomes = await asyncio.gather(
            *(login(backend, "bob", p) for p in passwords), return_exceptions=True
        )
        # Five guesses are checked, the lockout starts, and the tenth (right) one is refused.
        assert all(isinstance(o, InvalidRequest) for o in outcomes)

    run(scenario)


def test_concurrent_legitimate_logins_all_succeed() -> None:
    async def scenario(backend: UserpassBackend, barrier: Barrier, clock: FakeClock) -> None:
        await create(backend)
        results = await asyncio.gather(*(login(backend, "bob", "right") for _ in range(8)))
        assert len(results) == 8

    run(scenario)


def test_lockout_survives_a_restart_of_the_backend() -> None:
    async def scenario(backend: UserpassBackend, barrier: Barrier, clock: FakeClock) -> None:
        await create(backend)
        for _ in range(5):
            await failed_login(backend, "bob", "wrong")
        restarted = await mount(UserpassBackend, barrier, "userpass/")
        restarted.clock = clock
        assert_login_failed(await failed_login(restarted, "bob", "right"))

    run(scenario)


def test_lockout_settings_come_from_the_mount_config() -> None:
    async def scenario(backend: UserpassBackend, barrier: Barrier, clock: FakeClock) -> None:
        await create(backend)
        for _ in range(2):
            await failed_login(backend, "bob", "wrong")
        assert_login_failed(await failed_login(backend, "bob", "right"))
        clock.advance(11)
        await login(backend, "bob", "right")

    config = {"user_lockout_config": {"lockout_threshold": "2", "lockout_duration": "10s"}}
    run(scenario, config)


def test_lockout_can_be_disabled() -> None:
    async def scenario(backend: UserpassBackend, barrier: Barrier, clock: FakeClock) -> None:
        await create(backend)
        for _ in range(8):
            await failed_login(backend, "bob", "wrong")
        await login(backend, "bob", "right")

    run(scenario, {"user_lockout_disable": "true"})


def test_locked_users_and_unlock() -> None:
    async def scenario(backend: UserpassBackend, barrier: Barrier, clock: FakeClock) -> None:
        await create(backend)
        for _ in range(5):
            await failed_login(backend, "bob", "wrong")
            await failed_login(backend, "ghost", "wrong")
        (locked,) = await backend.locked_users()  # names that never existed are not listed
        assert locked["alias_identifier"] == "bob" and locked["failed_login_attempts"] == 5
        assert await backend.unlock(" BOB ") is True
        assert await backend.unlock("bob") is False
        await login(backend, "bob", "right")

    run(scenario)


def test_periodic_tidies_stale_counters() -> None:
    async def scenario(backend: UserpassBackend, barrier: Barrier, clock: FakeClock) -> None:
        await failed_login(backend, "ghost", "wrong")
        assert await barrier.list("auth/u1/lockout/") == ["ghost"]
        await backend.periodic(clock())
        assert await barrier.list("auth/u1/lockout/") == ["ghost"]
        clock.advance(15 * 60 + 1)
        await backend.periodic(clock())
        assert await barrier.list("auth/u1/lockout/") == []

    run(scenario)


def test_failures_take_the_same_time_whether_or_not_the_user_exists() -> None:
    async def scenario(backend: UserpassBackend, barrier: Barrier, clock: FakeClock) -> None:
        await create(backend)
        unknown: list[float] = []
        known: list[float] = []
        for _ in range(30):  # interleaved, so drift in machine load hits both alike
            for name, samples in (("nobody", unknown), ("bob", known)):
                start = time.perf_counter()
                await failed_login(backend, name, "wrong")
                samples.append(time.perf_counter() - start)
        unknown_median, known_median = statistics.median(unknown), statistics.median(known)
        assert abs(unknown_median - known_median) / known_median < 0.25, (
            unknown_median,
            known_median,
        )

    run(scenario)
