"""``sys/key-status``, ``sys/rotate``, ``sys/rekey/*`` and ``sys/generate-root/*``.

The rekey and root-generation endpoints need no token (a quorum of share holders may have none).
Cancelling is where Hush is stricter than Vault: ``DELETE`` of an attempt in progress needs that
attempt's ``nonce`` (query parameter), or a token with ``sudo`` on the path, so that a caller who
knows neither cannot throw away the shares an operator has gathered.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from hush.core.errors import InvalidRequest, PermissionDenied, Sealed
from hush.core.generate_root import OTP_LENGTH, GenerateRootOperation
from hush.core.rekey import RekeyOperation
from hush.core.request import Operation, Request, Response
from hush.core.shares import decode_share
from hush.core.system.common import ops
from hush.crypto import constant_time_equal
from hush.framework.fields import Field, FieldData, FieldType
from hush.framework.path import Path

if TYPE_CHECKING:
    from hush.core.core import Core

__all__ = ["KeyOperations"]

_SHARE_FIELDS = {
    "key": Field(FieldType.STRING, "One unseal key share, hex or base64.", sensitive=True),
    "nonce": Field(FieldType.STRING, "Nonce of the operation in progress."),
}
_CANCEL_NONCE = Field(
    FieldType.STRING,
    "Nonce of the attempt to cancel (DELETE); not needed with a token that has sudo here.",
)


def _iso(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).isoformat().replace("+00:00", "Z")


def _share(fields: FieldData) -> Any:
    if not fields.string("key"):
        raise InvalidRequest("'key' must be specified in request body as JSON")
    return decode_share(fields.string("key"))


class KeyOperations:
    """Holds the node's in-progress rekey and root-generation attempts and declares their paths."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.rekey: RekeyOperation | None = None
        self.generate_root: GenerateRootOperation | None = None

    def _unsealed(self) -> None:
        if self.core.sealed:
            raise Sealed

    def _rekey(self) -> RekeyOperation:
        self._unsealed()
        if self.rekey is None:
            raise InvalidRequest("no rekey in progress")
        return self.rekey

    def _root(self) -> GenerateRootOperation:
        self._unsealed()
        if self.generate_root is None:
            raise InvalidRequest("no root generation in progress")
        return self.generate_root

    async def _check_cancel(self, request: Request, fields: FieldData, nonce: str) -> None:
        """Refuse a cancel that names neither the attempt's nonce nor comes from a sudo token."""
        given = fields.string("nonce")
        if given and constant_time_equal(given, nonce):
            return
        try:
            entry = await self.core.authenticate(request)
        except PermissionDenied:
            entry = None
        if entry is not None:
            acl = await self.core.acl_for(entry)
            decision = acl.check(request.path, Operation.DELETE)
            if decision.root or (decision.allowed and decision.sudo):
                return
        raise InvalidRequest(
            "cancelling needs the nonce of the operation in progress (?nonce=...) "
            "or a token with sudo on this path"
        )

    def paths(self) -> list[Path]:
        """The key-management endpoints of the system backend."""
        core = self.core

        async def key_status(request: Request, fields: FieldData) -> Response:
            """The active encryption key term and when it was installed."""
            status = core.barrier.key_status()
            data = {
                "term": status.term,
                "install_time": _iso(status.install_time),
                "encryptions": 0,
            }
            return Response(data=data, flatten=True)

        async def rotate(request: Request, fields: FieldData) -> None:
            """Add a new encryption key term; older terms still decrypt."""
            await core.cluster_sync.rotate_keyring()

        async def rekey_status(request: Request, fields: FieldData) -> Response:
            """Progress of the rekey in progress, if any."""
            self._unsealed()
            if self.rekey is None:
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
            return Response(raw_body=self.rekey.status())

        async def rekey_start(request: Request, fields: FieldData) -> Response:
            """Start a rekey: choose the new share count and threshold."""
            self._unsealed()
            if self.rekey is not None:
                raise InvalidRequest("rekey already in progress")
            self.rekey = RekeyOperation.start(
                core,
                {
                    "secret_shares": fields.integer("secret_shares"),
                    "secret_threshold": fields.integer("secret_threshold"),
                    "pgp_keys": fields.strings("pgp_keys"),
                    "backup": fields.boolean("backup"),
                    "require_verification": fields.boolean("require_verification"),
                },
            )
            return Response(raw_body=self.rekey.status())

        async def rekey_cancel(request: Request, fields: FieldData) -> None:
            """Cancel the rekey in progress (its nonce or sudo); the current shares stay valid."""
            self._unsealed()
            if self.rekey is not None:
                await self._check_cancel(request, fields, self.rekey.collector.nonce)
            self.rekey = None

        async def rekey_update(request: Request, fields: FieldData) -> Response:
            """Submit one current unseal share toward the rekey."""
            operation = self._rekey()
            body = await operation.update(_share(fields), fields.string("nonce"))
            if body.get("complete") and not operation.require_verification:
                self.rekey = None
            return Response(raw_body=body)

        async def verify_status(request: Request, fields: FieldData) -> Response:
            """Progress of the verification of new shares."""
            return Response(raw_body=self._rekey().verify_status())

        async def verify_update(request: Request, fields: FieldData) -> Response:
            """Submit one *new* share to confirm the rekey."""
            operation = self._rekey()
            body = await operation.verify(_share(fields), fields.string("nonce"))
            if body.get("complete"):
                self.rekey = None
            return Response(raw_body=body)

        async def verify_cancel(request: Request, fields: FieldData) -> Response:
            """Restart verification of the new shares from zero (its nonce or sudo)."""
            operation = self._rekey()
            await self._check_cancel(request, fields, operation.verification_nonce)
            operation.cancel_verification()
            return Response(raw_body=operation.verify_status())

        async def root_status(request: Request, fields: FieldData) -> Response:
            """Progress of the root-token generation in progress, if any."""
            self._unsealed()
            if self.generate_root is None:
                return Response(
                    raw_body={
                        "started": False,
                        "nonce": "",
                        "progress": 0,
                        "required": core.seal_config.secret_threshold if core.seal_config else 0,
                        "complete": False,
                        "encoded_token": "",
                        "encoded_root_token": "",
                        "pgp_fingerprint": "",
                        "otp": "",
                        "otp_length": OTP_LENGTH,
                    }
                )
            return Response(raw_body=self.generate_root.status())

        async def root_start(request: Request, fields: FieldData) -> Response:
            """Start generating a root token; returns the OTP when Hush chose it."""
            self._unsealed()
            if self.generate_root is not None:
                raise InvalidRequest("root generation already in progress")
            self.generate_root = GenerateRootOperation.start(
                core, {"otp": fields.raw("otp"), "pgp_key": fields.string("pgp_key")}
            )
            return Response(raw_body=self.generate_root.status(include_otp=True))

        async def root_cancel(request: Request, fields: FieldData) -> None:
            """Cancel the root-token generation in progress (its nonce or sudo)."""
            self._unsealed()
            if self.generate_root is not None:
                await self._check_cancel(request, fields, self.generate_root.collector.nonce)
            self.generate_root = None

        async def root_update(request: Request, fields: FieldData) -> Response:
            """Submit one unseal share toward the root token."""
            operation = self._root()
            body = await operation.update(_share(fields), fields.string("nonce"))
            if body["complete"]:
                self.generate_root = None
            return Response(raw_body=body)

        return [
            Path("key-status", "The active encryption key term.", ops(read=key_status)),
            Path("rotate", "Rotate the encryption key (new term).", ops(update=rotate)),
            Path(
                "rekey/init",
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
                        "proven by sys/rekey/verify.",
                    ),
                    "nonce": _CANCEL_NONCE,
                },
            ),
            Path(
                "rekey/update",
                "Submit a current share toward the rekey.",
                ops(update=rekey_update),
                fields=_SHARE_FIELDS,
            ),
            Path(
                "rekey/verify",
                "Verify the new shares before they take effect.",
                ops(read=verify_status, update=verify_update, delete=verify_cancel),
                fields=_SHARE_FIELDS,
            ),
            Path(
                "generate-root/attempt",
                "Start, inspect or cancel generation of a new root token.",
                ops(read=root_status, update=root_start, delete=root_cancel),
                fields={
                    "otp": Field(
                        FieldType.STRING,
                        "One-time password to encode the token with.",
                        sensitive=True,
                    ),
                    "pgp_key": Field(FieldType.STRING, "Not supported yet."),
                    "nonce": _CANCEL_NONCE,
                },
            ),
            Path(
                "generate-root/update",
                "Submit a share toward a new root token.",
                ops(update=root_update),
                fields=_SHARE_FIELDS,
            ),
        ]
