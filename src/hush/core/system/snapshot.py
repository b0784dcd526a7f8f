"""``sys/storage/snapshot``: save and restore the whole encrypted store (Vault's raft snapshot).

``GET`` answers the snapshot file (see :mod:`hush.storage.snapshot`) of whatever backend the node
uses. ``POST`` with a snapshot file as the body restores it: the file is checked in full first,
then the node seals, the store is replaced in one storage transaction, and the node must be
unsealed with the keys that were current when the snapshot was taken (an auto-unseal node
unseals itself if its seal can open the snapshot's wrapped key). Both need ``sudo``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from hush import __version__
from hush.barrier.barrier import KEYRING_PATH, SEAL_CONFIG_PATH
from hush.core.errors import InvalidRequest
from hush.core.request import Request, Response
from hush.core.system.common import ops
from hush.framework.fields import FieldData
from hush.framework.path import Path
from hush.storage.snapshot import SnapshotError, read_snapshot, write_snapshot

if TYPE_CHECKING:
    from hush.core.core import Core

__all__ = ["SNAPSHOT_PATH", "snapshot_paths"]

SNAPSHOT_PATH = "storage/snapshot"
log = logging.getLogger("hush.snapshot")


def snapshot_paths(core: Core) -> list[Path]:
    """The snapshot endpoint of the system backend."""

    async def save(request: Request, fields: FieldData) -> Response:
        """Download a snapshot of the whole encrypted store."""
        entries, due = await core.storage.dump()
        blob = write_snapshot(entries, due, storage_type=core.storage_type, version=__version__)
        log.info("snapshot saved: %d entries, %d due-time entries", len(entries), len(due))
        return Response(body_bytes=blob, content_type="application/octet-stream")

    async def restore(request: Request, fields: FieldData) -> None:
        """Restore a snapshot (the request body); the node seals and needs its keys again."""
        try:
            snapshot = read_snapshot(request.body)
        except SnapshotError as exc:
            raise InvalidRequest(f"invalid snapshot: {exc}") from None
        keys = {key for key, _ in snapshot.entries}
        if not {SEAL_CONFIG_PATH, KEYRING_PATH} <= keys:
            raise InvalidRequest("invalid snapshot: it holds no initialised Hush store")
        await core.restore_store(snapshot.entries, snapshot.due)
        log.info(
            "snapshot restored: %d entries; the node is sealed until unsealed with the "
            "snapshot's keys",
            len(snapshot.entries),
        )

    return [
        Path(
            SNAPSHOT_PATH,
            "Save (GET) or restore (POST, the file as the body) a snapshot of the encrypted store.",
            ops(read=save, update=restore),
        )
    ]
