"""Reporting a failed rotation step: an audit entry and, if configured, a signed alert."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from hush.core.rotation.alerts import AlertSender
from hush.engines.awssm.model import SecretRecord

__all__ = ["AuditEvent", "FailureReporter"]

log = logging.getLogger("hush.engines.awssm.rotation")

#: Writes an audit entry for an event of the mount: ``(event, data, error)``.
AuditEvent = Callable[[str, dict[str, Any], str], Awaitable[None]]


class FailureReporter:
    """Tells the operator a rotation failed (the log line is the runner's)."""

    def __init__(self, alerts: AlertSender, audit: AuditEvent | None) -> None:
        self._alerts = alerts
        self._audit = audit

    async def report(self, record: SecretRecord, reason: str, retry_at: float) -> None:
        """Audit the failure, then POST the alert when the mount has a ``rotation_alert_url``."""
        await self._audit_failure(record, reason, retry_at)
        if self._alerts.url:
            await self._alert(record, reason, retry_at)

    async def _audit_failure(self, record: SecretRecord, reason: str, retry_at: float) -> None:
        """A ``rotation-failed`` audit entry (names and counts only; the reason is value-free)."""
        if self._audit is None:
            return
        data = {
            "secret_id": record.arn,
            "name": record.name,
            "failures": record.rotation.failures,
            "next_attempt": retry_at,
        }
        try:
            await self._audit("rotation-failed", data, reason)
        except Exception as exc:  # no device could record it: the runner's log line still stands
            log.warning(
                "rotation failure of secret %s not audited: %s", record.name, type(exc).__name__
            )

    async def _alert(self, record: SecretRecord, reason: str, retry_at: float) -> None:
        """POST a signed ``rotationFailed`` event to the mount's ``rotation_alert_url``."""
        await self._alerts.send(
            {
                "Step": "rotationFailed",
                "SecretId": record.arn,
                "Name": record.name,
                "Failures": record.rotation.failures,
                "Error": reason,
                "NextAttemptDate": retry_at,
            }
        )
