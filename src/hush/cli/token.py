"""``hush token create|lookup|renew|revoke|capabilities``: the token store, as Vault's CLI has it.

Tokens given as arguments travel only in request bodies (never in URLs, so never in server
access logs); the token the CLI authenticates with comes from :func:`hush.cli.client.read_token`.
"""

from __future__ import annotations

from typing import Any

import click

from hush.cli.client import Client, ClientSettings, client_options, response_data
from hush.cli.options import DURATION, VaultGroup, flag, key_values, split_list, value
from hush.cli.output import (
    CLIError,
    OutputOptions,
    UserError,
    emit,
    emit_secret,
    output_options,
)

__all__ = ["token_group"]


@click.group("token", cls=VaultGroup)
def token_group() -> None:
    """Create, inspect, renew and revoke tokens."""


@token_group.command("create")
@value("policy", "Policy to attach (repeatable or comma-separated).", multiple=True, default=())
@value("ttl", "Initial TTL; renewable up to the max TTL.", type=DURATION)
@value("explicit-max-ttl", "Hard limit on the token's life, renewals included.", type=DURATION)
@value("period", "Make a periodic token renewable by this period forever.", type=DURATION)
@flag("orphan", "Create the token with no parent (needs sudo or root).")
@value("role", "Create the token against this token role.", default="")
@value("type", "Token type.", dest="token_type", type=click.Choice(["service", "batch"]))
@value("use-limit", "Number of uses before the token is revoked (0: unlimited).", type=int)
@value("display-name", "Name shown in audit logs and lookups.")
@value("metadata", "key=value metadata (repeatable).", multiple=True, default=())
@flag("no-default-policy", "Do not attach the default policy.")
@value("renewable", "Whether the token may be renewed.", type=click.BOOL, default=True)
@client_options
@output_options()
def token_create(
    settings: ClientSettings,
    output: OutputOptions,
    policy: tuple[str, ...],
    ttl: str | None,
    explicit_max_ttl: str | None,
    period: str | None,
    orphan: bool,
    role: str,
    token_type: str | None,
    use_limit: int | None,
    display_name: str | None,
    metadata: tuple[str, ...],
    no_default_policy: bool,
    renewable: bool,
) -> None:
    """Create a child token (or an orphan, or one from a role) and print it."""
    body: dict[str, Any] = {"renewable": renewable}
    optional: dict[str, Any] = {
        "policies": split_list(policy),
        "meta": key_values(metadata, "metadata"),
        "ttl": ttl,
        "explicit_max_ttl": explicit_max_ttl,
        "period": period,
        "type": token_type,
        "num_uses": use_limit,
        "display_name": display_name,
        "no_parent": orphan or None,
        "no_default_policy": no_default_policy or None,
    }
    body.update({key: item for key, item in optional.items() if item not in (None, [], {})})
    if role:
        path = f"auth/token/create/{role}"
    else:
        path = "auth/token/create-orphan" if orphan else "auth/token/create"
    with Client(settings) as client:
        secret = client.write(path, body, action="creating token") or {}
    emit_secret(output, secret)


def _endpoint(operation: str, token: str | None, accessor: bool) -> tuple[str, dict[str, Any]]:
    """The endpoint and body for ``operation`` on TOKEN, its accessor, or the token in use."""
    if accessor:
        if not token:
            raise click.UsageError("-accessor needs an ACCESSOR argument")
        return f"auth/token/{operation}-accessor", {"accessor": token.strip()}
    if token:
        return f"auth/token/{operation}", {"token": token.strip()}
    return f"auth/token/{operation}-self", {}


@token_group.command("lookup")
@click.argument("token", required=False)
@flag("accessor", "TOKEN is an accessor, not a token.")
@client_options
@output_options()
def token_lookup(
    settings: ClientSettings, output: OutputOptions, token: str | None, accessor: bool
) -> None:
    """Show the properties of TOKEN (default: the token in use)."""
    path, body = _endpoint("lookup", token, accessor)
    with Client(settings) as client:
        if body:
            secret = client.write(path, body, action="looking up token")
        else:
            secret = client.read(path, action="looking up token")
    if not secret:
        raise CLIError("Error looking up token: the server returned nothing")
    emit_secret(output, secret)


@token_group.command("renew")
@click.argument("token", required=False)
@value("increment", "Requested extension of the TTL (the server may grant less).", type=DURATION)
@flag("accessor", "TOKEN is an accessor, not a token.")
@client_options
@output_options()
def token_renew(
    settings: ClientSettings,
    output: OutputOptions,
    token: str | None,
    increment: str | None,
    accessor: bool,
) -> None:
    """Renew TOKEN (default: the token in use) by -increment or its default TTL."""
    path, body = _endpoint("renew", token, accessor)
    if increment:
        body["increment"] = increment
    with Client(settings) as client:
        secret = client.write(path, body, action="renewing token") or {}
    emit_secret(output, secret)


@token_group.command("revoke")
@click.argument("token", required=False)
@flag("accessor", "TOKEN is an accessor, not a token.")
@flag("self", "Revoke the token in use.", dest="revoke_self")
@value("mode", "orphan: keep the children; path: revoke every token under a path prefix.")
@client_options
def token_revoke(
    settings: ClientSettings,
    token: str | None,
    accessor: bool,
    revoke_self: bool,
    mode: str | None,
) -> None:
    """Revoke TOKEN and its children (or -self, -accessor, -mode=orphan|path)."""
    mode = mode or ""
    if mode not in ("", "orphan", "path"):
        raise UserError(f"Invalid mode: {mode}")
    if revoke_self and token:
        raise UserError("Too many arguments with -self (expected 0, got 1)")
    if not revoke_self and not token:
        raise UserError("Not enough arguments (expected 1 or -self, got 0)")
    if revoke_self and (accessor or mode):
        raise UserError(f"Cannot use -self with {'-accessor' if accessor else '-mode'}!")
    if accessor and mode:
        raise UserError(f"Cannot use -accessor with -mode={mode}!")
    given = (token or "").strip()
    with Client(settings) as client:
        if revoke_self:
            client.write("auth/token/revoke-self", {}, action="revoking token")
        elif accessor:
            client.write("auth/token/revoke-accessor", {"accessor": given}, action="revoking token")
        elif mode == "orphan":
            client.write("auth/token/revoke-orphan", {"token": given}, action="revoking token")
        elif mode == "path":
            # Vault: -mode=path takes TOKEN as a lease path prefix (auth/token/create/...).
            client.write(f"sys/leases/revoke-prefix/{given}", {}, action="revoking token")
        else:
            client.write("auth/token/revoke", {"token": given}, action="revoking token")
    click.echo("Success! Revoked token (if it existed)")


@token_group.command("capabilities")
@click.argument("args", nargs=-1, metavar="[TOKEN] PATH")
@client_options
@output_options(field=False)
def token_capabilities(
    settings: ClientSettings, output: OutputOptions, args: tuple[str, ...]
) -> None:
    """Print what TOKEN (default: the token in use) may do on PATH."""
    if len(args) not in (1, 2):
        raise UserError(f"Wrong number of arguments (expected 1 or 2, got {len(args)})")
    path = args[-1]
    with Client(settings) as client:
        if len(args) == 2:
            body = {"token": args[0].strip(), "paths": [path]}
            secret = client.write("sys/capabilities", body, action="listing capabilities")
        else:
            secret = client.write(
                "sys/capabilities-self", {"paths": [path]}, action="listing capabilities"
            )
    data = response_data(secret)
    capabilities = data.get(path, data.get("capabilities"))
    if not isinstance(capabilities, list):
        raise UserError("No capabilities found")
    names = sorted(str(name) for name in capabilities)
    emit(output, names, text=", ".join(names))
