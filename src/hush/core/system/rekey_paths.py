"""``sys/rekey/*`` and ``sys/rekey-recovery-key/*``: the same flow for two kinds of shares.

``sys/rekey`` replaces the Shamir unseal key and its shares; ``sys/rekey-recovery-key`` replaces
the recovery key of an auto-unseal store (current recovery shares in, new ones out), as in Vault.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hush.core.errors import InvalidRequest
from hush.core.rekey import RekeyOperation
from hush.core.request import Request, Response
from hush.core.system.common import ops
from hush.framework.fields import Field, FieldData, FieldType
from hush.framework.path import Path

if TYPE_CHECKING:
    from hush.core.system.keys import KeyOperations

__all__ = ["RekeyEndpoints"]


class RekeyEndpoints:
    """One rekey flow (``init``, ``update``, ``verify``) and its attempt in progress."""

    def __init__(self, keys: KeyOperations, prefix: str, *, recovery: bool) -> None:
        self.keys = keys
        self.prefix = prefix
        self.recovery = recovery
        self.operation: RekeyOperation | None = None

    def _current(self) -> RekeyOperation:
        self.keys.unsealed()
        if self.operation is None:
            raise InvalidRequest("no rekey in progress")
        return self.operation

    def paths(self) -> list[Path]:
        """The three endpoints under ``sys/<prefix>/``."""
        from hush.core.system.keys import CANCEL_NONCE, SHARE_FIELDS, share_field

        keys, core, prefix = self.keys, self.keys.core, self.prefix

        async def rekey_status(request: Request, fields: FieldData) -> Response:
            """Progress of the rekey in progress, if any."""
            keys.unsealed()
            if self.operation is None:
                return Response(
                    raw_body={
                        "nonce": "",
                        "started": False,
                        "t": 0,
                        "n": 0,
                        "progress": 0,
                        "required": 0,
                        "pgp_fingerprints": None,
                        "backup": False,
                        "verification_required": False,
                    }
                )
            return Response(raw_body=self.operation.status())

        async def rekey_start(request: Request, fields: FieldData) -> Response:
            """Start a rekey: choose the new share count and threshold."""
            keys.unsealed()
            if self.operation is not None:
                raise InvalidRequest("rekey already in progress")
            self.operation = RekeyOperation.start(
                core,
                {
                    "secret_shares": fields.integer("secret_shares"),
                    "secret_threshold": fields.integer("secret_threshold"),
                    "pgp_keys": fields.strings("pgp_keys"),
                    "backup": fields.boolean("backup"),
                    "require_verification": fields.boolean("require_verification"),
                },
                recovery=self.recovery,
            )
            return Response(raw_body=self.operation.status())

        async def rekey_cancel(request: Request, fields: FieldData) -> None:
            """Cancel the rekey in progress (its nonce or sudo); the current shares stay valid."""
            keys.unsealed()
            if self.operation is not None:
                await keys.check_cancel(request, fields, self.operation.collector.nonce)
            self.operation = None

        async def rekey_update(request: Request, fields: FieldData) -> Response:
            """Submit one current unseal share toward the rekey."""
            operation = self._current()
            body = await operation.update(share_field(fields), fields.string("nonce"))
            if body.get("complete") and not operation.require_verification:
                self.operation = None
            return Response(raw_body=body)

        async def verify_status(request: Request, fields: FieldData) -> Response:
            """Progress of the verification of new shares."""
            return Response(raw_body=self._current().verify_status())

        async def verify_update(request: Request, fields: FieldData) -> Response:
            """Submit one *new* share to confirm the rekey."""
            operation = self._current()
            body = await operation.verify(share_field(fields), fields.string("nonce"))
            if body.get("complete"):
                self.operation = None
            return Response(raw_body=body)

        async def verify_cancel(request: Request, fields: FieldData) -> Response:
            """Restart verification of the new shares from zero (its nonce or sudo)."""
            operation = self._current()
            await keys.check_cancel(request, fields, operation.verification_nonce)
            operation.cancel_verification()
            return Response(raw_body=operation.verify_status())

        return [
            Path(
                f"{prefix}/init",
                "Start, inspect or cancel a rekey of the unseal key.",
                ops(read=rekey_status, update=rekey_start, delete=rekey_cancel),
                fields={
                    "secret_shares": Field(FieldType.INT, "Number of new shares.", default=0),
                    "secret_threshold": Field(FieldType.INT, "New threshold.", default=0),
                    "pgp_keys": Field(FieldType.COMMA_STRING_LIST, "Not supported yet."),
                    "backup": Field(FieldType.BOOL, "Not supported yet."),
                    "require_verification": Field(
                        FieldType.BOOL,
                        "Install the new key only after the new shares are "
                        f"proven by sys/{prefix}/verify.",
                    ),
                    "nonce": CANCEL_NONCE,
                },
            ),
            Path(
                f"{prefix}/update",
                "Submit a current share toward the rekey.",
                ops(update=rekey_update),
                fields=SHARE_FIELDS,
            ),
            Path(
                f"{prefix}/verify",
                "Verify the new shares before they take effect.",
                ops(read=verify_status, update=verify_update, delete=verify_cancel),
                fields=SHARE_FIELDS,
            ),
        ]
