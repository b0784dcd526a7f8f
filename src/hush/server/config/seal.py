"""The ``seal "<type>" { ... }`` blocks: which auto-unseal device protects the unseal key.

As in Vault, at most one seal is active; a second block is only allowed while migrating, and then
exactly one of the two carries ``disabled = "true"`` (the seal being migrated away from). With no
block the node uses Shamir shares. Option values are never quoted in errors or reprs: ``token``,
``pin``, ``secret_key`` and the static keys are secrets.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from hush.barrier.seals import SEAL_OPTIONS, SECRET_OPTIONS
from hush.server.config.reader import Block, Invalid, at_line
from hush.server.config.values import block_type, bool_value, collect, option_string

__all__ = ["SealStanza", "parse_seals"]

# Vault's multi-seal (HA seals) keys: known, refused.
_UNSUPPORTED_SEAL_KEYS = frozenset({"priority", "name"})


@dataclass(frozen=True, slots=True, repr=False)
class SealStanza:
    """One ``seal`` block: its type, its options as strings, and whether it is disabled."""

    kind: str
    options: Mapping[str, str] = field(hash=False)
    disabled: bool = False

    def __repr__(self) -> str:
        shown = {k: "<redacted>" if k in SECRET_OPTIONS else v for k, v in self.options.items()}
        return f"SealStanza(kind={self.kind!r}, disabled={self.disabled}, options={shown!r})"


def parse_seals(blocks: list[Block]) -> tuple[SealStanza, ...]:
    """Check every seal block and the rules between them (at most one active, one disabled)."""
    stanzas = tuple(_seal(block) for block in blocks)
    if len(stanzas) > 2:
        raise Invalid(
            blocks[2].line,
            f"a third seal block{at_line(blocks[2].line)}: at most two are allowed "
            "(the active seal and, while migrating, the disabled old one)",
        )
    if len(stanzas) == 2 and sum(s.disabled for s in stanzas) != 1:
        raise Invalid(
            blocks[1].line,
            f"two seal blocks{at_line(blocks[1].line)}: exactly one must have "
            'disabled = "true" (the seal you are migrating from)',
        )
    return stanzas


def _seal(block: Block) -> SealStanza:
    kind = block_type(block, "seal", "pkcs11")
    if kind not in SEAL_OPTIONS:
        choices = ", ".join(f'"{k}"' for k in SEAL_OPTIONS)
        raise Invalid(
            block.line,
            f'seal type "{kind}"{at_line(block.line)} is not supported; use one of {choices} '
            "(no seal block means Shamir)",
        )
    where = f' in seal "{kind}"'
    values, _ = collect(
        block.body,
        allowed=frozenset(SEAL_OPTIONS[kind]) | {"disabled"},
        blocks=frozenset(),
        unsupported=_UNSUPPORTED_SEAL_KEYS,
        where=where,
    )
    disabled = bool_value(values.pop("disabled", None), default=False)
    options = {name: option_string(attr, where) for name, attr in values.items()}
    return SealStanza(kind=kind, options=MappingProxyType(options), disabled=disabled)
