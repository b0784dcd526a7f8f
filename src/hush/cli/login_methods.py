"""How ``hush login -method=...`` logs in with each auth method (Vault's CLI handlers).

Each handler takes the ``key=value`` arguments and returns the login response body (with its
``auth`` block). Secrets (passwords, secret ids, JWTs) travel only in request bodies; no message
built here contains one.
"""

from __future__ import annotations

import http.server
import secrets
import sys
import threading
import urllib.parse
import webbrowser
from collections.abc import Callable, Mapping
from typing import Any, cast

import click

from hush.cli.client import Client, response_data
from hush.cli.output import CLIError, UserError

__all__ = ["LOGIN_METHODS", "METHOD_HELP", "login_with"]

_OIDC_TIMEOUT_SECONDS = 300.0

METHOD_HELP: dict[str, str] = {
    "token": """
Usage: hush login TOKEN

  Logs in with an existing token (or "-" to read it from standard input, or a hidden prompt).
""",
    "userpass": """
Usage: hush login -method=userpass [-path=userpass] username=NAME [password=PASSWORD]

  Logs in with a username and password. Without password=, the password is prompted for
  (hidden) when standard input is a terminal; password=- reads it from standard input.

Configuration:
  username=<string>   The username (required).
  password=<string>   The password; prompted for when absent.
""",
    "approle": """
Usage: hush login -method=approle [-path=approle] role_id=ID [secret_id=SECRET]

  Logs in with an AppRole role id and secret id (secret_id=- reads it from standard input).

Configuration:
  role_id=<string>    The role id (required).
  secret_id=<string>  The secret id (unless the role has bind_secret_id=false).
""",
    "jwt": """
Usage: hush login -method=jwt [-path=jwt] role=ROLE jwt=TOKEN

  Logs in with a signed JWT (a CI job's ID token); jwt=- or jwt=@file read it from standard
  input or a file.

Configuration:
  role=<string>   The role to log in against (the method's default role when absent).
  jwt=<string>    The JWT (required).
""",
    "oidc": """
Usage: hush login -method=oidc [-path=oidc] [role=ROLE] [port=8250] [skip_browser=true]

  Logs in through the OIDC provider in a browser: Hush prints (and opens) the provider's
  login URL and waits for the provider to redirect back to a local listener.

Configuration:
  role=<string>            The role (the method's default role when absent).
  listenaddress=<string>   Address of the local listener (default: localhost).
  port=<int>               Port of the local listener (default: 8250).
  callbackhost=<string>    Host of the redirect URI (default: localhost).
  callbackmethod=<string>  Scheme of the redirect URI (default: http).
  callbackport=<int>       Port of the redirect URI (default: port).
  skip_browser=<bool>      Only print the URL, do not open a browser (default: false).
""",
}


def _secret_value(params: Mapping[str, str], key: str) -> str:
    """A secret argument: ``-`` reads standard input (once), ``@file`` reads a file."""
    raw = params.get(key, "")
    if raw == "-":
        return sys.stdin.read().strip()
    if raw.startswith("@"):
        try:
            with open(raw[1:], encoding="utf-8") as handle:
                return handle.read().strip()
        except OSError as exc:
            raise UserError(f"Error reading {key} from {raw[1:]}: {exc.strerror}") from None
    return raw


def _login(client: Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    result = client.write(path, body, action="logging in")
    if not result or (not isinstance(result.get("auth"), Mapping) and not result.get("wrap_info")):
        raise CLIError("Error authenticating: the server returned no token")
    return result


def _userpass(client: Client, mount: str, params: Mapping[str, str]) -> dict[str, Any]:
    username = params.get("username", "").strip()
    if not username:
        raise UserError("'username' must be specified: hush login -method=userpass username=NAME")
    password = _secret_value(params, "password") if "password" in params else ""
    if "password" not in params:
        if not sys.stdin.isatty():
            raise UserError(
                "no password given: pass password=..., password=- (standard input), or run "
                "on a terminal to be prompted"
            )
        password = str(click.prompt("Password (will be hidden)", hide_input=True, err=True))
    return _login(client, f"auth/{mount}/login/{username}", {"password": password})


def _approle(client: Client, mount: str, params: Mapping[str, str]) -> dict[str, Any]:
    role_id = params.get("role_id", "").strip()
    if not role_id:
        raise UserError("'role_id' must be specified: hush login -method=approle role_id=ID")
    body = {"role_id": role_id}
    if "secret_id" in params:
        body["secret_id"] = _secret_value(params, "secret_id")
    return _login(client, f"auth/{mount}/login", body)


def _jwt(client: Client, mount: str, params: Mapping[str, str]) -> dict[str, Any]:
    token = _secret_value(params, "jwt")
    if not token:
        raise UserError("'jwt' must be specified: hush login -method=jwt role=ROLE jwt=TOKEN")
    body = {"jwt": token}
    if params.get("role"):
        body["role"] = params["role"]
    return _login(client, f"auth/{mount}/login", body)


class _CallbackServer(http.server.HTTPServer):
    """The local listener the OIDC provider redirects the browser to."""

    def __init__(self, address: tuple[str, int]) -> None:
        super().__init__(address, _Callback)
        self.result: dict[str, str] = {}
        self.done = threading.Event()


class _Callback(http.server.BaseHTTPRequestHandler):
    """Receives the provider's redirect once; the query is handed to the waiting login."""

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        if url.path != "/oidc/callback":
            self.send_error(404)
            return
        query = dict(urllib.parse.parse_qsl(url.query))
        state = cast(_CallbackServer, self.server)
        state.result.update(query)
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(b"<html><body>Signed in to Hush. You may close this window.</body></html>")
        state.done.set()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the query holds the authorization code."""


def _oidc(client: Client, mount: str, params: Mapping[str, str]) -> dict[str, Any]:
    listen = params.get("listenaddress", "localhost")
    port = int(params.get("port", "8250"))
    callback_port = int(params.get("callbackport", str(port)))
    redirect = (
        f"{params.get('callbackmethod', 'http')}://{params.get('callbackhost', 'localhost')}"
        f":{callback_port}/oidc/callback"
    )
    nonce = secrets.token_urlsafe(24)
    body = {"redirect_uri": redirect, "client_nonce": nonce}
    if params.get("role"):
        body["role"] = params["role"]
    try:
        server = _CallbackServer((listen, port))
    except OSError as exc:
        raise CLIError(f"Error starting the OIDC callback listener on port {port}: {exc}") from None
    with server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            answer = client.write(f"auth/{mount}/oidc/auth_url", body, action="starting OIDC login")
            auth_url = str(response_data(answer).get("auth_url") or "")
            if not auth_url:
                raise CLIError("Error authenticating: the server returned no OIDC auth_url")
            click.echo(
                "Complete the login via your OIDC provider. Launching browser to:"
                f"\n\n    {auth_url}\n",
                err=True,
            )
            if params.get("skip_browser", "false").lower() not in ("true", "1", "yes"):
                webbrowser.open(auth_url)
            click.echo(f"Waiting for OIDC authentication to complete on {redirect} ...", err=True)
            if not server.done.wait(_OIDC_TIMEOUT_SECONDS):
                raise CLIError("Error authenticating: timed out waiting for the OIDC callback")
        finally:
            server.shutdown()
    query = {k: v for k, v in server.result.items() if k in ("state", "code", "id_token")}
    query["client_nonce"] = nonce
    result = client.read(
        f"auth/{mount}/oidc/callback", action="completing OIDC login", params=query
    )
    if not result or not isinstance(result.get("auth"), Mapping):
        raise CLIError("Error authenticating: the OIDC callback returned no token")
    return result


LOGIN_METHODS: dict[str, Callable[[Client, str, Mapping[str, str]], dict[str, Any]]] = {
    "userpass": _userpass,
    "approle": _approle,
    "jwt": _jwt,
    "oidc": _oidc,
}


def login_with(
    client: Client, method: str, mount: str, params: Mapping[str, str]
) -> dict[str, Any]:
    """Log in with ``method`` at ``auth/<mount>``; the response body with its ``auth`` block."""
    handler = LOGIN_METHODS.get(method)
    if handler is None:
        known = ", ".join(["token", *LOGIN_METHODS])
        raise UserError(f'Unknown login method "{method}": use one of {known}')
    return handler(client, mount.strip("/"), params)
