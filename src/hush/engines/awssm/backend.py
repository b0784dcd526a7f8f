"""The ``awssm`` secrets engine: Secrets Manager semantics behind Hush's pipeline.

The AWS front end maps each Secrets Manager action to a logical request on this mount
(:mod:`hush.api.aws_services.secretsmanager`) carrying ``aws_action``, ``aws_region`` and the
action's JSON body as ``aws_request``; this backend checks the action fits the operation the ACL
allowed and runs its handler. Through the Vault API the mount is read-only: ``GET
awssm/secrets/<name>`` shows the AWSCURRENT value and ``LIST awssm/secrets`` the names.

Deleted secrets are purged by :meth:`AwssmBackend.periodic` once their recovery window ends, from
the mount's due-time index; scheduled rotation runs from the same index.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final

from hush.core.errors import InvalidRequest
from hush.core.request import Operation, Request, Response
from hush.core.rotation.due import DueIndex
from hush.engines.awssm import describe, listing, manage, password, values
from hush.engines.awssm.env import ActionEnv, Body
from hush.engines.awssm.errors import SerializationError
from hush.engines.awssm.keys import on_behalf_of
from hush.engines.awssm.model import AWSCURRENT
from hush.engines.awssm.rotation import RotationRunner
from hush.engines.awssm.store import SecretStore
from hush.engines.awssm.validate import text
from hush.framework.backend import Backend, BackendContext
from hush.framework.fields import Field, FieldData, FieldType
from hush.framework.path import OperationSpec, Path

__all__ = ["DEFAULT_ACCOUNT_ID", "AwssmBackend"]

DEFAULT_ACCOUNT_ID: Final = "000000000000"
DEFAULT_REGION: Final = "us-east-1"
PURGE: Final = "purge"

SecretHandler = Callable[[ActionEnv, str, str, Body], Awaitable[dict[str, Any]]]

_WRITE: Final = frozenset({Operation.CREATE, Operation.UPDATE})
_READ: Final = frozenset({Operation.READ})
_NAMES_KEY: Final = frozenset({"CreateSecret", "UpdateSecret"})

_FIELDS: Final = {
    "aws_action": Field(FieldType.STRING, "The Secrets Manager action (set by the AWS API)."),
    "aws_region": Field(FieldType.STRING, "The region the request was signed for."),
    "aws_request": Field(FieldType.RAW, "The action's JSON request body."),
}

Handler = Callable[[Request, FieldData], Awaitable[Response | None]]


def _as_caller(handler: Handler) -> Handler:
    """``handler`` with KMS keys used under the request's caller's permissions."""

    async def run(request: Request, fields: FieldData) -> Response | None:
        with on_behalf_of(request):
            return await handler(request, fields)

    return run


class AwssmBackend(Backend):
    """Secrets with versions, staging labels, tags, deletion windows and rotation."""

    type_name = "awssm"
    synopsis = "AWS Secrets Manager compatible secrets (served on the AWS JSON API)."

    def __init__(self, context: BackendContext) -> None:
        super().__init__(context)
        self.secrets = SecretStore(self.storage, context.system)
        self.due = DueIndex(self.storage)
        self.account_id = str(context.options.get("account_id") or DEFAULT_ACCOUNT_ID)
        self.clock: Callable[[], float] = time.time
        self.rotation = RotationRunner(
            self.secrets,
            self.due,
            self.env,
            ca_file=context.options.get("webhook_ca_file") or None,
            alert_url=context.options.get("rotation_alert_url") or None,
            audit=self._audit_event,
        )
        self._secret_actions: dict[str, tuple[frozenset[Operation], SecretHandler]] = {
            "GetSecretValue": (_READ, values.get_secret_value),
            "DescribeSecret": (_READ, describe.describe_secret),
            "ListSecretVersionIds": (_READ, describe.list_secret_version_ids),
            "GetResourcePolicy": (_READ, manage.get_resource_policy),
            "PutSecretValue": (_WRITE, values.put_secret_value),
            "UpdateSecret": (_WRITE, values.update_secret),
            "UpdateSecretVersionStage": (_WRITE, manage.update_secret_version_stage),
            "TagResource": (_WRITE, manage.tag_resource),
            "UntagResource": (_WRITE, manage.untag_resource),
            "RestoreSecret": (_WRITE, self._restore),
            "PutResourcePolicy": (_WRITE, manage.put_resource_policy),
            "DeleteResourcePolicy": (_WRITE, manage.delete_resource_policy),
            "RotateSecret": (_WRITE, self.rotation.rotate_secret),
            "CancelRotateSecret": (_WRITE, self.rotation.cancel_rotate_secret),
            "DeleteSecret": (frozenset({Operation.DELETE}), self._delete),
        }

    async def _audit_event(self, event: str, data: dict[str, Any], error: str) -> None:
        """An audit entry for ``event`` of this mount (nothing when not mounted in a core)."""
        system = self.context.system
        if system is not None:
            await system.audit_event(self.context.mount_path, event, data, error)

    def env(self, region: str = DEFAULT_REGION, kms_key: str | None = None) -> ActionEnv:
        """The surroundings of one action."""
        return ActionEnv(
            self.secrets, region or DEFAULT_REGION, self.account_id, self.clock(), kms_key
        )

    def paths(self) -> Sequence[Path]:
        """The logical endpoints the AWS front end maps actions onto."""
        return [
            Path(
                "secrets/?",
                "List secrets (ListSecrets).",
                {Operation.LIST: OperationSpec(self._list, "List secrets.")},
                _FIELDS,
            ),
            Path(
                r"secrets/(?P<name>.+)",
                "One secret: its value, metadata, labels, tags and rotation.",
                {
                    Operation.CREATE: OperationSpec(
                        _as_caller(self._write), "CreateSecret and friends."
                    ),
                    Operation.UPDATE: OperationSpec(_as_caller(self._write), "Change a secret."),
                    Operation.READ: OperationSpec(_as_caller(self._read), "Read a secret."),
                    Operation.DELETE: OperationSpec(_as_caller(self._write), "DeleteSecret."),
                },
                {**_FIELDS, "name": Field(FieldType.STRING, "The secret's name.")},
                exists=self._exists,
                description="Through the Vault API a GET shows the AWSCURRENT value.",
            ),
            Path(
                "rotation/webhook-key",
                "The key that signs rotation webhook calls (X-Hush-Signature).",
                {Operation.READ: OperationSpec(self._webhook_key, "Read the signing key.")},
                description="Webhook endpoints verify HMAC-SHA256 of '<t>.<body>' with this key.",
            ),
            Path(
                "random-password",
                "GetRandomPassword.",
                {Operation.UPDATE: OperationSpec(self._random, "Generate a password.")},
                _FIELDS,
            ),
            Path(
                "validate-resource-policy",
                "ValidateResourcePolicy.",
                {Operation.UPDATE: OperationSpec(self._validate_policy, "Check a policy.")},
                _FIELDS,
            ),
        ]

    # -- helpers -----------------------------------------------------------------------------

    @staticmethod
    def _body(fields: FieldData) -> Body:
        body = fields.raw("aws_request")
        if body is None:
            return {}
        if not isinstance(body, dict):
            raise SerializationError("The request body must be a JSON object")
        return body

    @staticmethod
    def _aws(data: dict[str, Any]) -> Response:
        return Response(raw_body=data)

    async def _exists(self, request: Request, fields: FieldData) -> bool:
        return await self.secrets.get(fields.string("name")) is not None

    # -- handlers ----------------------------------------------------------------------------

    async def _write(self, request: Request, fields: FieldData) -> Response:
        action = fields.string("aws_action")
        if not action:
            raise InvalidRequest(
                "the awssm engine is written through the Secrets Manager API (X-Amz-Target); "
                "through the Vault API it is read-only"
            )
        name = fields.string("name")
        body = self._body(fields)
        kms_key = None
        if action in _NAMES_KEY:
            # Resolved outside the lock: naming an AWS-managed alias may create its key (which
            # takes the transit mount's lock, and storage locks do not nest).
            reference = text(body, "KmsKeyId", max_len=2048)
            if reference is not None:
                kms_key = await self.secrets.cipher.key_id(reference)
        elif action == "RotateSecret":
            await self.rotation.refuse_if_started(name)
        env = self.env(fields.string("aws_region"), kms_key)
        # Writes to one secret are serialised: each is a read-modify-write of its record.
        async with self.secrets.lock(name):
            if action == "CreateSecret":
                if request.operation not in _WRITE:
                    raise InvalidRequest("CreateSecret is a write")
                return self._aws(await values.create_secret(env, name, body))
            return self._aws(await self._secret_action(request, env, action, name, body))

    async def _secret_action(
        self, request: Request, env: ActionEnv, action: str, name: str, body: Body
    ) -> dict[str, Any]:
        entry = self._secret_actions.get(action)
        if entry is None:
            raise InvalidRequest(f"unknown Secrets Manager action {action!r}")
        operations, handler = entry
        if request.operation not in operations:
            raise InvalidRequest(f"{action} cannot be sent as a {request.operation.value}")
        secret_id = body.get("SecretId")
        return await handler(env, secret_id if isinstance(secret_id, str) else name, name, body)

    async def _read(self, request: Request, fields: FieldData) -> Response | None:
        action = fields.string("aws_action")
        name = fields.string("name")
        if action:
            env = self.env(fields.string("aws_region"))
            return self._aws(
                await self._secret_action(request, env, action, name, self._body(fields))
            )
        # The Vault API's read-only view: the AWSCURRENT value and the labels.
        record = await self.secrets.get(name)
        if record is None or record.deleted:
            return None
        version = record.version_with(AWSCURRENT)
        data: dict[str, Any] = {
            "name": record.name,
            "arn": record.arn,
            "description": record.description,
            "version_ids_to_stages": record.stage_map(),
            "created_date": int(record.created),
            "rotation": {
                "enabled": record.rotation.enabled,
                "rotator": record.rotation.rotator
                or ("" if not record.rotation.enabled else "hush:random-password"),
                "rules": record.rotation.rules or None,
                "next_rotation": int(record.rotation.next_rotation) or None,
                "last_rotated": int(record.rotation.last_rotated) or None,
                "failures": record.rotation.failures,
                "last_error": record.rotation.last_error,
            },
        }
        if version is not None:
            value = await self.secrets.value(record, version.version_id)
            if value is not None:
                data["version_id"] = version.version_id
                data.update(
                    {"secret_string": value.string}
                    if value.string is not None
                    else {"secret_binary": value.wire()["SecretBinary"]}
                )
        return Response(data=data)

    async def _list(self, request: Request, fields: FieldData) -> Response | None:
        if fields.string("aws_action"):
            return self._aws(
                await listing.list_secrets(
                    self.env(fields.string("aws_region")), self._body(fields)
                )
            )
        names = []
        for name in sorted(await self.secrets.names()):
            record = await self.secrets.get(name)
            if record is not None and not record.deleted:
                names.append(name)
        return Response(data={"keys": names}) if names else None

    async def _webhook_key(self, request: Request, fields: FieldData) -> Response:
        key = await self.rotation.webhook_key()
        return Response(data={"key": base64.b64encode(key.reveal()).decode()})

    async def _random(self, request: Request, fields: FieldData) -> Response:
        return self._aws(password.get_random_password(self._body(fields)))

    async def _validate_policy(self, request: Request, fields: FieldData) -> Response:
        return self._aws(manage.validate_resource_policy(self._body(fields)))

    async def _delete(
        self, env: ActionEnv, secret_id: str, name: str, body: Body
    ) -> dict[str, Any]:
        answer = await manage.delete_secret(env, secret_id, name, body)
        record = await self.secrets.get(name)
        if record is not None and record.deleted:
            await self.due.schedule(record.deleted_date, PURGE, name)
        return answer

    async def _restore(
        self, env: ActionEnv, secret_id: str, name: str, body: Body
    ) -> dict[str, Any]:
        # The purge entry stays in the index; the sweep skips secrets no longer deleted.
        return await manage.restore_secret(env, secret_id, name, body)

    # -- background --------------------------------------------------------------------------

    async def cleanup(self) -> None:
        """Stop this process's background rotations (their due entries resume them later)."""
        await self.rotation.stop()

    async def periodic(self, now: float) -> None:
        """Purge secrets whose recovery window has passed; run due rotations."""
        for entry in await self.due.due(now):
            if entry.kind != PURGE:
                await self.rotation.run_due(entry, now)  # takes the secret's lock as it needs
                continue
            async with self.secrets.lock(entry.name):
                record = await self.secrets.get(entry.name)
                if record is not None and record.deleted and record.deleted_date <= now:
                    await self.secrets.purge(record)
                await self.due.cancel(entry)
