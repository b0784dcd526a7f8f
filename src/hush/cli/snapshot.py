"""``hush operator snapshot save|restore``: the whole encrypted store as one file."""

from __future__ import annotations

import os
from pathlib import Path

import click

from hush.cli.client import Client, ClientSettings, client_options
from hush.cli.output import UserError

__all__ = ["snapshot_group"]

_SNAPSHOT_PATH = "sys/storage/snapshot"


@click.group("snapshot")
def snapshot_group() -> None:
    """Save or restore a snapshot of the encrypted store (any storage backend)."""


@snapshot_group.command("save")
@click.argument("path", type=click.Path(dir_okay=False))
@client_options
def save_command(settings: ClientSettings, path: str) -> None:
    """Write a snapshot of the store to PATH (mode 0600; it is encrypted, but keep it safe)."""
    with Client(settings) as client:
        blob = client.request("GET", _SNAPSHOT_PATH, action="saving a snapshot", raw=True)
    target = Path(path)
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(blob)
    click.echo(f"Success! Snapshot of {len(blob)} bytes saved to {target}.")


@snapshot_group.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@client_options
def restore_command(settings: ClientSettings, path: str) -> None:
    """Restore the snapshot in PATH; the server seals and needs the snapshot's keys to unseal."""
    blob = Path(path).read_bytes()
    if not blob:
        raise UserError(f"Error: {path} is empty")
    with Client(settings) as client:
        client.request("POST", _SNAPSHOT_PATH, action="restoring a snapshot", upload=blob)
    click.echo(
        "Success! Snapshot restored. The server is sealed: unseal it with the keys that were "
        "current when the snapshot was taken (an auto-unseal server unseals itself)."
    )
