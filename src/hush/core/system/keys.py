"""``sys/key-status``, ``sys/rotate``, ``sys/rekey/*`` and ``sys/generate-root/*``.

The rekey and root-generation endpoints need no token (a quorum of share holders may have none).
Cancelling is where Hush is stricter than Vault: ``DELETE`` of an attempt in progress needs that
attempt's ``nonce`` (query parameter), or a token with ``sudo`` on the path, so that a caller who
knows neither cannot throw away the shares an operator has gathered.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from hush.core.errors import HushError, InvalidRequest, PermissionDenied, Sealed
from hush.core.generate_root import OTP_LENGTH, GenerateRootOperation
from hush.core.request import Operation, Request, Response
from hush.core.shares import decode_share
from hush.core.system.common import ops
from hush.core.system.rekey_paths import RekeyEndpoints
from hush.crypto import constant_time_equal
from hush.framework.fields import Field, FieldData, FieldType
from hush.framework.path import Path

if TYPE_CHECKING:
    from hush.core.core import Core

__all__ = ["CANCEL_NONCE", "SHARE_FIELDS", "KeyOperations", "share_field"]

SHARE_FIELDS = {
    "key": Field(FieldType.STRING, "One unseal key share, hex or base64.", sensitive=True),
    "nonce": Field(FieldType.STRING, "Nonce of the operation in progress."),
}
CANCEL_NONCE = Field(
    FieldType.STRING,
    "Nonce of the attempt to cancel (DELETE); not needed with a token that has sudo here.",
)


def _iso(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).isoformat().replace("+00:00", "Z")


def share_field(fields: FieldData) -> Any:
    """The ``key`` field decoded as a share (400 if absent or not hex/base64)."""
    if not fields.string("key"):
        raise InvalidRequest("'key' must be specified in request body as JSON")
    return decode_share(fields.string("key"))


class KeyOperations:
    """Holds the node's in-progress rekey and root-generation attempts and declares their paths."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.rekey_endpoints = RekeyEndpoints(self, "rekey", recovery=False)
        self.recovery_rekey_endpoints = RekeyEndpoints(self, "rekey-recovery-key", recovery=True)
        self.generate_root: GenerateRootOperation | None = None

    def unsealed(self) -> None:
        """Refuse with 503 while sealed."""
        if self.core.sealed:
            raise Sealed

    def _root(self) -> GenerateRootOperation:
        self.unsealed()
        if self.generate_root is None:
            raise InvalidRequest("no root generation in progress")
        return self.generate_root

    async def check_cancel(self, request: Request, fields: FieldData, nonce: str) -> None:
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

        async def root_status(request: Request, fields: FieldData) -> Response:
            """Progress of the root-token generation in progress, if any."""
            self.unsealed()
            if self.generate_root is None:
                return Response(
                    raw_body={
                        "started": False,
                        "nonce": "",
                        "progress": 0,
                        "required": _required_shares(core),
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
            self.unsealed()
            if self.generate_root is not None:
                raise InvalidRequest("root generation already in progress")
            self.generate_root = GenerateRootOperation.start(
                core, {"otp": fields.raw("otp"), "pgp_key": fields.string("pgp_key")}
            )
            return Response(raw_body=self.generate_root.status(include_otp=True))

        async def root_cancel(request: Request, fields: FieldData) -> None:
            """Cancel the root-token generation in progress (its nonce or sudo)."""
            self.unsealed()
            if self.generate_root is not None:
                await self.check_cancel(request, fields, self.generate_root.collector.nonce)
            self.generate_root = None

        async def root_update(request: Request, fields: FieldData) -> Response:
            """Submit one unseal share toward the root token."""
            operation = self._root()
            body = await operation.update(share_field(fields), fields.string("nonce"))
            if body["complete"]:
                self.generate_root = None
            return Response(raw_body=body)

        return [
            Path("key-status", "The active encryption key term.", ops(read=key_status)),
            Path("rotate", "Rotate the encryption key (new term).", ops(update=rotate)),
            *self.rekey_endpoints.paths(),
            *self.recovery_rekey_endpoints.paths(),
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
                    "nonce": CANCEL_NONCE,
                },
            ),
            Path(
                "generate-root/update",
                "Submit a share toward a new root token.",
                ops(update=root_update),
                fields=SHARE_FIELDS,
            ),
        ]


def _required_shares(core: Core) -> int:
    """Shares a root-token generation would need (0 when none can be given)."""
    try:
        return core.seals.operator_config().secret_threshold
    except HushError:
        return 0
