"""The awssm engine in-process: purging after the recovery window and scheduled rotation."""

from __future__ import annotations

import asyncio
from typing import Any

from hush.barrier.view import StorageView
from hush.core.request import Operation, Request, Response
from hush.engines.awssm import AwssmBackend
from hush.framework.backend import BackendContext
from hush.storage.memory import MemoryStorage

DAY = 86400


def _backend() -> AwssmBackend:
    context = BackendContext(StorageView(MemoryStorage(), "logical/sm/"), "awssm/", "sm")
    return AwssmBackend(context)


async def _call(
    backend: AwssmBackend, operation: Operation, path: str, action: str, body: dict[str, Any]
) -> dict[str, Any]:
    request = Request(
        id="t",
        operation=operation,
        path="awssm/" + path,
        data={"aws_action": action, "aws_region": "eu-west-1", "aws_request": body},
    ).with_route("awssm/", path)
    response = await (await backend.prepare(request)).run()
    assert isinstance(response, Response) and response.raw_body is not None
    return response.raw_body


def test_deleted_secret_is_purged_only_after_its_window() -> None:
    async def scenario() -> None:
        backend = _backend()
        now = 1_800_000_000.0
        backend.clock = lambda: now
        await _call(backend, Operation.CREATE, "secrets/a", "CreateSecret", {"Name": "a"})
        await _call(
            backend,
            Operation.DELETE,
            "secrets/a",
            "DeleteSecret",
            {"SecretId": "a", "RecoveryWindowInDays": 7},
        )
        await backend.periodic(now + 6 * DAY)
        assert await backend.secrets.get("a") is not None
        await backend.periodic(now + 7 * DAY + 1)
        assert await backend.secrets.get("a") is None
        assert await backend.due.due(now + 100 * DAY) == []

    asyncio.run(scenario())


def test_restored_secret_is_not_purged() -> None:
    async def scenario() -> None:
        backend = _backend()
        now = 1_800_000_000.0
        backend.clock = lambda: now
        await _call(backend, Operation.CREATE, "secrets/b", "CreateSecret", {"Name": "b"})
        body = {"SecretId": "b", "RecoveryWindowInDays": 7}
        await _call(backend, Operation.DELETE, "secrets/b", "DeleteSecret", body)
        await _call(backend, Operation.UPDATE, "secrets/b", "RestoreSecret", {"SecretId": "b"})
        await backend.periodic(now + 8 * DAY)
        assert await backend.secrets.get("b") is not None

    asyncio.run(scenario())


def test_scheduled_rotation_runs_from_the_due_index() -> None:
    async def scenario() -> None:
        backend = _backend()
        clock = [1_800_000_000.0]
        backend.clock = lambda: clock[0]
        body = {"Name": "db", "SecretString": '{"username": "app", "password": "initial"}'}
        first = (await _call(backend, Operation.CREATE, "secrets/db", "CreateSecret", body))[
            "VersionId"
        ]
        await _call(
            backend,
            Operation.UPDATE,
            "secrets/db",
            "RotateSecret",
            {
                "SecretId": "db",
                "RotationRules": {"ScheduleExpression": "rate(2 days)", "Duration": "2h"},
                "RotateImmediately": False,
            },
        )
        record = await backend.secrets.get("db")
        assert record is not None and record.rotation.next_rotation > clock[0]
        due_at = record.rotation.next_rotation
        await backend.periodic(due_at - 1)
        record = await backend.secrets.get("db")
        assert record is not None and record.version_with("AWSCURRENT").version_id == first
        clock[0] = due_at + 1
        await backend.periodic(due_at + 1)
        record = await backend.secrets.get("db")
        assert record is not None
        current = record.version_with("AWSCURRENT")
        assert current is not None and current.version_id != first
        assert record.versions[first].stages == ["AWSPREVIOUS"]
        value = await backend.secrets.value(record, current.version_id)
        assert value is not None and value.string is not None
        assert '"username":"app"' in value.string and "initial" not in value.string
        # The next rotation is scheduled two days on, inside its window.
        assert record.rotation.next_rotation >= due_at + 2 * DAY - DAY

    asyncio.run(scenario())


def test_every_path_matches_exactly_one_declared_route() -> None:
    from hush.auth.aws import AwsAuthBackend

    samples = {
        _backend(): [
            "secrets/",
            "secrets",
            "secrets/a",
            "secrets/app/db/prod",
            "random-password",
            "validate-resource-policy",
            "rotation/webhook-key",
        ],
        AwsAuthBackend(BackendContext(StorageView(MemoryStorage(), "auth/x/"), "aws/", "x")): [
            "keys",
            "keys/",
            "keys/AKIAABCDEFGHIJKLMNOP",
        ],
    }
    for backend, paths in samples.items():
        for sample in paths:
            matches = [p.pattern for p in backend.declared_paths if p.match(sample) is not None]
            assert len(matches) == 1, (sample, matches)
        for path in backend.declared_paths:
            assert path.synopsis and all(f.description for f in path.fields.values()), path


def test_started_rotation_whose_task_died_is_resumed_from_the_due_index() -> None:
    """RotateSecret answers at once; if its background task never finishes (the process died),
    the due index resumes the same version once ``RESUME_AFTER`` has passed."""

    async def scenario() -> None:
        from hush.engines.awssm.rotation import RESUME_AFTER

        backend = _backend()
        now = 1_800_000_000.0
        backend.clock = lambda: now
        body = {"Name": "r", "SecretString": "initial"}
        first = (await _call(backend, Operation.CREATE, "secrets/r", "CreateSecret", body))[
            "VersionId"
        ]
        started = await _call(
            backend, Operation.UPDATE, "secrets/r", "RotateSecret", {"SecretId": "r"}
        )
        version = started["VersionId"]
        await backend.rotation.stop()  # the task is gone before it ran: as if the node died
        record = await backend.secrets.get("r")
        assert record is not None and record.version_with("AWSCURRENT").version_id == first
        again = {"SecretId": "r"}
        try:
            await _call(backend, Operation.UPDATE, "secrets/r", "RotateSecret", again)
        except Exception as exc:
            assert getattr(exc, "aws_type", "") == "InvalidRequestException"
            assert "previous rotation isn't complete" in str(exc)
        else:
            raise AssertionError("a second RotateSecret while one is started must be refused")
        await backend.periodic(now + RESUME_AFTER - 1)
        record = await backend.secrets.get("r")
        assert record is not None and record.version_with("AWSCURRENT").version_id == first
        await backend.periodic(now + RESUME_AFTER + 1)
        record = await backend.secrets.get("r")
        assert record is not None
        current = record.version_with("AWSCURRENT")
        assert current is not None and current.version_id == version
        assert record.rotation.pending_version == ""
        value = await backend.secrets.value(record, version)
        assert value is not None and value.string not in (None, "initial")

    asyncio.run(scenario())


def test_a_rotation_slower_than_its_claim_is_not_started_twice() -> None:
    """A rotator that takes longer than ``RESUME_AFTER`` (a slow webhook or database) keeps its
    claim renewed, so the sweep does not run the same rotation a second time meanwhile; once it
    finishes, AWSCURRENT moves once."""

    class SlowRotator:
        def __init__(self) -> None:
            self.steps: list[str] = []
            self.entered = asyncio.Event()
            self.release = asyncio.Event()

        async def create(self, event: dict[str, Any], current: Any) -> Any:
            from hush.engines.awssm.store import SecretValue

            self.steps.append(event["Step"])
            return SecretValue(string="rotated")

        async def step(self, event: dict[str, Any], pending: Any) -> None:
            self.steps.append(event["Step"])
            if event["Step"] == "setSecret":
                self.entered.set()
                await self.release.wait()

    async def scenario() -> None:
        from hush.engines.awssm.rotation import RESUME_AFTER

        backend = _backend()
        clock = [1_800_000_000.0]
        backend.clock = lambda: clock[0]
        rotator = SlowRotator()

        async def choose(name: str) -> SlowRotator:
            return rotator

        backend.rotation._rotator = choose  # type: ignore[method-assign,assignment]
        backend.rotation.claim_renewal = 0.01
        body = {"Name": "slow", "SecretString": "initial"}
        await _call(backend, Operation.CREATE, "secrets/slow", "CreateSecret", body)
        started = await _call(
            backend, Operation.UPDATE, "secrets/slow", "RotateSecret", {"SecretId": "slow"}
        )
        await asyncio.wait_for(rotator.entered.wait(), 5)
        for _ in range(3):  # well past the first claim, and past each renewed one
            clock[0] += RESUME_AFTER + 1
            await asyncio.sleep(0.1)  # a renewal happens at the new time
            sweep = asyncio.create_task(backend.periodic(clock[0]))
            await asyncio.sleep(0.1)
            assert rotator.steps == ["createSecret", "setSecret"], rotator.steps
            await asyncio.wait_for(sweep, 5)
        rotator.release.set()
        for _ in range(100):
            record = await backend.secrets.get("slow")
            if record is not None and not record.rotation.pending_version:
                break
            await asyncio.sleep(0.02)
        assert rotator.steps == ["createSecret", "setSecret", "testSecret", "finishSecret"]
        assert record is not None
        current = record.version_with("AWSCURRENT")
        assert current is not None and current.version_id == started["VersionId"]

    asyncio.run(scenario())
