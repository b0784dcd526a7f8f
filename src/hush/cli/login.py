"""``hush login [TOKEN]``: check a token and keep it in the token helper file for later commands.

Only the token method exists for now (Vault's default): the token is verified with
``auth/token/lookup-self`` and stored in ``~/.hush-token`` (mode 0600), where every later
command finds it unless ``HUSH_TOKEN``/``VAULT_TOKEN`` is set. Other methods come with their
auth backends; asking for one is a clear error rather than a silent token login.
"""

from __future__ import annotations

import os
import sys
import textwrap
from typing import Any

import click

from hush.cli.client import (
    APIError,
    Client,
    ClientSettings,
    client_options,
    response_data,
    store_token,
)
from hush.cli.options import VaultCommand, flag, value
from hush.cli.output import CLIError, OutputOptions, UserError, emit_secret, output_options

__all__ = ["login_command", "read_token_argument"]

_SUPPORTED_METHODS = ("token",)
_WRAP = 78  # Vault's wrapAtLength
_SUCCESS = (
    "Success! You are now authenticated. The token information displayed below is already "
    'stored in the token helper. You do NOT need to run "hush login" again. Future Hush '
    "requests will automatically use this token."
)


def read_token_argument(token: str | None) -> str:
    """The token from the argument, from stdin for ``-``, or a hidden prompt on a terminal."""
    if token == "-":
        given = sys.stdin.read().strip()
    elif token:
        given = token.strip()
    elif sys.stdin.isatty():
        given = str(click.prompt("Token (will be hidden)", hide_input=True, err=True)).strip()
    else:
        raise UserError("no token given: pass TOKEN, or - to read it from standard input")
    if not given:
        raise UserError("a token must be passed to auth, please view the help for more information")
    return given


def _login_secret(token: str, info: dict[str, Any]) -> dict[str, Any]:
    """A login response built from lookup-self, as Vault's token login handler builds it."""
    data = response_data(info)
    policies = list(data.get("policies") or [])
    return {
        "request_id": info.get("request_id", ""),
        "lease_id": "",
        "lease_duration": 0,
        "renewable": False,
        "data": None,
        "warnings": None,
        "auth": {
            "client_token": token,
            "accessor": data.get("accessor", ""),
            "policies": policies,
            "token_policies": policies,
            "identity_policies": list(data.get("identity_policies") or []),
            "metadata": data.get("meta"),
            "orphan": bool(data.get("orphan")),
            "entity_id": data.get("entity_id", ""),
            "lease_duration": int(data.get("ttl") or 0),
            "renewable": bool(data.get("renewable")),
        },
    }


@click.command("login", cls=VaultCommand)
@click.argument("token", required=False)
@value("method", "Auth method; only token is supported for now.", default="token")
@flag("no-store", "Do not store the token in the token helper file.")
@flag("no-print", "Do not print the token (it is still stored).")
@flag("token-only", "Print only the token and do not store it (for scripts).")
@client_options
@output_options()
def login_command(
    settings: ClientSettings,
    output: OutputOptions,
    token: str | None,
    method: str,
    no_store: bool,
    no_print: bool,
    token_only: bool,
) -> None:
    """Log in with TOKEN (- for stdin, or a hidden prompt) and store it in ~/.hush-token."""
    method = method.strip("/") or "token"
    if method not in _SUPPORTED_METHODS:
        raise UserError(
            f'Login method "{method}" is not supported yet: only -method=token is. Log in '
            'through the API and run "hush login TOKEN" with the token it returns.'
        )
    if token_only:
        no_store, output = True, OutputOptions(format=output.format, field="token")
    if no_store and no_print:
        raise UserError("-no-store and -no-print cannot be used together")
    secret_token = read_token_argument(token)
    with Client(settings, token=secret_token) as client:
        try:
            info = client.read("auth/token/lookup-self", action="looking up token")
        except APIError as exc:
            raise CLIError(f"Error authenticating: {exc.message.removeprefix('Error ')}") from None
    if not info:
        raise CLIError("Error authenticating: empty response from lookup-self")
    secret = _login_secret(secret_token, info)
    if not no_store:
        store_token(secret_token)
        for name in ("HUSH_TOKEN", "VAULT_TOKEN"):
            if os.environ.get(name):
                warning = (
                    f"WARNING! The {name} environment variable is set! Its value takes "
                    f"precedence over the stored token; unset {name} if that is unwanted."
                )
                click.echo(textwrap.fill(warning, _WRAP) + "\n", err=True)
    elif not token_only:
        warning = (
            "WARNING! The token was not stored in the token helper. Set HUSH_TOKEN or pass "
            "the token below with each request."
        )
        click.echo(textwrap.fill(warning, _WRAP) + "\n", err=True)
    if no_print:
        return
    if output.field is None and output.format == "table":
        click.echo(textwrap.fill(_SUCCESS, _WRAP) + "\n")
    emit_secret(output, secret)
