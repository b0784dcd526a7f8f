"""``hush secrets enable|disable|list|tune|move``: the mount table, as Vault's CLI manages it."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import click

from hush.cli.client import Client, ClientSettings, as_mapping, client_options, response_data
from hush.cli.mount_table import (
    emit_mount_summary,
    enable_body,
    given_settings,
    mount_path,
    read_mount_table,
    ttl_cell,
)
from hush.cli.options import DURATION, VaultGroup, flag, key_values, value
from hush.cli.output import CLIError, OutputOptions, emit_columns, output_options

__all__ = ["secrets_group"]

_MOVE_TIMEOUT_SECONDS = 60.0
_MOVE_POLL_SECONDS = 1.0


@click.group("secrets", cls=VaultGroup)
def secrets_group() -> None:
    """Enable, list, tune, move and disable secrets engines."""


_default_ttl = value("default-lease-ttl", "Default lease TTL of the mount.", type=DURATION)
_max_ttl = value("max-lease-ttl", "Maximum lease TTL of the mount.", type=DURATION)
_description = value("description", "Human-friendly description of the mount.")
_options = value("options", "Engine option key=value (repeatable).", multiple=True, default=())


@secrets_group.command("enable")
@click.argument("engine_type", metavar="TYPE")
@value("path", "Where to mount the engine (default: its type).", default="")
@_description
@value("version", "KV version (sets the version option).", type=int, default=0)
@_default_ttl
@_max_ttl
@_options
@flag("local", "Do not replicate the mount (accepted for compatibility).")
@flag("seal-wrap", "Seal-wrap the mount's storage (accepted for compatibility).")
@client_options
def secrets_enable(
    settings: ClientSettings,
    engine_type: str,
    path: str,
    description: str | None,
    version: int,
    default_lease_ttl: str | None,
    max_lease_ttl: str | None,
    options: tuple[str, ...],
    local: bool,
    seal_wrap: bool,
) -> None:
    """Mount a secrets engine of TYPE (kv, kv-v2, transit, ...) at -path."""
    engine_type = engine_type.strip()
    mount = mount_path(path or engine_type)
    engine_options = key_values(options, "options")
    if version > 0:
        engine_options["version"] = str(version)
    config = given_settings(default_lease_ttl=default_lease_ttl, max_lease_ttl=max_lease_ttl)
    body = enable_body(engine_type, description, config, engine_options, local, seal_wrap)
    with Client(settings) as client:
        client.write(f"sys/mounts/{mount}", body, action="enabling")
    click.echo(f"Success! Enabled the {engine_type} secrets engine at: {mount}")


@secrets_group.command("disable")
@click.argument("path")
@client_options
def secrets_disable(settings: ClientSettings, path: str) -> None:
    """Unmount the secrets engine at PATH and delete all its data."""
    mount = mount_path(path)
    with Client(settings) as client:
        client.delete(f"sys/mounts/{mount}", action="disabling secrets engine")
    click.echo(f"Success! Disabled the secrets engine (if it existed) at: {mount}")


def _detailed_row(path: str, mount: Mapping[str, Any]) -> list[Any]:
    config = as_mapping(mount.get("config"))
    return [
        path,
        mount.get("type"),
        mount.get("accessor"),
        ttl_cell(config.get("default_lease_ttl")),
        ttl_cell(config.get("max_lease_ttl")),
        bool(config.get("force_no_cache")),
        "local" if mount.get("local") else "replicated",
        bool(mount.get("seal_wrap")),
        bool(mount.get("external_entropy_access")),
        mount.get("options") or "map[]",
        mount.get("description"),
        mount.get("uuid"),
        mount.get("plugin_version"),
        mount.get("running_plugin_version"),
        mount.get("running_sha256"),
        mount.get("deprecation_status"),
    ]


_DETAILED_HEADERS = (
    "Path",
    "Plugin",
    "Accessor",
    "Default TTL",
    "Max TTL",
    "Force No Cache",
    "Replication",
    "Seal Wrap",
    "External Entropy Access",
    "Options",
    "Description",
    "UUID",
    "Version",
    "Running Version",
    "Running SHA256",
    "Deprecation Status",
)


@secrets_group.command("list")
@flag("detailed", "Show every setting of each mount.")
@client_options
@output_options(field=False)
def secrets_list(settings: ClientSettings, output: OutputOptions, detailed: bool) -> None:
    """List the mounted secrets engines."""
    mounts = read_mount_table(settings, "sys/mounts", "listing secrets engines")
    if detailed:
        rows = [_detailed_row(path, mounts[path]) for path in sorted(mounts)]
        emit_columns(output, mounts, _DETAILED_HEADERS, rows)
        return
    emit_mount_summary(output, mounts)


@secrets_group.command("tune")
@click.argument("path")
@_default_ttl
@_max_ttl
@_description
@_options
@value("listing-visibility", 'Whether the UI lists the mount: "unauth" or "hidden".')
@client_options
def secrets_tune(
    settings: ClientSettings,
    path: str,
    default_lease_ttl: str | None,
    max_lease_ttl: str | None,
    description: str | None,
    options: tuple[str, ...],
    listing_visibility: str | None,
) -> None:
    """Change the settings of the secrets engine at PATH (only the ones given)."""
    mount = mount_path(path)
    body = given_settings(
        default_lease_ttl=default_lease_ttl,
        max_lease_ttl=max_lease_ttl,
        description=description,
        options=key_values(options, "options") or None,
        listing_visibility=listing_visibility,
    )
    with Client(settings) as client:
        client.write(f"sys/mounts/{mount}tune", body, action="tuning secrets engine")
    click.echo(f"Success! Tuned the secrets engine at: {mount}")


@secrets_group.command("move")
@click.argument("source")
@click.argument("destination")
@client_options
def secrets_move(settings: ClientSettings, source: str, destination: str) -> None:
    """Move the secrets engine at SOURCE to DESTINATION, with its data."""
    source, destination = mount_path(source), mount_path(destination)
    with Client(settings) as client:
        body = client.write(
            "sys/remount", {"from": source, "to": destination}, action="moving secrets engine"
        )
        migration = str(response_data(body).get("migration_id") or "")
        what = f"secrets engine {source} to {destination}, with migration ID {migration}"
        click.echo(f"Started moving {what}")
        if migration:
            _wait_for_move(client, migration)
    click.echo(f"Success! Finished moving {what}")


def _wait_for_move(client: Client, migration: str) -> None:
    """Poll the remount status as Vault's CLI does, until it succeeds or fails."""
    deadline = time.monotonic() + _MOVE_TIMEOUT_SECONDS
    while True:
        status = client.read(f"sys/remount/status/{migration}", action="checking move status")
        info = as_mapping(response_data(status).get("migration_info"))
        state = info.get("status")
        if state == "success":
            return
        if state == "failure":
            raise CLIError(f"Error moving secrets engine: migration {migration} failed")
        if time.monotonic() >= deadline:
            raise CLIError(f"Error moving secrets engine: migration {migration} is still running")
        time.sleep(_MOVE_POLL_SECONDS)
