"""``hush transit encrypt-file|decrypt-file``: envelope encryption of files under a transit key.

``encrypt-file`` asks transit for a fresh data key (``<mount>/datakey/plaintext/<key>``),
encrypts the file locally with :mod:`hush.envelope` and stores only the wrapped key in the
output's header. ``decrypt-file`` reads that header, has transit unwrap the key
(``<mount>/decrypt/<key>``) and decrypts locally. File contents never go to the server.

Where the data key passes: the server's JSON answer (base64, immutable, dropped at once), a
``bytearray`` that is zeroed as soon as the stream is done, and the AES-GCM context. Output goes
to a temporary file (mode 0600) in the destination's directory, renamed over DST only when the
whole file has been processed, so a failure never leaves partial plaintext behind.
"""

from __future__ import annotations

import base64
import binascii
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote

import click

from hush.cli.client import APIError, Client, ClientSettings, client_options, response_data
from hush.cli.options import VaultGroup, value
from hush.cli.output import CLIError, UserError
from hush.envelope import EnvelopeError, decrypt_stream, encrypt_stream

__all__ = ["transit_group"]

PROGRESS_THRESHOLD = 1024 * 1024  # files larger than this get a progress bar on a terminal

ProgressCallback = Callable[[int], None]


@click.group("transit", cls=VaultGroup)
def transit_group() -> None:
    """Encrypt and decrypt files with data keys wrapped by a transit key."""


_mount_option = value(
    "mount", "Path where the transit engine is mounted.", default="transit", show_default=True
)


@transit_group.command("encrypt-file")
@click.argument("src", type=click.Path(exists=True, dir_okay=False))
@click.argument("dst", type=click.Path(dir_okay=False))
@_mount_option
@value("key", "Name of the transit key that wraps the file's data key.", required=True)
@client_options
def encrypt_file(settings: ClientSettings, src: str, dst: str, mount: str, key: str) -> None:
    """Encrypt SRC into DST under a fresh data key wrapped by transit key -key."""
    mount = mount.strip().strip("/")
    path = f"{mount}/datakey/plaintext/{quote(key, safe='@')}"
    with Client(settings) as client:
        body = client.write(path, {"bits": 256}, action=f"generating a data key with {path}")
    wrapped_key, data_key = _data_key(response_data(body), path)
    try:
        with (
            open(src, "rb") as source,
            _atomic_output(dst) as output,
            _progress_bar(source, "Encrypting") as progress,
        ):
            encrypt_stream(
                source,
                output,
                data_key=data_key,
                wrapped_key=wrapped_key,
                key_name=key,
                progress=progress,
            )
    except ValueError as exc:  # a key name the file format cannot record
        raise UserError(f"Error encrypting {src}: {exc}") from None
    except OSError as exc:
        raise CLIError(f"Error encrypting {src} to {dst}: {_describe(exc)}") from None
    finally:
        _wipe(data_key)
    click.echo(f"Success! Encrypted {src} to {dst} (data key wrapped by {mount}/keys/{key})")


@transit_group.command("decrypt-file")
@click.argument("src", type=click.Path(exists=True, dir_okay=False))
@click.argument("dst", type=click.Path(dir_okay=False))
@_mount_option
@client_options
def decrypt_file(settings: ClientSettings, src: str, dst: str, mount: str) -> None:
    """Decrypt SRC (made by encrypt-file) into DST; transit unwraps its data key."""
    mount = mount.strip().strip("/")
    with Client(settings) as client:
        unwrap = _unwrapper(client, mount, src)
        try:
            with (
                open(src, "rb") as source,
                _atomic_output(dst) as output,
                _progress_bar(source, "Decrypting") as progress,
            ):
                decrypt_stream(source, output, unwrap=unwrap, progress=progress)
        except EnvelopeError as exc:
            raise CLIError(f"Error decrypting {src}: {exc}") from None
        except OSError as exc:
            raise CLIError(f"Error decrypting {src} to {dst}: {_describe(exc)}") from None
    click.echo(f"Success! Decrypted {src} to {dst}")


def _unwrapper(client: Client, mount: str, src: str) -> Callable[[str, str], bytearray]:
    """The ``unwrap`` callback for :func:`decrypt_stream`: transit's ``decrypt/<key>``."""

    def unwrap(key_name: str, wrapped_key: str) -> bytearray:
        # key_name comes from the file, but decrypt_stream has checked it against transit's
        # key-name pattern (no "/"), so it names a key and cannot redirect the request.
        path = f"{mount}/decrypt/{quote(key_name, safe='@')}"
        try:
            body = client.write(
                path, {"ciphertext": wrapped_key}, action=f"unwrapping the data key with {path}"
            )
        except APIError as exc:
            if exc.status != 400:  # no permission, sealed, ...: the server's own words
                raise
            # Transit answers 400 for a wrapped key it cannot open (or a key it does not have):
            # to the user, the file is not one this key can open.
            details = [f"* transit could not unwrap the data key with {mount}/keys/{key_name}"]
            details += [f"* {error}" for error in exc.errors]
            lines = [f"Error decrypting {src}: {EnvelopeError()}", *details]
            raise CLIError("\n".join(lines)) from None
        plaintext = response_data(body).get("plaintext")
        return _decode_key(plaintext, path)

    return unwrap


def _data_key(data: Mapping[str, Any], path: str) -> tuple[str, bytearray]:
    """The wrapped and plaintext data key from a ``datakey/plaintext`` answer."""
    wrapped_key = data.get("ciphertext")
    if not isinstance(wrapped_key, str) or not wrapped_key:
        raise CLIError(f"Error generating a data key with {path}: the answer has no ciphertext")
    return wrapped_key, _decode_key(data.get("plaintext"), path)


def _decode_key(text: Any, path: str) -> bytearray:
    """A base64 data key from the server as a ``bytearray`` the caller zeroes after use."""
    if not isinstance(text, str):
        raise CLIError(f"Error reading the data key from {path}: the answer has no plaintext")
    try:
        return bytearray(base64.b64decode(text, validate=True))
    except (binascii.Error, ValueError):
        # Never echo the text: it is key material, however malformed.
        raise CLIError(f"Error reading the data key from {path}: not valid base64") from None


def _describe(exc: OSError) -> str:
    return f"{exc.strerror}: {exc.filename}" if exc.filename else str(exc.strerror or exc)


def _wipe(secret: bytearray) -> None:
    secret[:] = bytes(len(secret))


@contextmanager
def _atomic_output(dst: str) -> Iterator[BinaryIO]:
    """A temporary file (0600) beside ``dst``, renamed to ``dst`` only if the block succeeds."""
    target = Path(dst)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
    )
    done = False
    try:
        with os.fdopen(handle, "wb") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, target)
        done = True
    finally:
        if not done:
            Path(temporary).unlink(missing_ok=True)


@contextmanager
def _progress_bar(source: BinaryIO, label: str) -> Iterator[ProgressCallback | None]:
    """A rich progress bar on stderr for files over 1 MiB, when stderr is a terminal."""
    from rich.console import Console  # imported on use: rich is slow to import

    total = os.fstat(source.fileno()).st_size
    console = Console(stderr=True)
    if total <= PROGRESS_THRESHOLD or not console.is_terminal:
        yield None
        return
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda count: bar.advance(task, count)
