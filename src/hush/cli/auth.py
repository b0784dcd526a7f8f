"""``hush auth enable|disable|list|tune|help``: auth methods, as Vault's CLI manages them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click

from hush.cli.client import Client, ClientSettings, client_options
from hush.cli.login_methods import METHOD_HELP
from hush.cli.mount_table import (
    emit_mount_summary,
    enable_body,
    given_settings,
    mount_path,
    read_mount_table,
    ttl_cell,
)
from hush.cli.options import DURATION, VaultGroup, flag, key_values, value
from hush.cli.output import OutputOptions, UserError, emit_columns, output_options

__all__ = ["auth_group"]


@click.group("auth", cls=VaultGroup)
def auth_group() -> None:
    """Enable, list, tune and disable auth methods; show how to log in with one."""


_default_ttl = value("default-lease-ttl", "Default TTL of tokens from this method.", type=DURATION)
_max_ttl = value("max-lease-ttl", "Maximum TTL of tokens from this method.", type=DURATION)
_description = value("description", "Human-friendly description of the method.")
_visibility = value("listing-visibility", 'Whether the UI lists the method: "unauth" or "".')


@auth_group.command("enable")
@click.argument("method_type", metavar="TYPE")
@value("path", "Where to mount the method under auth/ (default: its type).", default="")
@_description
@_default_ttl
@_max_ttl
@_visibility
@value("options", "Method option key=value (repeatable).", multiple=True, default=())
@flag("local", "Do not replicate the method (accepted for compatibility).")
@flag("seal-wrap", "Seal-wrap the method's storage (accepted for compatibility).")
@client_options
def auth_enable(
    settings: ClientSettings,
    method_type: str,
    path: str,
    description: str | None,
    default_lease_ttl: str | None,
    max_lease_ttl: str | None,
    listing_visibility: str | None,
    options: tuple[str, ...],
    local: bool,
    seal_wrap: bool,
) -> None:
    """Enable an auth method of TYPE (userpass, approle, jwt, oidc, ...) at -path."""
    method_type = method_type.strip()
    mount = mount_path(path or method_type)
    config = given_settings(
        default_lease_ttl=default_lease_ttl,
        max_lease_ttl=max_lease_ttl,
        listing_visibility=listing_visibility,
    )
    options_ = key_values(options, "options")
    body = enable_body(method_type, description, config, options_, local, seal_wrap)
    with Client(settings) as client:
        client.write(f"sys/auth/{mount}", body, action="enabling auth method")
    click.echo(f"Success! Enabled {method_type} auth method at: {mount}")


@auth_group.command("disable")
@click.argument("path")
@client_options
def auth_disable(settings: ClientSettings, path: str) -> None:
    """Disable the auth method at PATH: its tokens are revoked and its data deleted."""
    mount = mount_path(path)
    with Client(settings) as client:
        client.delete(f"sys/auth/{mount}", action="disabling auth method")
    click.echo(f"Success! Disabled the auth method (if it existed) at: {mount}")


def _methods(settings: ClientSettings) -> dict[str, Mapping[str, Any]]:
    return read_mount_table(settings, "sys/auth", "listing enabled auth methods")


@auth_group.command("list")
@flag("detailed", "Show TTLs, token type and options too.")
@client_options
@output_options(field=False)
def auth_list(settings: ClientSettings, output: OutputOptions, detailed: bool) -> None:
    """List the enabled auth methods."""
    methods = _methods(settings)
    paths = sorted(methods)
    if detailed:
        headers: tuple[str, ...] = (
            "Path",
            "Plugin",
            "Accessor",
            "Default TTL",
            "Max TTL",
            "Token Type",
            "Options",
            "Description",
        )
        rows = []
        for path in paths:
            entry = methods[path]
            config = entry.get("config") if isinstance(entry.get("config"), Mapping) else {}
            assert isinstance(config, Mapping)
            rows.append(
                [
                    path,
                    entry.get("type"),
                    entry.get("accessor"),
                    ttl_cell(config.get("default_lease_ttl")),
                    ttl_cell(config.get("max_lease_ttl")),
                    config.get("token_type", "default-service"),
                    entry.get("options") or "map[]",
                    entry.get("description"),
                ]
            )
        emit_columns(output, methods, headers, rows)
        return
    emit_mount_summary(output, methods)


@auth_group.command("tune")
@click.argument("path")
@_default_ttl
@_max_ttl
@_description
@_visibility
@value("token-type", "Token type logins issue: service, batch, default-service, default-batch.")
@client_options
def auth_tune(
    settings: ClientSettings,
    path: str,
    default_lease_ttl: str | None,
    max_lease_ttl: str | None,
    description: str | None,
    listing_visibility: str | None,
    token_type: str | None,
) -> None:
    """Change the settings of the auth method at PATH (only the ones given)."""
    mount = mount_path(path)
    body = given_settings(
        default_lease_ttl=default_lease_ttl,
        max_lease_ttl=max_lease_ttl,
        description=description,
        listing_visibility=listing_visibility,
        token_type=token_type,
    )
    with Client(settings) as client:
        client.write(f"sys/auth/{mount}tune", body, action="tuning auth method")
    click.echo(f"Success! Tuned the auth method at: {mount}")


@auth_group.command("help")
@click.argument("method_or_path")
@client_options
def auth_help(settings: ClientSettings, method_or_path: str) -> None:
    """How to log in with an auth method, given its TYPE or the PATH it is enabled at."""
    name = method_or_path.strip().strip("/")
    method = name if name in METHOD_HELP else ""
    if not method:
        entry = _methods(settings).get(name + "/")
        method = str(entry.get("type", "")) if entry else ""
    if method not in METHOD_HELP:
        known = ", ".join(sorted(METHOD_HELP))
        raise UserError(
            f'No auth method or enabled path named "{name}". Built-in help exists for: {known}'
        )
    click.echo(METHOD_HELP[method].strip())
