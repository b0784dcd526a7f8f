"""The ``ssm`` secrets engine: AWS Systems Manager Parameter Store semantics.

The AWS front end maps each ``AmazonSSM.*`` action to logical requests on this mount
(:mod:`hush.api.aws_services.ssm`): ``parameter/<name>`` (read: GetParameter, update:
PutParameter, delete: DeleteParameter), ``history/<name>``, ``labels/<name>``, ``tags/<name>``,
``parameters`` (list: DescribeParameters) and ``by-path/<path>`` (list: GetParametersByPath).
``<name>`` is the parameter name without its leading ``/``, as in the parameter's ARN, so a Vault
policy on ``ssm/parameter/app/*`` grants what an IAM policy on ``parameter/app/*`` would.

Parameter policies act from the mount's due-time index in :meth:`SsmBackend.periodic`: an
Expiration deletes the parameter when due; ExpirationNotification and NoChangeNotification go
through the same alert path as Secrets Manager rotation failures: a warning on the
``hush.engines.ssm`` logger, the ``hush_ssm_policy_notifications_total{mount,policy}`` metric and,
when the mount option ``alert_url`` (https) is set, a signed POST (see
:mod:`hush.core.rotation.alerts`; ``webhook_ca_file`` names the CA bundle, the key is at
``<mount>/alert/webhook-key``).
"""

from __future__ import annotations

import base64
import logging
from collections import Counter
from collections.abc import Sequence

from hush.core.request import Operation, Request, Response
from hush.core.rotation.alerts import AlertSender, webhook_key
from hush.core.rotation.due import DueIndex
from hush.engines.ssm.common import PATH, SsmSettings
from hush.engines.ssm.read_paths import GET_FIELDS, ReadPaths
from hush.engines.ssm.store import ParameterStore
from hush.engines.ssm.write_paths import (
    EXPIRE,
    NO_CHANGE,
    NOTIFY_EXPIRY,
    PUT_FIELDS,
    WritePaths,
)
from hush.framework.backend import Backend, BackendContext
from hush.framework.fields import FieldData
from hush.framework.path import OperationSpec, Path

__all__ = ["SsmBackend"]

log = logging.getLogger("hush.engines.ssm")


class SsmBackend(Backend):
    """Versioned, labelled, tagged parameters with SecureStrings under KMS keys."""

    type_name = "ssm"
    synopsis = "AWS Systems Manager Parameter Store compatible parameters (AWS JSON API)."

    def __init__(self, context: BackendContext) -> None:
        self.settings = SsmSettings(
            ParameterStore(context.storage),
            DueIndex(context.storage),
            region=str(context.options.get("region") or "us-east-1"),
            account=str(context.options.get("account_id") or "000000000000"),
        )
        self.reads = ReadPaths(self.settings)
        self.writes = WritePaths(self.settings)
        self.alerts = AlertSender(
            context.storage,
            context.options.get("alert_url") or None,
            context.options.get("webhook_ca_file") or None,
        )
        #: Notifications this node raised since the mount started, by policy type (metrics).
        self.notifications: Counter[str] = Counter()
        super().__init__(context)

    def paths(self) -> Sequence[Path]:
        """Every ssm endpoint (no two patterns match the same path)."""
        return [
            Path(
                rf"parameter/{PATH}",
                "One parameter (GetParameter, PutParameter, DeleteParameter).",
                {
                    Operation.READ: OperationSpec(self.reads.get, "Read a version."),
                    Operation.UPDATE: OperationSpec(self.writes.put, "Create or overwrite."),
                    Operation.DELETE: OperationSpec(self.writes.delete, "Delete all versions."),
                },
                fields={**GET_FIELDS, **PUT_FIELDS},
            ),
            Path(
                "alert/webhook-key",
                "The key that signs policy notification alerts (X-Hush-Signature).",
                {Operation.READ: OperationSpec(self._webhook_key, "Read the signing key.")},
                description="Alert receivers verify HMAC-SHA256 of '<t>.<body>' with this key.",
            ),
            *self.reads.paths(),
            *self.writes.paths(),
        ]

    async def _webhook_key(self, request: Request, fields: FieldData) -> Response:
        key = await webhook_key(self.storage)
        return Response(data={"key": base64.b64encode(key.reveal()).decode()})

    async def _notify(self, policy: str, name: str, at: int) -> None:
        """Log, count and (if configured) POST a policy notification (no parameter value)."""
        self.notifications[policy] += 1
        what = "expires at" if policy == "ExpirationNotification" else "has not changed since"
        log.warning("ssm parameter %s %s %d (%s)", name, what, at, policy)
        await self.alerts.send(
            {
                "Step": policy,
                "Name": name,
                "ARN": self.settings.arn(name),
                "ExpirationDate" if policy == "ExpirationNotification" else "LastModifiedDate": at,
            }
        )

    async def periodic(self, now: float) -> None:
        """Apply due parameter policies (expire, notify)."""
        store, due = self.settings.store, self.settings.due
        for entry in await due.due(now):
            parameter = await store.get(entry.name)
            latest = parameter.latest if parameter is not None else None
            expiration = latest.policy("Expiration") if latest is not None else None
            if entry.kind == EXPIRE:
                if expiration is not None and int(expiration.at) == entry.due_at:
                    await store.delete(entry.name)
                    log.info("ssm parameter expired and was deleted: %s", entry.name)
            elif entry.kind == NOTIFY_EXPIRY:
                if expiration is not None and latest is not None:
                    await self._notify("ExpirationNotification", entry.name, int(expiration.at))
            elif entry.kind == NO_CHANGE and latest is not None:
                policy = latest.policy("NoChangeNotification")
                if policy is not None and int(latest.modified + policy.offset) == entry.due_at:
                    await self._notify("NoChangeNotification", entry.name, int(latest.modified))
            await due.cancel(entry)
