"""Several Hush nodes on one PostgreSQL database, for the cluster tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tests.support.server import HushProcess, free_port, start_hush, write_config

__all__ = ["Cluster", "fresh_database", "start_cluster"]


@contextmanager
def fresh_database(admin_dsn: str) -> Iterator[str]:
    """CREATE DATABASE hush_test_<uuid>; yields its DSN and drops it (and its sessions) after."""
    name = f"hush_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    params = conninfo_to_dict(admin_dsn)
    params["dbname"] = name
    try:
        yield make_conninfo(**{k: str(v) for k, v in params.items() if v is not None})
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))


@dataclass
class Cluster:
    """Nodes sharing one storage stanza, initialised once and unsealed with the same shares."""

    nodes: list[HushProcess]
    keys: list[str] = field(default_factory=list)
    root_token: str = ""

    def unseal(self, node: HushProcess) -> None:
        """Submit the shares to ``node``."""
        node.client().sys.submit_unseal_keys(self.keys)

    def stop(self) -> None:
        """Stop every node."""
        for node in self.nodes:
            node.stop()


def start_cluster(
    base: Path, count: int, storage: str, *, shares: int = 1, **options: str | int | bool
) -> Cluster:
    """Start ``count`` nodes with the same storage stanza, init through the first, unseal all."""
    nodes: list[HushProcess] = []
    cluster = Cluster(nodes)
    try:
        for index in range(count):
            workdir = base / f"node{index + 1}"
            workdir.mkdir(parents=True, exist_ok=True)
            port = free_port()
            config = write_config(workdir, port, storage, **options)
            nodes.append(start_hush(workdir, [f"-config={config}"], port=port))
        result = nodes[0].client().sys.initialize(secret_shares=shares, secret_threshold=shares)
        cluster.keys = list(result["keys"])
        cluster.root_token = str(result["root_token"])
        for node in nodes:
            node.root_token = cluster.root_token
            cluster.unseal(node)
    except BaseException:
        cluster.stop()
        raise
    return cluster
