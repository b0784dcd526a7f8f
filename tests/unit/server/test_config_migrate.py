"""The migration file: Vault's storage_source / storage_destination blocks."""

from __future__ import annotations

import json

import pytest

from hush.server.config import ConfigError
from hush.server.config.migrate import parse_migrate_config


def test_hcl_migration_file() -> None:
    config = parse_migrate_config(
        'storage_source "sqlite" {\n  path = "/var/lib/hush/hush.db"\n}\n'
        'storage_destination "postgresql" {\n  connection_url = "postgresql://u:pw@db/h"\n}\n'
        'cluster_addr = "https://hush:8201"\n',
        filename="migrate.hcl",
    )
    assert (config.source.kind, config.destination.kind) == ("sqlite", "postgresql")
    assert config.source.options["path"] == "/var/lib/hush/hush.db"
    assert "pw" not in repr(config)


def test_json_migration_file() -> None:
    text = json.dumps(
        {"storage_source": {"inmem": {}}, "storage_destination": {"sqlite": {"path": "/x"}}}
    )
    config = parse_migrate_config(text, filename="migrate.json")
    assert config.destination.options["path"] == "/x"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('storage_source "sqlite" {\n path = "/a"\n}\n', "no storage_destination block"),
        ('storage_destination "sqlite" {\n path = "/a"\n}\n', "no storage_source block"),
        (
            'storage_source "raft" {\n}\nstorage_destination "inmem" {\n}\n',
            'storage type "raft" at line 1 is not supported',
        ),
        (
            'storage_source "inmem" {\n}\nstorage_destination "inmem" {\n}\nstorage "x" {\n}\n',
            'unknown key "storage" at line 5',
        ),
    ],
)
def test_migration_file_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_migrate_config(text, filename="migrate.hcl")
