"""KMS key lifecycle on a transit mount: enable/disable, automatic and on-demand rotation, and
the deletion schedule (``kms/keys/<id>/{enabled,rotation,rotate,deletion}``).

Rotation settings are the transit key's ``auto_rotate_period``, so the scheduler that rotates
transit keys rotates KMS keys too; keys whose deletion date has passed are destroyed by
:meth:`KmsStatePaths.delete_due` from the transit backend's ``periodic``.
"""

from __future__ import annotations

import time
from typing import Any

from hush.core.errors import InvalidRequest
from hush.core.request import Operation, Request, Response
from hush.engines.transit.kms_common import KEY_ID, KEY_ID_FIELD, KmsSettings
from hush.engines.transit.kms_errors import KeyInvalidState, UnsupportedOperation
from hush.engines.transit.kms_model import DAY, DISABLED, ENABLED, PENDING_DELETION, KmsKey
from hush.engines.transit.store import generate_version
from hush.framework.fields import Field, FieldData, FieldType
from hush.framework.path import OperationSpec, Path

__all__ = ["KmsStatePaths"]

_DELETE = "kms-delete"


class KmsStatePaths:
    """The key state endpoints of the KMS layer."""

    def __init__(self, settings: KmsSettings) -> None:
        self.settings = settings
        self.store = settings.store

    def _arn(self, key_id: str) -> str:
        return f"arn:aws:kms:{self.settings.region}:{self.settings.account}:key/{key_id}"

    def paths(self) -> list[Path]:
        """The declared paths."""
        key_fields = {"KeyId": KEY_ID_FIELD}
        return [
            Path(
                rf"kms/keys/{KEY_ID}/enabled",
                "Enable or disable the key (EnableKey, DisableKey).",
                {Operation.UPDATE: OperationSpec(self.set_enabled, "Enable or disable.")},
                fields={**key_fields, "Enabled": Field(FieldType.BOOL, "New state.", True)},
            ),
            Path(
                rf"kms/keys/{KEY_ID}/rotation",
                "Automatic rotation (GetKeyRotationStatus, Enable/DisableKeyRotation).",
                {
                    Operation.READ: OperationSpec(self.rotation_status, "Rotation status."),
                    Operation.UPDATE: OperationSpec(self.set_rotation, "Configure rotation."),
                },
                fields={
                    **key_fields,
                    "Enabled": Field(FieldType.BOOL, "Rotate automatically.", True),
                    "RotationPeriodInDays": Field(FieldType.INT, "90-2560 days.", 365),
                },
            ),
            Path(
                rf"kms/keys/{KEY_ID}/rotate",
                "Rotate the key material now (RotateKeyOnDemand).",
                {Operation.UPDATE: OperationSpec(self.rotate_now, "Rotate now.")},
                fields=key_fields,
            ),
            Path(
                rf"kms/keys/{KEY_ID}/deletion",
                "Deletion schedule (ScheduleKeyDeletion, CancelKeyDeletion).",
                {
                    Operation.UPDATE: OperationSpec(self.schedule_deletion, "Schedule deletion."),
                    Operation.DELETE: OperationSpec(self.cancel_deletion, "Cancel deletion."),
                },
                fields={
                    **key_fields,
                    "PendingWindowInDays": Field(FieldType.INT, "7-30 days.", 30),
                },
            ),
        ]

    async def set_enabled(self, request: Request, fields: FieldData) -> None:
        """EnableKey / DisableKey."""
        state = ENABLED if fields.boolean("Enabled") else DISABLED
        await self.store.change(fields.string("KeyId"), lambda k: k.replace(state=state))

    async def _symmetric(self, fields: FieldData) -> KmsKey:
        key = await self.store.require(fields.string("KeyId"))
        if key.spec != "SYMMETRIC_DEFAULT":
            raise UnsupportedOperation(
                f"{self._arn(key.key_id)} origin is AWS_KMS which is not valid for this operation."
            )
        return key

    async def rotation_status(self, request: Request, fields: FieldData) -> Response:
        """GetKeyRotationStatus."""
        key = await self.store.require(fields.string("KeyId"))
        key.require_not_pending_deletion()
        data: dict[str, Any] = {
            "KeyId": self._arn(key.key_id),
            "KeyRotationEnabled": key.rotation_enabled,
        }
        if key.rotation_enabled:
            data["RotationPeriodInDays"] = key.rotation_period_days
            policy = await self.store.material(key)
            latest = policy.version(policy.latest_version).created
            data["NextRotationDate"] = latest + policy.auto_rotate_period
        return Response(data=data)

    async def set_rotation(self, request: Request, fields: FieldData) -> None:
        """EnableKeyRotation / DisableKeyRotation (the transit key's ``auto_rotate_period``)."""
        key = await self._symmetric(fields)
        key.require_usable()
        enabled = fields.boolean("Enabled")
        days = fields.integer("RotationPeriodInDays")
        if enabled and not 90 <= days <= 2560:
            raise InvalidRequest(
                "1 validation error detected: Value at 'rotationPeriodInDays' failed to satisfy "
                "constraint: Member must have value between 90 and 2560"
            )
        period = days * DAY if enabled else 0
        async with self.store.keys.lock(key.key_id):
            policy = await self.store.material(key)
            await self.store.keys.put(policy.configured(auto_rotate_period=period))
            current = await self.store.require(key.key_id)
            await self.store.put(
                current.replace(rotation_enabled=enabled, rotation_period_days=days)
            )

    async def rotate_now(self, request: Request, fields: FieldData) -> Response:
        """RotateKeyOnDemand: a new transit version; older blobs still decrypt."""
        key = await self._symmetric(fields)
        key.require_usable()
        new = await generate_version(key.key_spec.transit_type)
        async with self.store.keys.lock(key.key_id):
            policy = await self.store.material(key)
            await self.store.keys.put(policy.rotated(new))
        return Response(data={"KeyId": key.key_id})

    async def schedule_deletion(self, request: Request, fields: FieldData) -> Response:
        """ScheduleKeyDeletion: PendingDeletion until now + 7..30 days."""
        days = fields.integer("PendingWindowInDays")
        if not 7 <= days <= 30:
            raise InvalidRequest(
                "1 validation error detected: Value at 'pendingWindowInDays' failed to satisfy "
                "constraint: Member must have value between 7 and 30"
            )
        when = time.time() + days * DAY
        key = await self.store.change(
            fields.string("KeyId"),
            lambda k: k.replace(
                state=PENDING_DELETION, deletion_date=when, pending_window_days=days
            ),
        )
        # Found by the sweep without loading every key (a cancelled entry is skipped there).
        await self.settings.due.schedule(when, _DELETE, key.key_id)
        return Response(
            data={
                "KeyId": self._arn(key.key_id),
                "DeletionDate": when,
                "KeyState": PENDING_DELETION,
                "PendingWindowInDays": days,
            }
        )

    async def cancel_deletion(self, request: Request, fields: FieldData) -> Response:
        """CancelKeyDeletion: the key comes back Disabled, as in AWS."""

        def cancel(key: KmsKey) -> KmsKey:
            if key.state != PENDING_DELETION:
                raise KeyInvalidState(f"{key.arn_suffix} is not pending deletion.")
            return key.replace(state=DISABLED, deletion_date=None, pending_window_days=None)

        key = await self.store.change(fields.string("KeyId"), cancel, pending_ok=True)
        return Response(data={"KeyId": self._arn(key.key_id)})

    async def delete_due(self, now: float) -> list[str]:
        """Destroy every key whose deletion date has passed (from the mount's due-time index);
        returns their ids."""
        deleted = []
        for entry in await self.settings.due.due(now):
            key = await self.store.get(entry.name) if entry.kind == _DELETE else None
            scheduled = key.deletion_date if key is not None else None
            if key is not None and scheduled is not None and int(scheduled) == entry.due_at:
                await self.store.destroy(key)
                deleted.append(key.key_id)
            await self.settings.due.cancel(entry)
        return deleted
