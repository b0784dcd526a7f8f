"""``hush login [-method=M] [-path=P] [TOKEN | key=value ...]``: log in, keep the token.

With the token method (the default) the token is verified with ``auth/token/lookup-self``;
with ``userpass``, ``approle``, ``jwt`` or ``oidc`` the method's login endpoint mints one
(:mod:`hush.cli.login_methods`). The token is stored in ``~/.hush-token`` (mode 0600), where
every later command finds it unless ``HUSH_TOKEN``/``VAULT_TOKEN`` is set.
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
from hush.cli.login_methods import login_with
from hush.cli.options import VaultCommand, flag, value
from hush.cli.output import CLIError, OutputOptions, UserError, emit_secret, output_options

__all__ = ["login_command", "read_token_argument"]

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


def _params(args: tuple[str, ...]) -> dict[str, str]:
    params: dict[str, str] = {}
    for arg in args:
        key, sep, text = arg.partition("=")
        if not sep or not key:
            raise UserError(f'Invalid key/value pair "{arg}": format must be key=value')
        params[key.strip()] = text
    return params


def _token_login(settings: ClientSettings, args: tuple[str, ...]) -> tuple[str, dict[str, Any]]:
    if len(args) > 1:
        raise UserError("Too many arguments: hush login [TOKEN]")
    given = args[0] if args else None
    if given is not None and given.startswith("token="):
        given = given[len("token=") :]
    secret_token = read_token_argument(given)
    with Client(settings, token=secret_token) as client:
        try:
            info = client.read("auth/token/lookup-self", action="looking up token")
        except APIError as exc:
            raise CLIError(f"Error authenticating: {exc.message.removeprefix('Error ')}") from None
    if not info:
        raise CLIError("Error authenticating: empty response from lookup-self")
    return secret_token, _login_secret(secret_token, info)


@click.command("login", cls=VaultCommand)
@click.argument("args", nargs=-1)
@value("method", "Auth method: token, userpass, approle, jwt or oidc.", default="token")
@value("path", "Where the method is enabled under auth/ (default: the method's name).")
@flag("no-store", "Do not store the token in the token helper file.")
@flag("no-print", "Do not print the token (it is still stored).")
@flag("token-only", "Print only the token and do not store it (for scripts).")
@client_options
@output_options()
def login_command(
    settings: ClientSettings,
    output: OutputOptions,
    args: tuple[str, ...],
    method: str,
    path: str | None,
    no_store: bool,
    no_print: bool,
    token_only: bool,
) -> None:
    """Log in (TOKEN, or key=value arguments of -method) and store the token in ~/.hush-token."""
    method = method.strip("/").lower() or "token"
    if token_only:
        no_store, output = True, OutputOptions(format=output.format, field="token")
    if no_store and no_print:
        raise UserError("-no-store and -no-print cannot be used together")
    if method == "token":
        secret_token, secret = _token_login(settings, args)
    else:
        params = _params(args)
        with Client(settings, token="") as client:
            try:
                secret = login_with(client, method, path or method, params)
            except APIError as exc:
                raise CLIError(
                    f"Error authenticating: {exc.message.removeprefix('Error ')}"
                ) from None
        auth = secret.get("auth")
        if not isinstance(auth, dict):
            # -wrap-ttl: Vault prints the wrapping token and stores nothing.
            emit_secret(output, secret)
            return
        secret_token = str(auth.get("client_token") or "")
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
