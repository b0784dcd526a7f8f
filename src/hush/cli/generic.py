"""``hush read|write|list|delete PATH`` and ``hush kv get|put|list|delete``.

Data arguments follow Vault's CLI: ``key=value``, ``key=@file`` (the file's contents),
``key=-`` (standard input), a lone ``-`` (a JSON object on standard input) or ``@file.json``
(a JSON object from a file). A key given twice becomes a list, as in Vault.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import orjson

from hush.cli.client import Client, ClientSettings, client_options
from hush.cli.output import (
    CLIError,
    OutputOptions,
    UserError,
    emit_list,
    emit_secret,
    output_options,
)

__all__ = [
    "KVPath",
    "delete_command",
    "kv_group",
    "list_command",
    "parse_data_args",
    "read_command",
    "resolve_kv_path",
    "write_command",
]


class _StdinOnce:
    """Standard input may be consumed by one argument only (as in Vault)."""

    def __init__(self) -> None:
        self.used = False

    def read(self) -> str:
        if self.used:
            raise UserError("standard input (-) can be used by only one argument")
        self.used = True
        return sys.stdin.read()


def _read_file(name: str) -> str:
    try:
        return Path(name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"Error reading file {name!r}: {exc}") from None


def _json_object(text: str, source: str) -> dict[str, Any]:
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise UserError(f"Error parsing JSON from {source}: {exc}") from None
    if not isinstance(parsed, dict):
        raise UserError(f"Error parsing JSON from {source}: expected an object")
    return parsed


def parse_data_args(args: Sequence[str]) -> dict[str, Any]:
    """Turn Vault-style data arguments into the JSON object to send."""
    stdin = _StdinOnce()
    data: dict[str, Any] = {}
    for arg in args:
        if arg == "-":
            data.update(_json_object(stdin.read(), "standard input"))
            continue
        if arg.startswith("@") and "=" not in arg:
            data.update(_json_object(_read_file(arg[1:]), arg[1:]))
            continue
        key, sep, value = arg.partition("=")
        if not sep or not key:
            raise UserError(f'Invalid key/value pair "{arg}": format must be key=value')
        parsed: Any = value
        if value == "-":
            parsed = stdin.read()
        elif value.startswith("@"):
            parsed = _read_file(value[1:])
        if key in data:
            existing = data[key]
            data[key] = [*existing, parsed] if isinstance(existing, list) else [existing, parsed]
        else:
            data[key] = parsed
    return data


def _read(settings: ClientSettings, output: OutputOptions, path: str) -> None:
    with Client(settings) as client:
        secret = client.read(path)
    if secret is None:
        raise CLIError(f"No value found at {path}")
    emit_secret(output, secret)


def _write(
    settings: ClientSettings, output: OutputOptions, path: str, args: Sequence[str], force: bool
) -> None:
    data = parse_data_args(args)
    if not data and not force:
        raise UserError("Must supply data or use -force")
    with Client(settings) as client:
        secret = client.write(path, data)
    if secret is None:
        if output.format == "table" and output.field is None:
            click.echo(f"Success! Data written to: {path}")
        return
    emit_secret(output, secret)


def _list(settings: ClientSettings, output: OutputOptions, path: str) -> None:
    with Client(settings) as client:
        secret = client.list(path)
    folder = path if path.endswith("/") else f"{path}/"
    keys = ((secret or {}).get("data") or {}).get("keys")
    if not isinstance(keys, list):
        raise CLIError(f"No value found at {folder}")
    emit_list(output, [str(key) for key in keys])


def _delete(settings: ClientSettings, path: str) -> None:
    with Client(settings) as client:
        client.delete(path)
    click.echo(f"Success! Data deleted (if it existed) at: {path}")


_force = click.option(
    "-force", "--force", "-f", "force", is_flag=True, help="Write even with no data."
)


@click.command("read")
@click.argument("path")
@client_options
@output_options()
def read_command(settings: ClientSettings, output: OutputOptions, path: str) -> None:
    """Read data at PATH (any endpoint)."""
    _read(settings, output, path)


@click.command("write")
@click.argument("path")
@click.argument("data", nargs=-1)
@_force
@client_options
@output_options()
def write_command(
    settings: ClientSettings,
    output: OutputOptions,
    path: str,
    data: tuple[str, ...],
    force: bool,
) -> None:
    """Write DATA (key=value, key=@file, key=-) to PATH."""
    _write(settings, output, path, data, force)


@click.command("list")
@click.argument("path")
@client_options
@output_options(field=False)
def list_command(settings: ClientSettings, output: OutputOptions, path: str) -> None:
    """List the keys under PATH (the LIST verb)."""
    _list(settings, output, path)


@click.command("delete")
@click.argument("path")
@client_options
def delete_command(settings: ClientSettings, path: str) -> None:
    """Delete the data at PATH."""
    _delete(settings, path)


# --- kv ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KVPath:
    """Where a ``hush kv`` command acts: the mount, the path inside it, and the KV version."""

    mount: str
    key: str
    version: int = 1

    @property
    def api_path(self) -> str:
        """The ``/v1`` path for reads and writes (KV v1: the mount and key joined)."""
        return f"{self.mount}/{self.key}" if self.key else self.mount


def resolve_kv_path(settings: ClientSettings, mount: str | None, path: str) -> KVPath:
    """Split ``path`` into mount and key and find the mount's KV version.

    Today every mount is treated as KV v1, so nothing is asked of the server and, without
    ``-mount``, the first path segment is taken as the mount (v1 reads the joined path anyway).
    KV v2 support goes here: ask ``GET sys/internal/ui/mounts/<path>`` (falling back to
    ``sys/mounts`` ``options.version``) for the real mount path and version, and let the
    command functions below switch on ``KVPath.version``.
    """
    path = path.strip("/")
    if mount:
        return KVPath(mount=mount.strip("/"), key=path)
    head, _, rest = path.partition("/")
    if not head:
        raise click.UsageError("a PATH is required, e.g. secret/foo, or -mount=secret foo")
    return KVPath(mount=head, key=rest)


_mount = click.option(
    "-mount",
    "--mount",
    "mount",
    default=None,
    metavar="MOUNT",
    help="KV mount path; PATH is then relative to it.",
)


@click.group("kv")
def kv_group() -> None:
    """Read and write secrets in the key/value secrets engine."""


@kv_group.command("get")
@click.argument("path")
@_mount
@client_options
@output_options()
def kv_get(settings: ClientSettings, output: OutputOptions, path: str, mount: str | None) -> None:
    """Read the secret at PATH."""
    _read(settings, output, resolve_kv_path(settings, mount, path).api_path)


@kv_group.command("put")
@click.argument("path")
@click.argument("data", nargs=-1)
@_mount
@client_options
@output_options()
def kv_put(
    settings: ClientSettings,
    output: OutputOptions,
    path: str,
    data: tuple[str, ...],
    mount: str | None,
) -> None:
    """Write DATA (key=value, key=@file, key=-) as the secret at PATH, replacing it."""
    if not data:
        raise UserError("Must supply data")
    _write(settings, output, resolve_kv_path(settings, mount, path).api_path, data, False)


@kv_group.command("list")
@click.argument("path", default="")
@_mount
@client_options
@output_options(field=False)
def kv_list(settings: ClientSettings, output: OutputOptions, path: str, mount: str | None) -> None:
    """List the secrets under PATH."""
    _list(settings, output, resolve_kv_path(settings, mount, path).api_path)


@kv_group.command("delete")
@click.argument("path")
@_mount
@client_options
def kv_delete(settings: ClientSettings, path: str, mount: str | None) -> None:
    """Delete the secret at PATH."""
    _delete(settings, resolve_kv_path(settings, mount, path).api_path)
