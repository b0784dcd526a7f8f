"""Lease housekeeping: the irrevocable-lease report (Vault 1.8+ ``sys/leases``) and tidy."""

from __future__ import annotations

import logging
from typing import Any

from hush.core.expiration.entry import LeaseKind
from hush.core.expiration.manager import ExpirationManager
from hush.core.tokens import TokenStore

__all__ = ["IRREVOCABLE_LIMIT_WARNING", "MAX_IRREVOCABLE_LISTED", "irrevocable_report", "tidy"]

log = logging.getLogger("hush.core.expiration")

MAX_IRREVOCABLE_LISTED = 10000  # Vault's MaxIrrevocableLeasesToReturn
IRREVOCABLE_LIMIT_WARNING = (
    "Command halted because many irrevocable leases were found. To emit the entire list, "
    "re-run the command with force set true."
)


async def irrevocable_report(
    manager: ExpirationManager, *, limit: int | None, with_leases: bool
) -> tuple[dict[str, Any], str | None]:
    """``sys/leases/count`` (counts per mount accessor) or ``sys/leases`` (the leases, sorted).

    ``limit`` ``None`` lists every lease; otherwise listing stops there with Vault's warning.
    """
    counts: dict[str, int] = {}
    leases: list[tuple[float, str, dict[str, str]]] = []
    warning: str | None = None
    async for entry in manager.store.irrevocable():
        if with_leases and limit is not None and len(leases) >= limit:
            warning = IRREVOCABLE_LIMIT_WARNING
            break
        counts[entry.mount_accessor] = counts.get(entry.mount_accessor, 0) + 1
        if with_leases:
            item = {
                "lease_id": entry.lease_id,
                "mount_id": entry.mount_accessor,
                "error": entry.revocation_error,
            }
            leases.append((entry.expire_time, entry.lease_id, item))
    total = sum(counts.values())
    if not with_leases:
        return {"lease_count": total, "counts": counts}, None
    leases.sort(key=lambda row: (row[0], row[1]))
    return {"lease_count": total, "leases": [row[2] for row in leases]}, warning


async def tidy(manager: ExpirationManager, tokens: TokenStore) -> dict[str, int]:
    """Revoke leases whose token is gone, and drop token leases of vanished tokens.

    Walks every lease id one folder at a time (Vault's ``Tidy``); run in the background.
    """
    counts = {"checked": 0, "revoked_orphaned": 0}
    async for lease_id in manager.store.walk(""):
        entry = await manager.store.load(lease_id)
        if entry is None or not entry.token_hash:
            continue
        counts["checked"] += 1
        if await tokens.lookup_hash(entry.token_hash) is not None:
            continue
        counts["revoked_orphaned"] += 1
        if entry.kind is LeaseKind.TOKEN:
            await manager.store.delete(entry)
        elif not entry.irrevocable:
            await manager.expire_soon(entry)
    log.info(
        "lease tidy finished: %d leases checked, %d with an invalid token revoked",
        counts["checked"],
        counts["revoked_orphaned"],
    )
    return counts
