"""RotateSecret, CancelRotateSecret and scheduled rotation for the ``awssm`` engine.

One rotation is Secrets Manager's four steps. createSecret puts the new value on a version labelled
AWSPENDING (saved at once, so a retry resumes it); setSecret and testSecret let the rotator change
and check the credential elsewhere; finishSecret moves AWSCURRENT to the new version (the old one
becomes AWSPREVIOUS and stays readable) and drops AWSPENDING. A failing step leaves AWSCURRENT
where it was, records the failure on the secret (``rotation.failures``/``last_error``, shown by the
Vault read of ``awssm/secrets/<name>``), logs it, and schedules a retry with exponential backoff.

RotateSecret answers at once, as AWS does (its Lambda runs the steps afterwards): it records the
version id it answers with (``rotation.pending_version``), puts a due entry :data:`RESUME_AFTER`
seconds ahead and runs the steps in a background task of this process. The task finishes the
rotation through that due entry, so if the process or node dies first, the node running
background work resumes it from the due index. While a rotation is started and not finished
(or failed), another RotateSecret is refused with AWS's "A previous rotation isn't complete";
after a failure, RotateSecret (or the scheduled retry) reattempts the same AWSPENDING version.

Schedules (``RotationRules``) come from :mod:`hush.core.rotation`; due rotations sit in the mount's
due-time index and :meth:`RotationRunner.run_due` runs them from the backend's ``periodic``.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from hush.core.errors import HushError
from hush.core.rotation import DueEntry, DueIndex, ScheduleError, parse_rules
from hush.core.rotation.alerts import AlertSender, webhook_key
from hush.crypto import SecretBytes
from hush.engines.awssm.env import ActionEnv, Body, add_version, identity
from hush.engines.awssm.errors import InvalidParameter, InvalidRequestState
from hush.engines.awssm.keys import as_engine
from hush.engines.awssm.model import AWSCURRENT, AWSPENDING, SecretRecord
from hush.engines.awssm.rotation_claim import Claim, keep_claim
from hush.engines.awssm.rotation_failures import AuditEvent, FailureReporter
from hush.engines.awssm.rotator_choice import check_rotator, choose_rotator
from hush.engines.awssm.rotators import Rotator, StepFailed
from hush.engines.awssm.store import SecretStore, SecretValue
from hush.engines.awssm.validate import boolean, client_token, text

__all__ = ["MAX_BACKOFF", "RESUME_AFTER", "ROTATE", "RotationRunner", "RotationStats", "backoff"]

ROTATE: Final = "rotate"
#: Seconds after RotateSecret at which the due index resumes a rotation whose task never finished.
RESUME_AFTER: Final = 120.0
MAX_BACKOFF: Final = 3600.0

log = logging.getLogger("hush.engines.awssm.rotation")


@dataclass(slots=True)
class RotationStats:
    """What this node's runner has done since the mount started (for metrics)."""

    successes: int = 0
    failures: int = 0
    failing: set[str] = field(default_factory=set)


@dataclass(slots=True)
class _Attempt:
    """One run of the four steps, as prepared under the secret's lock."""

    record: SecretRecord
    rotator: Rotator
    version_id: str
    has_pending: bool
    current_value: SecretValue | None
    pending_value: SecretValue | None
    claim: Claim


def backoff(failures: int) -> float:
    """Seconds before retrying after ``failures`` consecutive failures (60 s doubling, ≤ 1 h)."""
    return float(min(MAX_BACKOFF, 60.0 * 2 ** max(0, failures - 1)))


def _region(arn: str) -> str:
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 else ""


def _error_name(exc: HushError) -> str:
    return exc.aws_type or type(exc).__name__


def _refuse_if_started(record: SecretRecord) -> None:
    if record.rotation.pending_version:
        raise InvalidRequestState(
            "A previous rotation isn't complete. That rotation will be reattempted."
        )


class RotationRunner:
    """Runs and schedules rotations for the secrets of one mount."""

    def __init__(
        self,
        store: SecretStore,
        due: DueIndex,
        env: Callable[[str], ActionEnv],
        ca_file: str | None = None,
        alert_url: str | None = None,
        audit: AuditEvent | None = None,
    ) -> None:
        self._store = store
        self._due = due
        self._env = env
        self._ca_file = ca_file
        self._failures = FailureReporter(AlertSender(store.storage, alert_url, ca_file), audit)
        self.stats = RotationStats()
        #: Seconds between two renewals of a running rotation's claim (:func:`keep_claim`).
        self.claim_renewal = RESUME_AFTER / 3
        self._tasks: set[asyncio.Task[None]] = set()

    async def webhook_key(self) -> SecretBytes:
        """The mount's webhook signing key (made on first use, kept behind the barrier)."""
        storage = self._store.storage
        return await webhook_key(storage)

    async def _rotator(self, name: str) -> Rotator:
        return await choose_rotator(name, self._current_value, self.webhook_key, self._ca_file)

    async def _current_value(self, secret_id: str) -> SecretValue | None:
        """AWSCURRENT of the secret ``secret_id`` names (name or ARN, on this mount)."""
        name = secret_id
        if secret_id.startswith("arn:"):
            tail = secret_id.split(":", 6)[-1]
            name = tail[:-7] if len(tail) > 7 else tail
        record = await self._store.get(name)
        if record is None or record.deleted:
            return None
        if secret_id.startswith("arn:") and secret_id != record.arn:
            return None
        current = record.version_with(AWSCURRENT)
        return await self._store.value(record, current.version_id) if current else None

    # -- actions -----------------------------------------------------------------------------

    async def rotate_secret(
        self, env: ActionEnv, secret_id: str, name: str, body: Body
    ) -> dict[str, Any]:
        """RotateSecret: configure rotation and (by default) start rotating now."""
        record = await env.secret(secret_id, name)
        _refuse_if_started(record)  # also with RotateImmediately=false: it would drop the claim
        token = client_token(body)
        rotator = text(body, "RotationLambdaARN", max_len=2048)
        immediately = boolean(body, "RotateImmediately", True)
        rules = body.get("RotationRules")
        if rules is not None and not isinstance(rules, dict):
            raise InvalidParameter("RotationRules must be a structure")
        if rotator is not None:
            check_rotator(rotator)
            record.rotation.rotator = rotator
        if rules is not None:
            try:
                parse_rules(rules)
            except ScheduleError as exc:
                raise InvalidParameter(str(exc)) from None
            record.rotation.rules = dict(rules)
        record.rotation.enabled = True
        answer: dict[str, Any] = identity(record)
        if immediately:
            answer["VersionId"] = await self._start(env, record, token)
        else:
            await self._schedule(record, env.now)
            await self._store.touch(record)
        return answer

    async def refuse_if_started(self, name: str) -> None:
        """Refuse RotateSecret at once while a rotation of ``name`` runs.

        Checked before the secret's lock is taken as well as under it: a running rotation holds
        that lock through its steps, and a second caller must get AWS's answer, not wait.
        """
        record = await self._store.get(name)
        if record is not None:
            _refuse_if_started(record)

    async def _start(self, env: ActionEnv, record: SecretRecord, token: str | None) -> str:
        """Record a started rotation, answer its version id, and run it in the background."""
        _refuse_if_started(record)
        pending = record.version_with(AWSPENDING)
        # An unfinished (failed) rotation is reattempted with its pending version, as AWS does.
        version_id = pending.version_id if pending else (token or str(uuid.uuid4()))
        record.rotation.pending_version = version_id
        entry = await self._claim(record, env.now)
        task = asyncio.create_task(self._run_started(entry, _region(record.arn)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return version_id

    async def _run_started(self, entry: DueEntry, region: str) -> None:
        """The background half of RotateSecret (it runs as the engine, not as the caller)."""
        as_engine()
        try:
            await self.run_due(entry, self._env(region).now)
        except Exception as exc:  # the due entry stays: the background scheduler resumes it
            log.warning(
                "rotation of secret %s stopped (%s); it resumes from the due index",
                entry.name,
                type(exc).__name__,
            )

    async def stop(self) -> None:
        """Cancel this process's background rotations (their due entries resume them)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def cancel_rotate_secret(
        self, env: ActionEnv, secret_id: str, name: str, body: Body
    ) -> dict[str, Any]:
        """CancelRotateSecret: turn automatic rotation off (AWSPENDING stays, as in AWS)."""
        record = await env.secret(secret_id, name)
        await self._unschedule(record)
        record.rotation.enabled = False
        record.rotation.next_rotation = 0.0
        record.rotation.pending_version = ""
        await self._store.touch(record)
        answer: dict[str, Any] = identity(record)
        pending = record.version_with(AWSPENDING)
        if pending is not None:
            answer["VersionId"] = pending.version_id
        return answer

    # -- the four steps ----------------------------------------------------------------------

    def _live(self, record: SecretRecord | None, due_at: int) -> SecretRecord | None:
        """``record`` if the rotation of ``due_at`` still owns it (not deleted, not superseded)."""
        if (
            record is None
            or record.deleted
            or not record.rotation.enabled
            or int(record.rotation.next_rotation) != due_at
        ):
            return None
        return record

    async def run_due(self, entry: DueEntry, now: float) -> None:
        """Run the four steps for the secret ``entry`` names, if it is still due.

        The secret's lock is held only to read and write its record: the rotator's steps (HTTP
        calls, database statements) run without it, so reads and writes of the secret go on
        meanwhile. At the start the due entry moves :data:`RESUME_AFTER` ahead: a sweep on
        another node leaves a running rotation alone, and one cut short by a crash is resumed.
        AWSCURRENT moves only when every step succeeded.
        """
        async with self._store.lock(entry.name):
            record = self._live(await self._store.get(entry.name), entry.due_at)
            if record is None:
                await self._due.cancel(entry)
                return
            env = self._env(_region(record.arn))
            pending = record.version_with(AWSPENDING)
            # An unfinished rotation is reattempted with its pending version (AWS: "A previous
            # rotation isn't complete. That rotation will be reattempted.").
            version_id = (
                pending.version_id
                if pending
                else (record.rotation.pending_version or str(uuid.uuid4()))
            )
            record.rotation.pending_version = version_id
            claimed = await self._claim(record, env.now)
            current = record.version_with(AWSCURRENT)
            try:
                current_value = (
                    await self._store.value(record, current.version_id) if current else None
                )
                value = await self._store.value(record, version_id) if pending else None
            except HushError as exc:  # e.g. DecryptionFailure: the secret's KMS key is disabled
                await self._failed(record, env.now, f"createSecret: {_error_name(exc)}")
                return
            attempt = _Attempt(
                record=record,
                rotator=await self._rotator(record.rotation.rotator),
                version_id=version_id,
                has_pending=pending is not None,
                current_value=current_value,
                pending_value=value,
                claim=Claim(claimed.due_at),
            )
        stop_renewing = asyncio.Event()
        renewer = asyncio.create_task(
            keep_claim(
                lambda: self._renew_claim(entry.name, attempt.claim),
                self.claim_renewal,
                stop_renewing,
                entry.name,
            )
        )
        try:
            await self._run_steps(attempt)
        finally:
            stop_renewing.set()
            await renewer

    async def _run_steps(self, attempt: _Attempt) -> None:
        """createSecret (unless a pending value exists), setSecret, testSecret, finishSecret."""
        record, rotator, version_id, claim = (
            attempt.record,
            attempt.rotator,
            attempt.version_id,
            attempt.claim,
        )
        name = record.name
        env = self._env(_region(record.arn))
        value = attempt.pending_value
        event = {"SecretId": record.arn, "ClientRequestToken": version_id}
        step = "createSecret"
        try:
            if attempt.has_pending and value is None:
                raise StepFailed("createSecret: the pending version has no value")
            if value is None:
                value = await rotator.create({**event, "Step": step}, attempt.current_value)
                async with self._store.lock(name):
                    live = self._live(await self._store.get(name), claim.due_at)
                    if live is None:
                        return
                    await add_version(env, live, value, version_id, [AWSPENDING])
                    await self._store.save(live, new_values={version_id: value})
            for step in ("setSecret", "testSecret", "finishSecret"):
                await rotator.step({**event, "Step": step}, value)
        except (StepFailed, HushError) as exc:
            reason = str(exc) if isinstance(exc, StepFailed) else f"{step}: {_error_name(exc)}"
            async with self._store.lock(name):
                live = self._live(await self._store.get(name), claim.due_at)
                if live is not None:
                    await self._failed(live, env.now, reason)
            return
        async with self._store.lock(name):
            live = self._live(await self._store.get(name), claim.due_at)
            if live is None or version_id not in live.versions:
                return
            await self._finished(live, env.now, version_id)

    async def _renew_claim(self, name: str, claim: Claim) -> bool:
        """Move the running rotation's due entry ahead, under the secret's lock; false once the
        rotation no longer owns the secret (finished, cancelled, deleted)."""
        async with self._store.lock(name):
            live = self._live(await self._store.get(name), claim.due_at)
            if live is None:
                return False
            renewed = await self._claim(live, self._env(_region(live.arn)).now)
            claim.due_at = renewed.due_at
            return True

    async def _finished(self, record: SecretRecord, now: float, version_id: str) -> None:
        record.move_stage(AWSCURRENT, version_id)
        record.remove_stage(AWSPENDING)
        record.rotation.last_rotated = now
        record.rotation.pending_version = ""
        record.rotation.failures = 0
        record.rotation.last_error = ""
        record.last_changed = now
        await self._schedule(record, now)
        dropped = record.prune()
        await self._store.save(record, dropped_versions=dropped)
        self.stats.successes += 1
        self.stats.failing.discard(record.name)
        log.info("rotated secret %s to version %s", record.name, version_id)

    async def _failed(self, record: SecretRecord, now: float, reason: str) -> None:
        record.rotation.pending_version = ""
        record.rotation.failures += 1
        record.rotation.last_error = reason
        self.stats.failures += 1
        self.stats.failing.add(record.name)
        log.warning(
            "rotation of secret %s failed (attempt %d): %s; AWSCURRENT is unchanged",
            record.name,
            record.rotation.failures,
            reason,
        )
        await self._unschedule(record)
        retry_at = now + backoff(record.rotation.failures)
        record.rotation.next_rotation = retry_at
        await self._due.schedule(retry_at, ROTATE, record.name)
        await self._store.touch(record)
        await self._failures.report(record, reason, retry_at)

    # -- scheduling --------------------------------------------------------------------------

    async def _claim(self, record: SecretRecord, now: float) -> DueEntry:
        """Mark ``record``'s rotation as running: its due entry :data:`RESUME_AFTER` ahead."""
        await self._unschedule(record)
        entry = await self._due.schedule(now + RESUME_AFTER, ROTATE, record.name)
        record.rotation.next_rotation = float(entry.due_at)
        await self._store.touch(record)
        return entry

    async def _unschedule(self, record: SecretRecord) -> None:
        if record.rotation.next_rotation:
            await self._due.cancel(
                DueEntry(int(record.rotation.next_rotation), ROTATE, record.name)
            )

    async def _schedule(self, record: SecretRecord, last: float) -> None:
        await self._unschedule(record)
        record.rotation.next_rotation = 0.0
        if not record.rotation.enabled or not record.rotation.rules:
            return
        due_at = parse_rules(record.rotation.rules).due_after(record.name, last)
        entry = await self._due.schedule(due_at, ROTATE, record.name)
        record.rotation.next_rotation = float(entry.due_at)
