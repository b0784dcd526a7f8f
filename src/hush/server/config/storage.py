"""The ``storage "<kind>" { ... }`` block."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from hush.server.config.reader import Block, Invalid, at_line
from hush.server.config.values import bad_value, block_type, collect, option_string

__all__ = ["STORAGE_KEYS", "StorageConfig", "parse_storage"]

# Storage kind -> (required keys, optional keys).
STORAGE_KEYS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "inmem": (frozenset(), frozenset()),
    "sqlite": (frozenset({"path"}), frozenset()),
    "postgresql": (
        frozenset({"connection_url"}),
        frozenset({"table", "max_parallel", "max_idle_connections"}),
    ),
}
_REDACTED_OPTIONS = frozenset({"connection_url"})


@dataclass(frozen=True, slots=True, repr=False)
class StorageConfig:
    """The ``storage "<kind>" { ... }`` block: the backend kind and its options as strings."""

    kind: str
    options: Mapping[str, str] = field(hash=False)

    def __repr__(self) -> str:
        shown = {k: "<redacted>" if k in _REDACTED_OPTIONS else v for k, v in self.options.items()}
        return f"StorageConfig(kind={self.kind!r}, options={shown!r})"


def parse_storage(block: Block) -> StorageConfig:
    kind = block_type(block, "storage", "sqlite")
    if kind not in STORAGE_KEYS:
        choices = ", ".join(f'"{k}"' for k in sorted(STORAGE_KEYS))
        raise Invalid(
            block.line,
            f'storage type "{kind}"{at_line(block.line)} is not supported; use one of {choices}',
        )
    required, optional = STORAGE_KEYS[kind]
    where = f' in storage "{kind}"'
    values, _ = collect(block.body, allowed=required | optional, blocks=frozenset(), where=where)
    missing = sorted(required - values.keys())
    if missing:
        raise Invalid(
            block.line, f'storage "{kind}" block{at_line(block.line)} needs "{missing[0]}"'
        )
    options = {name: option_string(attr, where) for name, attr in values.items()}
    for name in sorted(required):
        if not options[name]:
            raise bad_value(values[name], "is empty", where)
    return StorageConfig(kind=kind, options=MappingProxyType(options))
