"""``sys/leases/*`` and the legacy ``sys/renew``, ``sys/revoke*`` aliases (Vault's lease API).

Error texts and status codes follow OpenBao's: ``lease_id must be specified`` (400),
``invalid lease`` (400) on lookup, ``lease not found`` (400) on renew, 204 for revoking an
unknown lease, 202 for ``sync=false`` and ``tidy``, 404 for an empty listing or a ``sys/leases``
read without ``type=irrevocable``. OpenBao 2.x dropped the legacy aliases; Vault still has them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from hush.core.errors import InvalidRequest
from hush.core.expiration.entry import LeaseEntry
from hush.core.expiration.maintenance import MAX_IRREVOCABLE_LISTED, irrevocable_report, tidy
from hush.core.request import Request, Response
from hush.core.system.common import ops
from hush.core.token_backend import rfc3339
from hush.framework.fields import Field, FieldData, FieldType
from hush.framework.path import Handler, Path

if TYPE_CHECKING:
    from hush.core.core import Core

__all__ = ["lease_lookup_data", "lease_paths"]

log = logging.getLogger("hush.core.expiration")

_LEASE_ID = {
    "lease_id": Field(FieldType.STRING, "The lease identifier."),
    "url_lease_id": Field(FieldType.STRING, "The lease identifier, given in the URL."),
}
_RENEW = _LEASE_ID | {
    "increment": Field(FieldType.DURATION, "Requested extension of the lease, in seconds."),
}
_SYNC = {
    "sync": Field(
        FieldType.BOOL,
        "Revoke before answering (true) or hand the work to the expiry loop (false: 202).",
        default=True,
    )
}
_PREFIX = {"prefix": Field(FieldType.STRING, "Lease id prefix (a path).")}
_REPORT = {
    "type": Field(FieldType.STRING, "Which leases: only irrevocable is supported, as in Vault."),
    "include_child_namespaces": Field(FieldType.BOOL, "Accepted; Hush has no namespaces."),
    "limit": Field(FieldType.STRING, "Most leases to list, or none for all (default 10000)."),
}
_TIDY_WARNING = (
    "Tidy operation successfully started. Any information from the operation will be printed "
    "to Hush's server logs."
)


def lease_lookup_data(entry: LeaseEntry, now: float) -> dict[str, object]:
    """Vault's ``sys/leases/lookup`` body for a lease."""
    return {
        "id": entry.lease_id,
        "issue_time": rfc3339(entry.issue_time),
        "expire_time": rfc3339(entry.expire_time) if entry.expire_time else None,
        "last_renewal": rfc3339(entry.last_renewal) if entry.last_renewal else None,
        "renewable": entry.renewable and not entry.irrevocable and entry.expire_time > now,
        "ttl": entry.ttl(now),
        "path": entry.path,
    }


def _lease_id(fields: FieldData) -> str:
    lease_id = fields.string("lease_id") or fields.string("url_lease_id")
    if not lease_id:
        raise InvalidRequest("lease_id must be specified")
    return lease_id


def _accepted() -> Response:
    # Vault answers 202 with an empty body when revocation is left to the expiry loop.
    return Response(status=202, body_bytes=b"", content_type="application/json")


def _parse_limit(raw: str) -> int | None:
    if not raw:
        return MAX_IRREVOCABLE_LISTED
    if raw.lower() == "none":
        return None
    try:
        limit = int(raw)
    except ValueError:
        raise InvalidRequest(f"invalid 'limit' provided: {raw!r} is not an integer") from None
    if limit < 1:
        raise InvalidRequest("limit must be 'none' or a positive integer")
    return limit


def lease_paths(core: Core) -> list[Path]:
    """The lease endpoints of the system backend (and their legacy aliases)."""
    manager = core.expiration
    tidy_tasks: set[asyncio.Task[dict[str, int]]] = set()

    async def lookup(request: Request, fields: FieldData) -> Response:
        """Look up a lease's times and renewability."""
        entry = await manager.lookup(_lease_id(fields))
        return Response(data=lease_lookup_data(entry, time.time()))

    async def list_prefix(request: Request, fields: FieldData) -> Response | None:
        """List lease ids under a prefix (needs sudo)."""
        prefix = fields.string("prefix")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        keys = await manager.store.list(prefix)
        return Response(data={"keys": keys}) if keys else None

    async def renew(request: Request, fields: FieldData) -> Response:
        """Renew a secret lease by ``increment`` seconds, within its max TTL."""
        return await manager.renew(_lease_id(fields), fields.integer("increment"))

    async def revoke(request: Request, fields: FieldData) -> Response | None:
        """Revoke a lease now, or with sync=false let the expiry loop do it (202)."""
        sync = fields.boolean("sync")
        await manager.revoke(_lease_id(fields), sync=sync)
        return None if sync else _accepted()

    async def revoke_prefix(request: Request, fields: FieldData) -> Response | None:
        """Revoke every lease under a prefix (needs sudo)."""
        sync = fields.boolean("sync")
        await manager.revoke_prefix(fields.string("prefix"), sync=sync)
        return None if sync else _accepted()

    async def revoke_force(request: Request, fields: FieldData) -> None:
        """Delete every lease under a prefix even when its backend fails to revoke (sudo)."""
        await manager.revoke_prefix(fields.string("prefix"), force=True)

    async def start_tidy(request: Request, fields: FieldData) -> Response:
        """Revoke leases whose token no longer exists (runs in the background)."""
        if not any(not task.done() for task in tidy_tasks):
            task = asyncio.get_running_loop().create_task(tidy(manager, core.tokens))
            tidy_tasks.add(task)
            task.add_done_callback(tidy_tasks.discard)
        else:
            log.warning("tidy operation on leases is already in progress")
        return Response(warnings=[_TIDY_WARNING], status=202)

    async def count(request: Request, fields: FieldData) -> Response | None:
        """Count irrevocable leases per mount accessor (type=irrevocable)."""
        if fields.string("type").lower() != "irrevocable":
            return None
        data, _ = await irrevocable_report(manager, limit=None, with_leases=False)
        return Response(data=data)

    async def list_irrevocable(request: Request, fields: FieldData) -> Response | None:
        """List irrevocable leases with their last revocation error (type=irrevocable)."""
        if fields.string("type").lower() != "irrevocable":
            return None
        limit = _parse_limit(fields.string("limit"))
        data, warning = await irrevocable_report(manager, limit=limit, with_leases=True)
        return Response(data=data, warnings=[warning] if warning else [])

    def lease_id_paths(
        name: str, synopsis: str, handler: Handler, fields: dict[str, Field]
    ) -> list[Path]:
        spec = ops(update=handler)
        return [
            Path(name, synopsis, spec, fields=fields),
            Path(f"{name}/(?P<url_lease_id>.+)", synopsis, spec, fields=fields),
        ]

    paths = [
        Path("leases/lookup", "Look up a lease.", ops(update=lookup), fields=_LEASE_ID),
        Path(
            "leases/lookup/(?P<prefix>.*)",
            "List lease ids under a prefix.",
            ops(list=list_prefix),
            fields=_PREFIX,
        ),
        *lease_id_paths("leases/renew", "Renew a lease.", renew, _RENEW),
        *lease_id_paths("renew", "Renew a lease (legacy path).", renew, _RENEW),
        *lease_id_paths("leases/revoke", "Revoke a lease.", revoke, _LEASE_ID | _SYNC),
        *lease_id_paths("revoke", "Revoke a lease (legacy path).", revoke, _LEASE_ID | _SYNC),
    ]
    for base in ("leases/", ""):
        paths += [
            Path(
                f"{base}revoke-prefix/(?P<prefix>.+)",
                "Revoke every lease under a prefix.",
                ops(update=revoke_prefix),
                fields=_PREFIX | _SYNC,
            ),
            Path(
                f"{base}revoke-force/(?P<prefix>.+)",
                "Delete every lease under a prefix, ignoring backend errors.",
                ops(update=revoke_force),
                fields=_PREFIX,
            ),
        ]
    paths += [
        Path("leases/tidy", "Clean up leases whose token is gone.", ops(update=start_tidy)),
        Path("leases/count", "Count irrevocable leases.", ops(read=count), fields=_REPORT),
        Path("leases", "List irrevocable leases.", ops(read=list_irrevocable), fields=_REPORT),
    ]
    return paths
