"""``hush kv metadata get|put|delete``: a KV v2 secret's metadata and version history."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click

from hush.cli.client import Client, ClientSettings, as_mapping, client_options, response_data
from hush.cli.generic import delete_path, read_secret, write_secret
from hush.cli.kv import KVPath, mount_option, resolve_kv_path
from hush.cli.options import DURATION, VaultGroup, key_values, value
from hush.cli.output import (
    CLIError,
    OutputOptions,
    Section,
    UserError,
    emit_secret,
    emit_sections,
    output_options,
)

__all__ = ["kv_metadata_group"]


@click.group("metadata", cls=VaultGroup)
def kv_metadata_group() -> None:
    """Read and change the metadata and versions of KV v2 secrets."""


def _v2_path(client: Client, mount: str | None, path: str) -> KVPath:
    kv = resolve_kv_path(client, mount, path)
    if kv.version != 2:
        raise UserError("Metadata not supported on KV Version 1")
    return kv


@kv_metadata_group.command("get")
@click.argument("path")
@mount_option
@client_options
@output_options()
def metadata_get(
    settings: ClientSettings, output: OutputOptions, path: str, mount: str | None
) -> None:
    """Show the metadata and every version of the secret at PATH."""
    with Client(settings) as client:
        full_path = _v2_path(client, mount, path).api_path("metadata")
        secret = read_secret(client, full_path)
    data = response_data(secret)
    versions = data.get("versions")
    if output.field is None and output.format == "table" and not isinstance(versions, Mapping):
        raise CLIError("No versions found")
    sections = [
        Section("Metadata Path", text=full_path),
        Section("Metadata", rows=sorted((k, v) for k, v in data.items() if k != "versions")),
    ]
    for number, info in sorted(as_mapping(versions).items(), key=lambda item: int(item[0])):
        rows = sorted(as_mapping(info).items())
        sections.append(Section(f"Version {number}", rows=rows))
    emit_sections(output, dict(secret), sections, fields=data)


@kv_metadata_group.command("put")
@click.argument("path")
@value("max-versions", "Versions to keep (0: the mount's setting).", type=int, default=-1)
@click.option(
    "-cas-required/-no-cas-required",
    "--cas-required/--no-cas-required",
    "cas_required",
    default=None,
    help="Require check-and-set (-cas) on every write (-cas-required=false turns it off).",
)
@value("delete-version-after", "Delete versions this long after writing.", type=DURATION)
@value("custom-metadata", "key=value metadata (repeatable).", multiple=True, default=())
@mount_option
@client_options
@output_options()
def metadata_put(
    settings: ClientSettings,
    output: OutputOptions,
    path: str,
    max_versions: int,
    cas_required: bool | None,
    delete_version_after: str | None,
    custom_metadata: tuple[str, ...],
    mount: str | None,
) -> None:
    """Change the settings of the secret at PATH (creating its metadata if needed)."""
    body: dict[str, Any] = {}
    if max_versions >= 0:
        body["max_versions"] = max_versions
    if cas_required is not None:
        body["cas_required"] = cas_required
    if delete_version_after is not None:
        body["delete_version_after"] = delete_version_after
    if custom_metadata:
        body["custom_metadata"] = key_values(custom_metadata, "custom-metadata")
    with Client(settings) as client:
        full_path = _v2_path(client, mount, path).api_path("metadata")
        secret = write_secret(client, output, full_path, body)
    if secret is not None:
        emit_secret(output, secret)


@kv_metadata_group.command("delete")
@click.argument("path")
@mount_option
@client_options
def metadata_delete(settings: ClientSettings, path: str, mount: str | None) -> None:
    """Delete the secret at PATH with all its versions and metadata (not undoable)."""
    with Client(settings) as client:
        delete_path(client, _v2_path(client, mount, path).api_path("metadata"))
