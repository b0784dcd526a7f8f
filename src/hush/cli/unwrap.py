"""``hush unwrap [TOKEN]``: open a response-wrapping token once and print what it held.

As Vault's CLI: with TOKEN and no token of our own, TOKEN is sent as the request's token;
with both, TOKEN goes in the body; without TOKEN, the caller's own token is the wrapping token.
"""

from __future__ import annotations

from typing import Any

import click

from hush.cli.client import Client, ClientSettings, client_options, read_token
from hush.cli.options import VaultCommand
from hush.cli.output import CLIError, OutputOptions, emit_secret, output_options

__all__ = ["unwrap_command"]


@click.command("unwrap", cls=VaultCommand)
@click.argument("token", required=False)
@client_options
@output_options()
def unwrap_command(settings: ClientSettings, output: OutputOptions, token: str | None) -> None:
    """Unwrap TOKEN (or the current token) and print the wrapped response."""
    wrapping = (token or "").strip()
    own = read_token()
    body: dict[str, Any] = {}
    if wrapping and own and wrapping != own:
        body["token"] = wrapping
        client_token = own
    else:
        client_token = wrapping or own or ""
    if not client_token:
        raise CLIError("Error unwrapping: no wrapping token given and none in the environment")
    with Client(settings, token=client_token) as client:
        secret = client.write("sys/wrapping/unwrap", body, action="unwrapping token")
    if secret is None:
        click.echo("Success! The wrapped response was empty.")
        return
    emit_secret(output, secret)
