"""What ``hush auth`` and ``hush secrets`` share: one mount table each, managed the same way.

Both groups enable a mount with the same body shape, tune it with only the settings given,
read the table, and print it with the same short columns (Vault's CLI does the same for
``sys/auth`` and ``sys/mounts``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hush.cli.client import Client, ClientSettings, response_data
from hush.cli.output import OutputOptions, emit_columns, human_duration

__all__ = [
    "emit_mount_summary",
    "enable_body",
    "given_settings",
    "mount_path",
    "read_mount_table",
    "ttl_cell",
]


def mount_path(path: str) -> str:
    """``path`` with exactly one trailing slash, as Vault prints mount paths."""
    return path.strip().strip("/") + "/"


def ttl_cell(seconds: Any) -> str:
    """A TTL column of ``list -detailed``: a duration, or ``system`` when the mount has none."""
    return human_duration(int(seconds)) if seconds else "system"


def given_settings(**settable: Any) -> dict[str, Any]:
    """The settings the user gave (``None`` means not given), for ``enable`` config and ``tune``."""
    return {key: item for key, item in settable.items() if item is not None}


def enable_body(
    mount_type: str,
    description: str | None,
    config: dict[str, Any],
    options: dict[str, str],
    local: bool,
    seal_wrap: bool,
) -> dict[str, Any]:
    """The body of ``sys/auth/<path>`` or ``sys/mounts/<path>`` when enabling a mount."""
    return {
        "type": mount_type,
        "description": description or "",
        "config": config,
        "options": options,
        "local": local,
        "seal_wrap": seal_wrap,
    }


def read_mount_table(
    settings: ClientSettings, path: str, action: str
) -> dict[str, Mapping[str, Any]]:
    """The mounts listed at ``path`` (``sys/auth`` or ``sys/mounts``), by mount path."""
    with Client(settings) as client:
        body = client.read(path, action=action) or {}
    found = response_data(body) or body
    return {mount: entry for mount, entry in found.items() if isinstance(entry, Mapping)}


def emit_mount_summary(output: OutputOptions, table: Mapping[str, Mapping[str, Any]]) -> None:
    """``list`` without ``-detailed``: path, type, accessor and description of each mount."""
    rows = [
        [path, table[path].get("type"), table[path].get("accessor"), table[path].get("description")]
        for path in sorted(table)
    ]
    emit_columns(output, table, ("Path", "Type", "Accessor", "Description"), rows)
