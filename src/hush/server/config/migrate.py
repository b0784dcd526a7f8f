"""The ``hush operator migrate`` file: Vault's ``storage_source`` and ``storage_destination``.

Same reader and storage-block rules as the server configuration, so a block copied from a server
config works here unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hush.server.config.reader import ConfigError, Invalid, at_line, read_hcl, read_json
from hush.server.config.storage import StorageConfig, parse_storage
from hush.server.config.values import collect, string_value

__all__ = ["MigrateConfig", "load_migrate_config", "parse_migrate_config"]


@dataclass(frozen=True, slots=True)
class MigrateConfig:
    """Where a migration reads from and writes to."""

    source: StorageConfig
    destination: StorageConfig
    cluster_addr: str | None = None


def load_migrate_config(path: str | Path) -> MigrateConfig:
    """Read and parse a migration file (JSON if it ends in ``.json``)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not valid UTF-8"
        raise ConfigError(f"cannot read the migration file: {reason}", filename=str(path)) from None
    return parse_migrate_config(text, filename=str(path))


def parse_migrate_config(text: str, *, filename: str = "<migrate>") -> MigrateConfig:
    """Parse migration file text."""
    try:
        items = read_json(text) if filename.endswith(".json") else read_hcl(text)
        values, blocks = collect(
            items,
            allowed=frozenset({"cluster_addr"}),
            blocks=frozenset({"storage_source", "storage_destination"}),
            where="",
        )
        found = {}
        for name in ("storage_source", "storage_destination"):
            given = blocks.get(name, [])
            if not given:
                raise Invalid(
                    None, f'no {name} block: exactly one is required, e.g. {name} "sqlite" {{ }}'
                )
            if len(given) > 1:
                raise Invalid(given[1].line, f"a second {name} block{at_line(given[1].line)}")
            found[name] = parse_storage(given[0])
        return MigrateConfig(
            found["storage_source"],
            found["storage_destination"],
            string_value(values.get("cluster_addr")),
        )
    except Invalid as exc:
        raise ConfigError(exc.problem, filename=filename, line=exc.line) from None
