"""Seal lifecycle: ``sys/init``, ``unseal``, ``seal``, ``seal-status``, ``health``."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from hush.core.errors import InvalidRequest, Unsupported
from hush.core.request import Request, Response
from hush.core.shares import decode_share
from hush.core.system.common import ops, version_string
from hush.framework.fields import Field, FieldData, FieldType
from hush.framework.path import Path

if TYPE_CHECKING:
    from hush.core.core import Core

__all__ = ["seal_paths", "seal_status"]

_MIN_STATUS, _MAX_STATUS = 200, 599
_HEALTH_CODES = {
    "activecode": 200,
    "standbycode": 429,
    "drsecondarycode": 472,
    "performancestandbycode": 473,
    "haunhealthycode": 474,
    "removedcode": 530,
    "sealedcode": 503,
    "uninitcode": 501,
}


def seal_status(core: Core) -> dict[str, Any]:
    """The seal-status body Vault returns from ``sys/seal-status`` and ``sys/unseal``."""
    config = core.seal_config
    progress = core.unseal_progress
    relayed = core.relayed_progress or (0, "")
    body: dict[str, Any] = {
        "type": "shamir",
        "initialized": config is not None,
        "sealed": core.sealed,
        "t": config.secret_threshold if config else 0,
        "n": config.secret_shares if config else 0,
        "progress": progress.progress if progress else relayed[0],
        "nonce": progress.nonce if progress else relayed[1],
        "version": version_string(),
        "build_date": "",
        "migration": False,
        "recovery_seal": False,
        "storage_type": core.storage_type,
    }
    body.update(core.seals.status_fields())
    if not core.sealed and core.cluster is not None:
        body["cluster_name"] = core.cluster.name
        body["cluster_id"] = core.cluster.id
    return body


def seal_paths(core: Core) -> list[Path]:
    """The seal-lifecycle endpoints of the system backend."""

    async def read_init(request: Request, fields: FieldData) -> Response:
        """Whether the store has been initialised."""
        await core.refresh_initialized()
        return Response(raw_body={"initialized": core.initialized})

    async def write_init(request: Request, fields: FieldData) -> Response:
        """Initialise: create the keys, split the unseal key, mint the first root token."""
        for unsupported in ("pgp_keys", "root_token_pgp_key", "recovery_pgp_keys"):
            if fields.has(unsupported) and fields.raw(unsupported):
                raise Unsupported(f"{unsupported} is not supported by Hush yet; omit it")
        if core.seals.seal is not None:
            # Vault: the unseal key of an auto seal is stored, never split into shares.
            given = [f for f in ("secret_shares", "secret_threshold") if fields.integer(f)]
            if given:
                raise InvalidRequest(
                    f"parameters {','.join(given)} not applicable to seal type "
                    f"{core.seals.seal.type}"
                )
            result = await core.initialize_auto(
                fields.integer("recovery_shares"), fields.integer("recovery_threshold")
            )
            return Response(raw_body=core.init_response(result))
        for recovery in ("recovery_shares", "recovery_threshold"):
            if fields.integer(recovery):
                raise InvalidRequest(
                    f"parameter {recovery} is only applicable to auto-unseal seals; "
                    "this node uses Shamir (no seal stanza)"
                )
        if fields.integer("stored_shares") not in (0, fields.integer("secret_shares")):
            raise InvalidRequest("stored_shares is only supported with auto-unseal seals")
        result = await core.initialize(
            fields.integer("secret_shares"), fields.integer("secret_threshold")
        )
        return Response(raw_body=core.init_response(result))

    async def read_seal_status(request: Request, fields: FieldData) -> Response:
        """Seal state and unseal progress."""
        await core.refresh_initialized()
        return Response(raw_body=seal_status(core))

    async def write_unseal(request: Request, fields: FieldData) -> Response:
        """Submit one unseal key share, or reset the progress."""
        if fields.boolean("reset"):
            core.reset_unseal()
        elif fields.string("key"):
            await core.submit_unseal_share(
                decode_share(fields.string("key")), migrate=fields.boolean("migrate")
            )
        else:
            raise InvalidRequest(
                "'key' must be specified in request body as JSON, or 'reset' set to true"
            )
        return Response(raw_body=seal_status(core))

    async def write_seal(request: Request, fields: FieldData) -> None:
        """Seal this node: every key is dropped from memory."""
        await core.seal()

    async def read_health(request: Request, fields: FieldData) -> Response:
        """Health for load balancers; the status code encodes the state."""
        codes = {name: fields.integer(name) for name in _HEALTH_CODES}
        for name, code in codes.items():
            # Vault refuses codes below 1; past 599 (or below 200) the HTTP layer cannot send the
            # status at all and would drop the connection, so refuse those plainly too.
            if not _MIN_STATUS <= code <= _MAX_STATUS:
                raise InvalidRequest(
                    f'invalid value for "{name}": a status code must be between '
                    f"{_MIN_STATUS} and {_MAX_STATUS}"
                )
        await core.refresh_initialized()
        body: dict[str, Any] = {
            "initialized": core.initialized,
            "sealed": core.sealed,
            "standby": False,
            "performance_standby": False,
            "replication_performance_mode": "disabled",
            "replication_dr_mode": "disabled",
            "server_time_utc": int(time.time()),
            "version": version_string(),
            "enterprise": False,
            "echo_duration_ms": 0,
            "clock_skew_ms": 0,
            "replication_primary_canary_age_ms": 0,
            "removed_from_cluster": False,
        }
        if not core.initialized:
            status = codes["uninitcode"]
        elif core.sealed:
            status = codes["sealedcode"]
        else:
            status = codes["activecode"]
            if core.cluster is not None:
                body["cluster_name"] = core.cluster.name
                body["cluster_id"] = core.cluster.id
        return Response(raw_body=body, status=status)

    health_fields = {
        "standbyok": Field(FieldType.BOOL, "Answer 200 rather than 429 on a standby node."),
        "perfstandbyok": Field(FieldType.BOOL, "Answer 200 on a performance standby node."),
        **{
            name: Field(FieldType.INT, f"Status code to return when {name[:-4]}.", default=code)
            for name, code in _HEALTH_CODES.items()
        },
    }
    return [
        Path(
            "init",
            "Initialise a new store: create keys and return the unseal key shares.",
            ops(read=read_init, update=write_init),
            fields={
                "secret_shares": Field(FieldType.INT, "Number of unseal key shares.", default=0),
                "secret_threshold": Field(FieldType.INT, "Shares needed to unseal.", default=0),
                "stored_shares": Field(FieldType.INT, "Shares to store (auto-unseal only)."),
                "pgp_keys": Field(FieldType.COMMA_STRING_LIST, "PGP keys (not supported yet)."),
                "root_token_pgp_key": Field(FieldType.STRING, "PGP key (not supported yet)."),
                "recovery_shares": Field(
                    FieldType.INT, "Recovery key shares (auto-unseal only; 0 for none)."
                ),
                "recovery_threshold": Field(FieldType.INT, "Recovery threshold (auto-unseal)."),
                "recovery_pgp_keys": Field(FieldType.COMMA_STRING_LIST, "Not supported yet."),
            },
        ),
        Path("seal-status", "Seal state and unseal progress.", ops(read=read_seal_status)),
        Path(
            "unseal",
            "Submit an unseal key share.",
            ops(update=write_unseal),
            fields={
                "key": Field(
                    FieldType.STRING, "One unseal key share, hex or base64.", sensitive=True
                ),
                "reset": Field(FieldType.BOOL, "Discard the shares given so far."),
                "migrate": Field(
                    FieldType.BOOL, "This share is for a seal migration (Shamir <-> auto)."
                ),
            },
        ),
        Path("seal", "Seal this node.", ops(update=write_seal)),
        Path(
            "health", "Node health for load balancers.", ops(read=read_health), fields=health_fields
        ),
    ]
