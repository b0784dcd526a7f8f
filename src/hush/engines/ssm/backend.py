"""The ``ssm`` secrets engine: AWS Systems Manager Parameter Store semantics.

The AWS front end maps each ``AmazonSSM.*`` action to logical requests on this mount
(:mod:`hush.api.aws_services.ssm`): ``parameter/<name>`` (read: GetParameter, update:
PutParameter, delete: DeleteParameter), ``history/<name>``, ``labels/<name>``, ``tags/<name>``,
``parameters`` (list: DescribeParameters) and ``by-path/<path>`` (list: GetParametersByPath).
``<name>`` is the parameter name without its leading ``/``, as in the parameter's ARN, so a Vault
policy on ``ssm/parameter/app/*`` grants what an IAM policy on ``parameter/app/*`` would.

Parameter policies act from the mount's due-time index in :meth:`SsmBackend.periodic`: an
Expiration deletes the parameter when due; ExpirationNotification and NoChangeNotification are
logged as warnings on the ``hush.engines.ssm`` logger (Hush has no event bus for engines yet).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from hush.core.request import Operation
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
            *self.reads.paths(),
            *self.writes.paths(),
        ]

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
                    log.warning(
                        "ssm parameter %s expires at %d (ExpirationNotification)",
                        entry.name,
                        int(expiration.at),
                    )
            elif entry.kind == NO_CHANGE and latest is not None:
                policy = latest.policy("NoChangeNotification")
                if policy is not None and int(latest.modified + policy.offset) == entry.due_at:
                    log.warning(
                        "ssm parameter %s has not changed since %d (NoChangeNotification)",
                        entry.name,
                        int(latest.modified),
                    )
            await due.cancel(entry)
