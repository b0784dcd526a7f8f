"""Cluster endpoints: ``sys/leader``, ``sys/ha-status`` and ``sys/step-down``.

Every node of a Hush cluster is active for requests; Vault's "leader" maps to the node holding
the background-work lock (it runs lease expiry and scheduled rotation). ``ha_enabled`` is true
on shared storage (PostgreSQL), where several nodes can run.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from hush.core.errors import Sealed
from hush.core.request import Request, Response
from hush.core.system.common import ops
from hush.framework.fields import FieldData
from hush.framework.path import Path

if TYPE_CHECKING:
    from hush.core.core import Core

__all__ = ["cluster_paths"]

_ZERO_TIME = "0001-01-01T00:00:00Z"
_SHARED_STORAGE = frozenset({"postgresql"})


def _iso(moment: float) -> str:
    if moment <= 0:
        return _ZERO_TIME
    return datetime.datetime.fromtimestamp(moment, datetime.UTC).isoformat().replace("+00:00", "Z")


def cluster_paths(core: Core) -> list[Path]:
    """The cluster-status endpoints of the system backend."""

    async def read_leader(request: Request, fields: FieldData) -> Response:
        """Which node holds the background lock (every node serves requests)."""
        body: dict[str, Any] = {
            "ha_enabled": core.storage_type in _SHARED_STORAGE,
            "is_self": False,
            "active_time": _ZERO_TIME,
            "leader_address": "",
            "leader_cluster_address": "",
            "performance_standby": False,
            "performance_standby_last_remote_wal": 0,
        }
        if core.sealed:
            return Response(raw_body=body)
        node = core.node
        body["is_self"] = node.active
        if node.active:
            body["active_time"] = _iso(node.active_since)
            body["leader_address"] = node.api_address
        else:
            holder = next((r for r in await node.nodes() if r.active), None)
            if holder is not None:
                body["active_time"] = _iso(holder.active_since)
                body["leader_address"] = holder.api_address
        return Response(raw_body=body)

    async def read_ha_status(request: Request, fields: FieldData) -> Response:
        """Every node with a fresh heartbeat, Vault's ``sys/ha-status`` shape."""
        if core.sealed:
            raise Sealed
        nodes = [
            {
                "hostname": record.hostname,
                "node_id": record.node_id,
                "api_address": record.api_address,
                "cluster_address": "",
                "active_node": record.active,
                "last_echo": None
                if record.node_id == core.node.node_id
                else _iso(record.last_seen),
                "version": record.version,
                "upgrade_version": record.version,
                "redundancy_zone": "",
            }
            for record in await core.node.nodes()
        ]
        return Response(data={"nodes": nodes})

    async def write_step_down(request: Request, fields: FieldData) -> None:
        """Release the background-work lock so another node takes it (this node keeps serving)."""
        await core.node.step_down()

    return [
        Path("leader", "Which node runs background work.", ops(read=read_leader)),
        Path("ha-status", "Nodes of the cluster and their heartbeats.", ops(read=read_ha_status)),
        Path("step-down", "Hand background work to another node.", ops(update=write_step_down)),
    ]
