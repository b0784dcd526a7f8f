"""RotateSecret, CancelRotateSecret and scheduled rotation for the ``awssm`` engine.

One rotation is Secrets Manager's four steps. createSecret puts the new value on a version labelled
AWSPENDING (saved at once, so a retry resumes it); setSecret and testSecret let the rotator change
and check the credential elsewhere; finishSecret moves AWSCURRENT to the new version (the old one
becomes AWSPREVIOUS and stays readable) and drops AWSPENDING. A failing step leaves AWSCURRENT
where it was, records the failure on the secret (``rotation.failures``/``last_error``, shown by the
Vault read of ``awssm/secrets/<name>``), logs it, and schedules a retry with exponential backoff.

Schedules (``RotationRules``) come from :mod:`hush.core.rotation`; due rotations sit in the mount's
due-time index and :meth:`RotationRunner.run_due` runs them from the backend's ``periodic``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from hush.core.errors import Unsupported
from hush.core.rotation import DueEntry, DueIndex, ScheduleError, parse_rules
from hush.crypto import SecretBytes, random_bytes
from hush.engines.awssm.env import ActionEnv, Body, add_version, identity
from hush.engines.awssm.errors import InvalidParameter
from hush.engines.awssm.model import AWSCURRENT, AWSPENDING, SecretRecord
from hush.engines.awssm.rotators import (
    RANDOM_ROTATOR,
    RandomPasswordRotator,
    Rotator,
    StepFailed,
    WebhookRotator,
)
from hush.engines.awssm.rotators_postgres import ALTERNATING, SINGLE_USER, PostgresRotator
from hush.engines.awssm.store import SecretStore, SecretValue
from hush.engines.awssm.validate import boolean, client_token, text

__all__ = ["MAX_BACKOFF", "ROTATE", "RotationRunner", "RotationStats", "backoff"]

ROTATE: Final = "rotate"
MAX_BACKOFF: Final = 3600.0
_WEBHOOK_KEY: Final = "config/webhook-key"
_BUILT_IN: Final = (RANDOM_ROTATOR, SINGLE_USER, ALTERNATING)

log = logging.getLogger("hush.engines.awssm.rotation")


@dataclass(slots=True)
class RotationStats:
    """What this node's runner has done since the mount started (for metrics)."""

    successes: int = 0
    failures: int = 0
    failing: set[str] = field(default_factory=set)


def backoff(failures: int) -> float:
    """Seconds before retrying after ``failures`` consecutive failures (60 s doubling, ≤ 1 h)."""
    return float(min(MAX_BACKOFF, 60.0 * 2 ** max(0, failures - 1)))


def _region(arn: str) -> str:
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 else ""


class RotationRunner:
    """Runs and schedules rotations for the secrets of one mount."""

    def __init__(
        self,
        store: SecretStore,
        due: DueIndex,
        env: Callable[[str], ActionEnv],
        ca_file: str | None = None,
        alert_url: str | None = None,
    ) -> None:
        self._store = store
        self._due = due
        self._env = env
        self._ca_file = ca_file
        self._alert_url = alert_url
        self.stats = RotationStats()

    async def webhook_key(self) -> SecretBytes:
        """The mount's webhook signing key (made on first use, kept behind the barrier)."""
        storage = self._store.storage
        key = await storage.get(_WEBHOOK_KEY)
        if key is None:
            key = random_bytes(32)
            await storage.put(_WEBHOOK_KEY, key)
        return SecretBytes(key)

    async def _rotator(self, name: str) -> Rotator:
        if not name or name == RANDOM_ROTATOR:
            return RandomPasswordRotator()
        if name in (SINGLE_USER, ALTERNATING):
            return PostgresRotator(name, self._current_value)
        return WebhookRotator(name, await self.webhook_key(), self._ca_file)

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
        return await self._store.value(name, current.version_id) if current else None

    @staticmethod
    def _check_rotator(name: str) -> None:
        if name in _BUILT_IN or name.startswith("https://"):
            return
        if name.startswith("arn:aws:lambda:"):
            raise Unsupported(
                "Hush cannot run Lambda functions: give an https:// webhook URL as "
                f"RotationLambdaARN, or {RANDOM_ROTATOR} (the default) for random passwords"
            )
        raise InvalidParameter(
            "RotationLambdaARN must be an https:// webhook URL or one of the built-in "
            f"rotators: {', '.join(_BUILT_IN)}"
        )

    # -- actions -----------------------------------------------------------------------------

    async def rotate_secret(
        self, env: ActionEnv, secret_id: str, name: str, body: Body
    ) -> dict[str, Any]:
        """RotateSecret: configure rotation and (by default) rotate now."""
        record = await env.secret(secret_id, name)
        token = client_token(body)
        rotator = text(body, "RotationLambdaARN", max_len=2048)
        immediately = boolean(body, "RotateImmediately", True)
        rules = body.get("RotationRules")
        if rules is not None and not isinstance(rules, dict):
            raise InvalidParameter("RotationRules must be a structure")
        if rotator is not None:
            self._check_rotator(rotator)
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
            answer["VersionId"] = await self.rotate(env, record, token)
        else:
            await self._schedule(record, env.now)
            await self._store.touch(record)
        return answer

    async def cancel_rotate_secret(
        self, env: ActionEnv, secret_id: str, name: str, body: Body
    ) -> dict[str, Any]:
        """CancelRotateSecret: turn automatic rotation off (AWSPENDING stays, as in AWS)."""
        record = await env.secret(secret_id, name)
        await self._unschedule(record)
        record.rotation.enabled = False
        record.rotation.next_rotation = 0.0
        await self._store.touch(record)
        answer: dict[str, Any] = identity(record)
        pending = record.version_with(AWSPENDING)
        if pending is not None:
            answer["VersionId"] = pending.version_id
        return answer

    # -- the four steps ----------------------------------------------------------------------

    async def rotate(self, env: ActionEnv, record: SecretRecord, token: str | None) -> str:
        """Run the four steps; returns the new version id (AWSCURRENT only moves on success)."""
        rotator = await self._rotator(record.rotation.rotator)
        current = record.version_with(AWSCURRENT)
        current_value = (
            await self._store.value(record.name, current.version_id) if current else None
        )
        pending = record.version_with(AWSPENDING)
        # An unfinished rotation is reattempted with its pending version (AWS: "A previous
        # rotation isn't complete. That rotation will be reattempted."), whatever the new token.
        version_id = pending.version_id if pending else (token or str(uuid.uuid4()))
        event = {"SecretId": record.arn, "ClientRequestToken": version_id}
        step = "createSecret"
        try:
            if pending is not None:
                value = await self._store.value(record.name, version_id)
                if value is None:
                    raise StepFailed("createSecret: the pending version has no value")
            else:
                value = await rotator.create({**event, "Step": step}, current_value)
                await add_version(env, record, value, version_id, [AWSPENDING])
                await self._store.save(record, new_values={version_id: value})
            for step in ("setSecret", "testSecret", "finishSecret"):
                await rotator.step({**event, "Step": step}, value)
        except StepFailed as exc:
            await self._failed(record, env.now, str(exc))
            return version_id
        record.move_stage(AWSCURRENT, version_id)
        record.remove_stage(AWSPENDING)
        record.rotation.last_rotated = env.now
        record.rotation.failures = 0
        record.rotation.last_error = ""
        record.last_changed = env.now
        await self._schedule(record, env.now)
        dropped = record.prune()
        await self._store.save(record, dropped_versions=dropped)
        self.stats.successes += 1
        self.stats.failing.discard(record.name)
        log.info("rotated secret %s to version %s", record.name, version_id)
        return version_id

    async def _failed(self, record: SecretRecord, now: float, reason: str) -> None:
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
        if self._alert_url:
            await self._alert(record, reason, retry_at)

    async def _alert(self, record: SecretRecord, reason: str, retry_at: float) -> None:
        """POST a signed ``rotationFailed`` event to the mount's ``rotation_alert_url``."""
        if not (self._alert_url or "").startswith("https://"):
            log.warning("rotation_alert_url must be an https:// URL; no alert sent")
            return
        hook = WebhookRotator(self._alert_url or "", await self.webhook_key(), self._ca_file)
        event = {
            "Step": "rotationFailed",
            "SecretId": record.arn,
            "Name": record.name,
            "Failures": record.rotation.failures,
            "Error": reason,
            "NextAttemptDate": retry_at,
        }
        try:
            await hook.notify(event)
        except StepFailed as exc:
            log.warning("rotation alert for secret %s was not delivered: %s", record.name, exc)

    # -- scheduling --------------------------------------------------------------------------

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

    async def run_due(self, entry: DueEntry, now: float) -> None:
        """Rotate the secret ``entry`` names if it is still due (stale entries are dropped)."""
        await self._due.cancel(entry)
        record = await self._store.get(entry.name)
        if (
            record is None
            or record.deleted
            or not record.rotation.enabled
            or int(record.rotation.next_rotation) != entry.due_at
        ):
            return
        record.rotation.next_rotation = 0.0
        await self.rotate(self._env(_region(record.arn)), record, None)
