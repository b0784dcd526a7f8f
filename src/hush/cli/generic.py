"""``hush read|write|list|delete PATH`` and the helpers ``hush kv`` shares with them.

Data arguments follow Vault's CLI: ``key=value``, ``key=@file`` (the file's contents),
``key=-`` (standard input), a lone ``-`` (a JSON object on standard input) or ``@file.json``
(a JSON object from a file). A key given twice becomes a list, as in Vault.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
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
    "delete_command",
    "delete_path",
    "list_command",
    "list_keys",
    "parse_data_args",
    "read_command",
    "read_secret",
    "write_command",
    "write_secret",
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


def read_secret(
    client: Client, path: str, *, params: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """``GET path``; "No value found at PATH" (exit 2) if nothing is there."""
    secret = client.read(path, params=params)
    if secret is None:
        raise CLIError(f"No value found at {path}")
    return secret


def write_secret(
    client: Client, output: OutputOptions, path: str, data: dict[str, Any]
) -> dict[str, Any] | None:
    """Write ``data`` to ``path``; print Vault's success line when the server returns nothing.

    Returns the response for the caller to print (``None`` once the success line is out).
    """
    secret = client.write(path, data, action=f"writing data to {path}")
    if secret is None and output.format == "table" and output.field is None:
        click.echo(f"Success! Data written to: {path}")
    return secret


def list_keys(client: Client, path: str) -> list[str]:
    """The keys under ``path`` (the LIST verb); "No value found at PATH/" if there are none."""
    secret = client.list(path)
    folder = path if path.endswith("/") else f"{path}/"
    keys = ((secret or {}).get("data") or {}).get("keys")
    if not isinstance(keys, list):
        raise CLIError(f"No value found at {folder}")
    return [str(key) for key in keys]


def delete_path(client: Client, path: str) -> None:
    """``DELETE path`` and print Vault's success line."""
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
    with Client(settings) as client:
        secret = read_secret(client, path)
    emit_secret(output, secret)


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
    body = parse_data_args(data)
    if not body and not force:
        raise UserError("Must supply data or use -force")
    with Client(settings) as client:
        secret = write_secret(client, output, path, body)
    if secret is not None:
        emit_secret(output, secret)


@click.command("list")
@click.argument("path")
@client_options
@output_options(field=False)
def list_command(settings: ClientSettings, output: OutputOptions, path: str) -> None:
    """List the keys under PATH (the LIST verb)."""
    with Client(settings) as client:
        keys = list_keys(client, path)
    emit_list(output, keys)


@click.command("delete")
@click.argument("path")
@client_options
def delete_command(settings: ClientSettings, path: str) -> None:
    """Delete the data at PATH."""
    with Client(settings) as client:
        delete_path(client, path)
