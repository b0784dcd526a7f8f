"""``hush kv ...``: the key/value engine, version 1 or 2, found out per mount as Vault's CLI does.

Each command asks ``GET sys/internal/ui/mounts/<path>`` which mount holds the path and which KV
version it runs (:func:`resolve_kv_path`). KV v1 paths are used as given; KV v2 paths get the
API prefix after the mount (``kv2/foo`` → ``kv2/data/foo``, ``kv2/metadata/foo``, ...).
Commands, flags, messages and exit codes follow Vault's ``kv`` commands; ``kv metadata`` lives
in :mod:`hush.cli.kv_metadata`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import click

from hush.cli.client import APIError, Client, ClientSettings, client_options, response_data
from hush.cli.generic import delete_path, list_keys, parse_data_args, read_secret, write_secret
from hush.cli.options import VaultGroup, split_list, value
from hush.cli.output import (
    CLIError,
    OutputOptions,
    Section,
    UserError,
    emit_list,
    emit_secret,
    emit_sections,
    emit_warnings,
    output_options,
)

__all__ = [
    "KVPath",
    "emit_kv_write",
    "kv_group",
    "mount_option",
    "parse_versions",
    "resolve_kv_path",
]

_NOT_FOUND = 404
_METHOD_NOT_ALLOWED = 405


@dataclass(frozen=True, slots=True)
class KVPath:
    """Where a ``hush kv`` command acts: the mount, the path inside it, and the KV version.

    For KV v1 found without ``-mount``, ``mount`` is empty and ``key`` is the whole path (v1
    reads and writes the path as given, so the mount boundary does not matter).
    """

    mount: str
    key: str
    version: int = 1

    def api_path(self, prefix: str = "data") -> str:
        """The ``/v1`` path: KV v2 puts ``prefix`` (data, metadata, delete, ...) after the mount."""
        parts = (self.mount, prefix if self.version == 2 else "", self.key)
        return "/".join(part for part in parts if part)


def _version_of(mount: Mapping[str, Any]) -> int:
    # Vault's kvPreflightVersionRequest: options.version "2" is v2, anything else is v1.
    options = mount.get("options")
    return 2 if isinstance(options, Mapping) and options.get("version") == "2" else 1


def _from_mount_table(client: Client, path: str) -> tuple[str, int]:
    """The longest mount of ``sys/mounts`` that holds ``path``; v1 if the table is unreadable."""
    try:
        table = client.read("sys/mounts") or {}
    except APIError:
        return "", 1
    mounts = response_data(table) or table
    held = [name for name in mounts if f"{path}/".startswith(name) and name.endswith("/")]
    if not held:
        return "", 1
    name = max(held, key=len)
    entry = mounts[name]
    return name, _version_of(entry) if isinstance(entry, Mapping) else 1


def _preflight(client: Client, path: str) -> tuple[str, int]:
    """The mount path holding ``path`` and its KV version (Vault's preflight request)."""
    try:
        body = client.request(
            "GET",
            f"sys/internal/ui/mounts/{path}",
            action=f"checking the KV version of {path}",
        )
    except APIError as exc:
        if exc.status != _NOT_FOUND:
            raise
        # A server without the endpoint: Vault assumes v1; the mount table tells us for sure.
        return _from_mount_table(client, path)
    data = response_data(body)
    if not data:
        raise CLIError(f"Error checking the KV version of {path}: empty response")
    return str(data.get("path") or ""), _version_of(data)


def resolve_kv_path(client: Client, mount: str | None, path: str) -> KVPath:
    """Find the mount holding ``path`` (or ``-mount``) and its KV version, as Vault's CLI does."""
    path = path.strip("/")
    if mount and mount.strip("/"):
        mount = mount.strip("/")
        found, version = _preflight(client, mount)
        return KVPath(
            mount=(found.strip("/") or mount) if version == 2 else mount, key=path, version=version
        )
    if not path:
        raise click.UsageError("a PATH is required, e.g. secret/foo, or -mount=secret foo")
    found, version = _preflight(client, path)
    if version == 1:
        return KVPath(mount="", key=path, version=1)
    found = found.strip("/") or path.partition("/")[0]  # a server that names no mount path
    key = "" if path == found else path.removeprefix(f"{found}/")
    return KVPath(mount=found, key=key, version=2)


def parse_versions(values: Sequence[str]) -> list[int]:
    """``-versions=1,2`` (repeatable) as version numbers."""
    versions: list[int] = []
    for item in split_list(values):
        if not item.isdigit() or int(item) < 1:
            raise click.UsageError(f'invalid version "{item}": versions are numbers from 1')
        versions.append(int(item))
    return versions


def _emit_kv2_secret(output: OutputOptions, full_path: str, secret: Mapping[str, Any]) -> None:
    data = response_data(secret)
    values = data.get("data")
    if output.field is not None and not isinstance(values, Mapping):
        raise CLIError(f"No data found at {full_path}")
    fields: Mapping[str, Any] = values if isinstance(values, Mapping) else {}
    if output.field == "data" and "data" not in fields:
        fields = data  # Vault: -field=data means the data block unless a key is named "data"
    emit_warnings(secret)
    sections = [Section("Secret Path", text=full_path)]
    metadata = data.get("metadata")
    if isinstance(metadata, Mapping):
        sections.append(Section("Metadata", rows=sorted(metadata.items())))
    if isinstance(values, Mapping):
        sections.append(Section("Data", rows=sorted(values.items())))
    emit_sections(output, dict(secret), sections, fields=fields)


def emit_kv_write(output: OutputOptions, full_path: str, secret: Mapping[str, Any] | None) -> None:
    """Print the answer to a KV v2 write: the secret path and the new version's metadata."""
    if secret is None:
        return
    metadata = response_data(secret)
    emit_warnings(secret)
    sections = [
        Section("Secret Path", text=full_path),
        Section("Metadata", rows=sorted(metadata.items())),
    ]
    emit_sections(output, dict(secret), sections, fields={**secret, **metadata})


def _required_data(args: Sequence[str]) -> dict[str, Any]:
    values = parse_data_args(args)
    if not values:
        raise UserError("Must supply data")
    return values


mount_option = value(
    "mount", "KV mount path; PATH is then relative to it.", metavar="MOUNT", default=None
)
_cas = value(
    "cas",
    "KV v2 check-and-set: write only if the current version is this (0: only if new).",
    type=int,
    default=-1,
)


@click.group("kv", cls=VaultGroup)
def kv_group() -> None:
    """Read and write secrets in the key/value secrets engine (version 1 or 2)."""


@kv_group.command("get")
@click.argument("path")
@value("version", "KV v2: read this version instead of the latest.", type=int, default=0)
@mount_option
@client_options
@output_options()
def kv_get(
    settings: ClientSettings, output: OutputOptions, path: str, version: int, mount: str | None
) -> None:
    """Read the secret at PATH."""
    with Client(settings) as client:
        kv = resolve_kv_path(client, mount, path)
        params = {"version": str(version)} if kv.version == 2 and version > 0 else None
        secret = read_secret(client, kv.api_path(), params=params)
    if kv.version == 1:
        emit_secret(output, secret)
    else:
        _emit_kv2_secret(output, kv.api_path(), secret)


@kv_group.command("put")
@click.argument("path")
@click.argument("data", nargs=-1)
@_cas
@mount_option
@client_options
@output_options()
def kv_put(
    settings: ClientSettings,
    output: OutputOptions,
    path: str,
    data: tuple[str, ...],
    cas: int,
    mount: str | None,
) -> None:
    """Write DATA (key=value, key=@file, key=-) as the secret at PATH, replacing it."""
    values = _required_data(data)
    with Client(settings) as client:
        kv = resolve_kv_path(client, mount, path)
        if kv.version == 1:
            secret = write_secret(client, output, kv.api_path(), values)
        else:
            body = {"data": values, "options": {"cas": cas} if cas >= 0 else {}}
            secret = write_secret(client, output, kv.api_path(), body)
    if kv.version == 1:
        if secret is not None:
            emit_secret(output, secret)
    else:
        emit_kv_write(output, kv.api_path(), secret)


def _read_then_write(
    client: Client, full_path: str, values: dict[str, Any]
) -> dict[str, Any] | None:
    # Vault's `kv patch -method=rw`: read the latest version, merge, write it back with cas.
    current = client.read(full_path)
    data = response_data(current)
    if not isinstance(data.get("data"), Mapping) or not isinstance(data.get("metadata"), Mapping):
        raise CLIError(f"No value found at {full_path}")
    merged = {**data["data"], **values}
    body = {"data": merged, "options": {"cas": data["metadata"].get("version")}}
    return client.write(full_path, body, action=f"writing data to {full_path}")


@kv_group.command("patch")
@click.argument("path")
@click.argument("data", nargs=-1)
@_cas
@value(
    "method",
    'How to patch: "patch" (HTTP PATCH) or "rw" (read, then write with cas).',
    type=click.Choice(["", "patch", "rw"]),
    default="",
)
@mount_option
@client_options
@output_options()
def kv_patch(
    settings: ClientSettings,
    output: OutputOptions,
    path: str,
    data: tuple[str, ...],
    cas: int,
    method: str,
    mount: str | None,
) -> None:
    """Merge DATA into the latest version of the KV v2 secret at PATH, as a new version."""
    values = _required_data(data)
    with Client(settings) as client:
        kv = resolve_kv_path(client, mount, path)
        if kv.version != 2:
            raise CLIError("K/V engine mount must be version 2 for patch support")
        full_path = kv.api_path()
        if method == "rw":
            secret = _read_then_write(client, full_path, values)
        else:
            body = {"data": values, "options": {"cas": cas} if cas >= 0 else {}}
            try:
                secret = client.patch(full_path, body, action=f"writing data to {full_path}")
            except APIError as exc:
                # Vault: with no -method, a server that refuses PATCH gets read-then-write.
                if method or exc.status != _METHOD_NOT_ALLOWED:
                    raise
                secret = _read_then_write(client, full_path, values)
    if secret is None and output.format == "table" and output.field is None:
        click.echo(f"Success! Data written to: {full_path}")
    emit_kv_write(output, full_path, secret)


_versions = value(
    "versions",
    "KV v2 versions, comma-separated or repeated.",
    multiple=True,
    default=(),
)


@kv_group.command("delete")
@click.argument("path")
@_versions
@mount_option
@client_options
def kv_delete(
    settings: ClientSettings, path: str, versions: tuple[str, ...], mount: str | None
) -> None:
    """Delete the secret at PATH (KV v2: its latest version, or -versions; undeletable)."""
    numbers = parse_versions(versions)
    with Client(settings) as client:
        kv = resolve_kv_path(client, mount, path)
        if kv.version == 2 and numbers:
            client.write(kv.api_path("delete"), {"versions": numbers})
            click.echo(f"Success! Data deleted (if it existed) at: {kv.api_path()}")
        else:
            delete_path(client, kv.api_path())


def _versions_command(name: str, verb: str, what: str) -> None:
    """Register ``kv undelete`` or ``kv destroy``: a write of ``{versions}`` to ``<name>/``."""

    @kv_group.command(name, help=f"{what} the -versions of the KV v2 secret at PATH.")
    @click.argument("path")
    @_versions
    @mount_option
    @client_options
    @output_options()
    def command(
        settings: ClientSettings,
        output: OutputOptions,
        path: str,
        versions: tuple[str, ...],
        mount: str | None,
    ) -> None:
        numbers = parse_versions(versions)
        if not numbers:
            raise UserError(
                f'No versions provided, use the "-versions" flag to specify the version to {verb}.'
            )
        with Client(settings) as client:
            kv = resolve_kv_path(client, mount, path)
            if kv.version != 2:
                raise UserError(f"{what} not supported on KV Version 1")
            secret = write_secret(client, output, kv.api_path(name), {"versions": numbers})
        if secret is not None:
            emit_secret(output, secret)


_versions_command("undelete", "undelete", "Undelete")
_versions_command("destroy", "destroy", "Destroy")


@kv_group.command("list")
@click.argument("path", default="")
@mount_option
@client_options
@output_options(field=False)
def kv_list(settings: ClientSettings, output: OutputOptions, path: str, mount: str | None) -> None:
    """List the secrets under PATH."""
    with Client(settings) as client:
        kv = resolve_kv_path(client, mount, path)
        keys = list_keys(client, kv.api_path("metadata"))
    emit_list(output, keys)


@kv_group.command("rollback")
@click.argument("path")
@value("version", "The version to restore as the new latest version.", type=int, default=0)
@mount_option
@client_options
@output_options()
def kv_rollback(
    settings: ClientSettings, output: OutputOptions, path: str, version: int, mount: str | None
) -> None:
    """Write an older version of the KV v2 secret at PATH as its new latest version."""
    if version <= 0:
        raise UserError("Must specify a version to roll back to with -version")
    with Client(settings) as client:
        kv = resolve_kv_path(client, mount, path)
        if kv.version != 2:
            raise CLIError("K/V engine mount must be version 2 for rollback support")
        full_path = kv.api_path()
        latest = _metadata_of(read_secret(client, full_path), full_path)
        old = read_secret(client, full_path, params={"version": str(version)})
        old_metadata = _metadata_of(old, full_path)
        if old_metadata.get("deletion_time"):
            raise CLIError("Cannot roll back to a version that has been deleted")
        if old_metadata.get("destroyed"):
            raise CLIError("Cannot roll back to a version that has been destroyed")
        data = response_data(old).get("data")
        if not isinstance(data, Mapping):
            raise CLIError(f"No data found at {full_path}; rollback only works on existing data")
        body = {"data": dict(data), "options": {"cas": latest.get("version")}}
        secret = write_secret(client, output, full_path, body)
    if secret is not None:
        emit_secret(output, secret)


def _metadata_of(secret: Mapping[str, Any], full_path: str) -> Mapping[str, Any]:
    metadata = response_data(secret).get("metadata")
    if not isinstance(metadata, Mapping):
        raise CLIError(f"No metadata found at {full_path}; rollback only works on existing data")
    return metadata
