"""The CLI's HTTP client: where the server is, which token to send, and how failures read.

Address: ``-address``, else ``HUSH_ADDR``, else ``VAULT_ADDR``, else ``http://127.0.0.1:8200``.
Token: ``HUSH_TOKEN``, else ``VAULT_TOKEN``, else the token helper file ``~/.hush-token``.
TLS: ``-ca-cert`` (``HUSH_CACERT``/``VAULT_CACERT``, a file or a directory of certificates) and
``-tls-skip-verify`` (``HUSH_SKIP_VERIFY``/``VAULT_SKIP_VERIFY``).
Wrapping: ``-wrap-ttl`` (``HUSH_WRAP_TTL``/``VAULT_WRAP_TTL``) on any command asks the server to
wrap the response (``X-Vault-Wrap-TTL``), as Vault's global flag does.

The token is held only by :class:`Client` and sent only in ``X-Vault-Token``; no message built
here contains it or a request body.
"""

from __future__ import annotations

import functools
import os
import ssl
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import click
import orjson

from hush.cli.options import DURATION
from hush.cli.output import CLIError

if TYPE_CHECKING:
    import httpx

__all__ = [
    "DEFAULT_ADDRESS",
    "TOKEN_HELPER_FILE",
    "APIError",
    "Client",
    "ClientSettings",
    "as_mapping",
    "client_options",
    "read_token",
    "replace_file",
    "response_data",
    "store_token",
]

T = TypeVar("T")

DEFAULT_ADDRESS = "http://127.0.0.1:8200"
TOKEN_HELPER_FILE = ".hush-token"  # a file name, not a secret
_TIMEOUT_SECONDS = 60.0  # Vault's CLI default (VAULT_CLIENT_TIMEOUT)


class APIError(CLIError):
    """The server answered with an error status; one line per error it gave, exit code 2."""

    def __init__(self, action: str, method: str, url: str, status: int, errors: list[str]) -> None:
        lines = [f"Error {action}: HTTP {status} from {method} {url}"]
        lines += [f"* {error}" for error in errors] or ["* (the server gave no error message)"]
        super().__init__("\n".join(lines))
        self.status = status
        self.errors = errors


@dataclass(frozen=True, slots=True)
class ClientSettings:
    """Where the server is and how to trust it (the token is read separately, never stored here)."""

    address: str = DEFAULT_ADDRESS
    ca_cert: str | None = None
    skip_verify: bool = False
    wrap_ttl: str | None = None

    def verify(self) -> ssl.SSLContext | bool:
        """The ``verify`` argument for httpx."""
        if self.skip_verify:
            return False
        if not self.ca_cert:
            return True
        try:
            if os.path.isdir(self.ca_cert):
                return ssl.create_default_context(capath=self.ca_cert)
            return ssl.create_default_context(cafile=self.ca_cert)
        except (OSError, ssl.SSLError) as exc:
            raise CLIError(f"Error loading CA certificate {self.ca_cert}: {exc}") from None


def read_token() -> str | None:
    """The token from ``HUSH_TOKEN``, ``VAULT_TOKEN`` or ``~/.hush-token``, if any."""
    for name in ("HUSH_TOKEN", "VAULT_TOKEN"):
        value = os.environ.get(name, "").strip()
        if value:
            return value
    try:
        value = (Path.home() / TOKEN_HELPER_FILE).read_text(encoding="utf-8").strip()
    except (OSError, RuntimeError):  # RuntimeError: no home directory
        return None
    return value or None


def store_token(token: str) -> Path:
    """Save ``token`` as the token helper file ``~/.hush-token`` (mode 0600); return its path.

    The file is written under a temporary name created 0600 and renamed over the old one, so
    the token is never readable by others, not even for a moment, and never half-written.
    """
    try:
        target = Path.home() / TOKEN_HELPER_FILE
    except RuntimeError:
        raise CLIError("Error storing token: no home directory") from None
    try:
        replace_file(target, token, 0o600)
    except OSError as exc:
        raise CLIError(f"Error storing token in {target}: {exc.strerror}") from None
    return target


def replace_file(target: Path, text: str, mode: int) -> None:
    """Replace ``target`` with ``text`` atomically; the new file has ``mode`` from the start.

    Raises :class:`OSError`; a failure leaves ``target`` as it was.
    """
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        os.fchmod(handle, mode)
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, target)
    except OSError:
        Path(temporary).unlink(missing_ok=True)
        raise


def client_options(command: Callable[..., T]) -> Callable[..., T]:
    """Add ``-address``, ``-ca-cert`` and ``-tls-skip-verify``; pass them as ``settings=``."""

    @functools.wraps(command)
    def wrapper(
        *args: Any,
        address: str,
        ca_cert: str | None,
        tls_skip_verify: bool,
        wrap_ttl: str | None,
        **kw: Any,
    ) -> T:
        settings = ClientSettings(
            address.rstrip("/"), ca_cert or None, tls_skip_verify, wrap_ttl or None
        )
        return command(*args, settings=settings, **kw)

    options = [
        click.option(
            "-address",
            "--address",
            "address",
            default=DEFAULT_ADDRESS,
            envvar=["HUSH_ADDR", "VAULT_ADDR"],
            show_default=True,
            help="Server address (env HUSH_ADDR or VAULT_ADDR).",
        ),
        click.option(
            "-ca-cert",
            "--ca-cert",
            "ca_cert",
            default=None,
            envvar=["HUSH_CACERT", "VAULT_CACERT"],
            help="PEM CA certificate file or directory to verify the server with.",
        ),
        click.option(
            "-tls-skip-verify",
            "--tls-skip-verify",
            "tls_skip_verify",
            is_flag=True,
            envvar=["HUSH_SKIP_VERIFY", "VAULT_SKIP_VERIFY"],
            help="Do not verify the server's TLS certificate (insecure).",
        ),
        click.option(
            "-wrap-ttl",
            "--wrap-ttl",
            "wrap_ttl",
            default=None,
            type=DURATION,
            envvar=["HUSH_WRAP_TTL", "VAULT_WRAP_TTL"],
            help="Wrap the response in a single-use token with this TTL (e.g. 5m).",
        ),
    ]
    decorated: Callable[..., T] = wrapper
    for option in reversed(options):
        decorated = option(decorated)
    return decorated


def as_mapping(value: Any) -> Mapping[str, Any]:
    """``value`` if it is a JSON object, else an empty one (response fields may be null)."""
    return value if isinstance(value, Mapping) else {}


def response_data(body: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """The ``data`` object of a response body; empty if there is none."""
    return as_mapping((body or {}).get("data"))


def _has_data(body: Any) -> bool:
    # Vault's api.Logical().Read: a 404 whose body carries data or warnings is still a secret
    # (a deleted KV v2 version answers 404 with its metadata).
    return isinstance(body, dict) and bool(body.get("data") or body.get("warnings"))


def _errors(response: httpx.Response) -> list[str]:
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        text = response.text.strip()
        return [text[:200]] if text else []
    if isinstance(body, dict) and isinstance(body.get("errors"), list):
        return [str(error) for error in body["errors"]]
    return []


class Client:
    """A synchronous client for the ``/v1`` API; use it as a context manager so it is closed."""

    def __init__(self, settings: ClientSettings, *, token: str | None = None) -> None:
        import httpx  # here, not at the top: it is most of the CLI's start-up time

        self.settings = settings
        headers = {"X-Vault-Request": "true"}
        secret = token if token is not None else read_token()
        if secret:
            if not secret.isascii() or not secret.isprintable():
                raise CLIError("Error: the token contains characters not allowed in a header")
            headers["X-Vault-Token"] = secret
        if settings.wrap_ttl:
            headers["X-Vault-Wrap-TTL"] = settings.wrap_ttl
        self._http = httpx.Client(
            base_url=f"{settings.address}/v1/",
            headers=headers,
            verify=settings.verify(),
            timeout=_TIMEOUT_SECONDS,
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        action: str = "making API request",
        missing_ok: bool = False,
        params: Mapping[str, str] | None = None,
        content_type: str = "application/json",
        upload: bytes | None = None,
        raw: bool = False,
    ) -> Any:
        """Send one request and return the decoded JSON body (``None`` for an empty body).

        With ``missing_ok``, a 404 that carries no error messages (Vault's "nothing here")
        returns ``None``, or the body if it still carries data (Vault's rule for reads). Any
        other status of 400 or more raises :class:`APIError`; a transport failure raises
        :class:`CLIError`. ``action`` completes "Error ...: " in messages. ``upload`` sends raw
        bytes instead of JSON; ``raw`` returns the response body as bytes (snapshots).
        """
        import httpx

        url = f"{self.settings.address}/v1/{path.lstrip('/')}"
        content = orjson.dumps(json) if json is not None else upload
        if upload is not None:
            content_type = "application/octet-stream"
        headers = {"Content-Type": content_type} if content is not None else None
        try:
            response = self._http.request(
                method, path.lstrip("/"), content=content, params=params, headers=headers
            )
        except httpx.ConnectError as exc:
            raise CLIError(
                f"Error {action}: cannot connect to {self.settings.address}: {exc}"
            ) from None
        except httpx.TimeoutException:
            raise CLIError(
                f"Error {action}: {method} {url} timed out after {_TIMEOUT_SECONDS:.0f}s"
            ) from None
        except httpx.HTTPError as exc:
            raise CLIError(f"Error {action}: {method} {url}: {exc}") from None
        if response.status_code >= 400:
            errors = _errors(response)
            if missing_ok and response.status_code == 404 and not errors:
                body = _json_or_none(response.content)
                return body if _has_data(body) else None
            raise APIError(action, method, url, response.status_code, errors)
        if raw:
            return response.content
        if not response.content.strip():
            return None
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError:
            raise CLIError(
                f"Error {action}: {method} {url} returned a body that is not JSON"
            ) from None

    def read(
        self,
        path: str,
        *,
        action: str | None = None,
        params: Mapping[str, str] | None = None,
    ) -> dict[str, Any] | None:
        """``GET path``; ``None`` if nothing is there."""
        body = self.request(
            "GET", path, action=action or f"reading {path}", missing_ok=True, params=params
        )
        return body if isinstance(body, dict) else None

    def list(self, path: str, *, action: str | None = None) -> dict[str, Any] | None:
        """``LIST path`` (Vault's verb); ``None`` if nothing is there."""
        body = self.request("LIST", path, action=action or f"listing {path}", missing_ok=True)
        return body if isinstance(body, dict) else None

    def write(
        self, path: str, data: dict[str, Any], *, action: str | None = None
    ) -> dict[str, Any] | None:
        """``PUT path`` with a JSON object; the response body, if any."""
        body = self.request("PUT", path, json=data, action=action or f"writing to {path}")
        return body if isinstance(body, dict) else None

    def patch(
        self, path: str, data: dict[str, Any], *, action: str | None = None
    ) -> dict[str, Any] | None:
        """``PATCH path`` with a JSON merge patch (RFC 7396), as Vault's KV v2 expects."""
        body = self.request(
            "PATCH",
            path,
            json=data,
            action=action or f"patching {path}",
            content_type="application/merge-patch+json",
        )
        return body if isinstance(body, dict) else None

    def delete(self, path: str, *, action: str | None = None) -> dict[str, Any] | None:
        """``DELETE path``; the response body, if any."""
        body = self.request("DELETE", path, action=action or f"deleting {path}")
        return body if isinstance(body, dict) else None


def _json_or_none(content: bytes) -> Any:
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        return None
