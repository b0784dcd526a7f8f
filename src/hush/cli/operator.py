"""``hush status`` and ``hush operator ...``: seal lifecycle, key rotation, rekey, root generation.

Flags and messages follow Vault's CLI. Unseal keys and tokens are printed only by the commands
whose purpose is to hand them over (``init``, a completed ``rekey``, ``generate-root -init`` for
the OTP, ``generate-root -decode``); keys typed by the operator are never echoed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any

import click

from hush.cli.client import Client, ClientSettings, client_options
from hush.cli.output import CLIError, OutputOptions, UserError, emit, emit_raw, output_options

__all__ = ["operator_group", "read_key", "seal_status_rows", "status_command"]

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]
_SEALED_EXIT = 2  # `vault status`: 0 unsealed, 2 sealed, 1 error
_ERROR_EXIT = 1


def read_key(key: str | None, prompt: str) -> str:
    """A key from the argument, from stdin for ``-``, or a hidden prompt on a terminal."""
    if key == "-":
        value = sys.stdin.read().strip()
    elif key:
        value = key.strip()
    elif sys.stdin.isatty():
        value = str(click.prompt(prompt, hide_input=True, err=True)).strip()
    else:
        raise click.UsageError("no key given: pass KEY, or - to read it from standard input")
    if not value:
        raise click.UsageError("the key is empty")
    return value


def _exclusive(**flags: bool) -> None:
    chosen = [f"-{name.replace('_', '-')}" for name, on in flags.items() if on]
    if len(chosen) > 1:
        raise click.UsageError(f"{' and '.join(chosen)} cannot be used together")


def _submit_share(
    client: Client, current: Mapping[str, Any], path: str, key: str | None, nonce: str, what: str
) -> dict[str, Any]:
    """Submit one key share toward the operation whose status is ``current``."""
    if not current.get("started"):
        raise UserError(f'No {what} is in progress. Start one with "hush operator {what} -init".')
    share = read_key(key, "Unseal Key (will be hidden)")
    data = {"key": share, "nonce": nonce or current.get("nonce", "")}
    return client.write(path, data, action=f"submitting a key for {what}") or {}


def seal_status_rows(status: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """Rows of Vault's seal-status table."""
    recovery = bool(status.get("recovery_seal"))
    rows: list[tuple[str, Any]] = [("Seal Type", status.get("type", "shamir"))]
    if recovery:
        rows.append(("Recovery Seal Type", status.get("recovery_seal_type", "shamir")))
    rows += [
        ("Initialized", status.get("initialized")),
        ("Sealed", status.get("sealed")),
        ("Total Recovery Shares" if recovery else "Total Shares", status.get("n")),
        ("Threshold", status.get("t")),
    ]
    if status.get("migration"):
        rows.append(("Seal Migration in Progress", True))
    if status.get("sealed"):
        rows.append(("Unseal Progress", f"{status.get('progress', 0)}/{status.get('t', 0)}"))
        rows.append(("Unseal Nonce", status.get("nonce") or None))
    rows += [("Version", status.get("version")), ("Build Date", status.get("build_date") or None)]
    rows.append(("Storage Type", status.get("storage_type")))
    if status.get("cluster_name"):
        rows += [("Cluster Name", status["cluster_name"]), ("Cluster ID", status.get("cluster_id"))]
    rows.append(("HA Enabled", False))
    return rows


def _emit_seal_status(output: OutputOptions, status: Mapping[str, Any]) -> None:
    emit(output, dict(status), rows=seal_status_rows(status))


@click.command("status")
@client_options
@output_options(field=False)
@click.pass_context
def status_command(ctx: click.Context, settings: ClientSettings, output: OutputOptions) -> None:
    """Print the seal status; exit 0 if unsealed, 2 if sealed, 1 on error."""
    try:
        with Client(settings) as client:
            status = client.request("GET", "sys/seal-status", action="checking seal status") or {}
    except CLIError as exc:
        exc.show()
        ctx.exit(_ERROR_EXIT)
    _emit_seal_status(output, status)
    ctx.exit(_SEALED_EXIT if status.get("sealed") else 0)


@click.group("operator")
def operator_group() -> None:
    """Operate the server: init, unseal, seal, rotate, rekey, generate-root."""


def _flag(name: str, help_text: str, dest: str | None = None) -> Decorator:
    """A Vault-style boolean flag accepted as ``-name`` and ``--name``."""
    return click.option(
        f"-{name}", f"--{name}", dest or name.replace("-", "_"), is_flag=True, help=help_text
    )


def _value(name: str, help_text: str, **attrs: Any) -> Decorator:
    """A Vault-style valued option accepted as ``-name=V``, ``-name V`` and ``--name V``."""
    attrs.setdefault("default", "")
    return click.option(f"-{name}", f"--{name}", name.replace("-", "_"), help=help_text, **attrs)


_key_shares = _value("key-shares", "Number of key shares to create.", type=int, default=5)
_key_threshold = _value(
    "key-threshold", "Number of shares needed to rebuild the key.", type=int, default=3
)
_recovery_shares = _value(
    "recovery-shares", "Number of recovery key shares (auto-unseal seals).", type=int, default=5
)
_recovery_threshold = _value(
    "recovery-threshold", "Recovery shares needed (auto-unseal seals).", type=int, default=3
)


@operator_group.command("init")
@_key_shares
@_key_threshold
@_recovery_shares
@_recovery_threshold
@_flag("status", "Only report initialisation.", "check")
@client_options
@output_options(field=False)
@click.pass_context
def init_command(
    ctx: click.Context,
    settings: ClientSettings,
    output: OutputOptions,
    key_shares: int,
    key_threshold: int,
    recovery_shares: int,
    recovery_threshold: int,
    check: bool,
) -> None:
    """Initialise the server: print the unseal key shares and the initial root token."""
    with Client(settings) as client:
        if check:
            # Vault: exit 0 initialised, 2 not initialised, 1 error.
            body = client.request("GET", "sys/init", action="checking initialization status")
            initialized = bool(body.get("initialized"))
            click.echo(f"Hush is {'' if initialized else 'not '}initialized")
            ctx.exit(0 if initialized else _SEALED_EXIT)
        status = client.request("GET", "sys/seal-status", action="checking the seal type") or {}
        auto = bool(status.get("recovery_seal"))
        request = (
            {"recovery_shares": recovery_shares, "recovery_threshold": recovery_threshold}
            if auto
            else {"secret_shares": key_shares, "secret_threshold": key_threshold}
        )
        body = client.write("sys/init", request, action="initializing") or {}
    emit(output, _init_data(body, request, auto), text=_init_text(body, request, auto))


def _init_data(body: Mapping[str, Any], request: Mapping[str, int], auto: bool) -> dict[str, Any]:
    """``vault operator init -format=json``'s fields."""
    return {
        "unseal_keys_b64": list(body.get("keys_base64") or []),
        "unseal_keys_hex": list(body.get("keys") or []),
        "unseal_shares": 1 if auto else request["secret_shares"],
        "unseal_threshold": 1 if auto else request["secret_threshold"],
        "recovery_keys_b64": list(body.get("recovery_keys_base64") or []),
        "recovery_keys_hex": list(body.get("recovery_keys") or []),
        "recovery_keys_shares": request.get("recovery_shares", 0),
        "recovery_keys_threshold": request.get("recovery_threshold", 0),
        "root_token": body.get("root_token", ""),
    }


def _init_text(body: Mapping[str, Any], request: Mapping[str, int], auto: bool) -> str:
    """``vault operator init``'s table output."""
    if auto:
        keys = list(body.get("recovery_keys_base64") or [])
        lines = [f"Recovery Key {i}: {key}" for i, key in enumerate(keys, start=1)]
        shares, threshold = request["recovery_shares"], request["recovery_threshold"]
        tail = [
            f"Success! Hush is initialized with {shares} recovery key shares and a key "
            f"threshold of {threshold}.",
            "Hush unseals itself with its seal; the recovery keys are needed to generate a root",
            "token, to unseal after 'hush operator seal', and to migrate the seal.",
        ]
    else:
        keys = list(body.get("keys_base64") or [])
        lines = [f"Unseal Key {i}: {key}" for i, key in enumerate(keys, start=1)]
        shares, threshold = request["secret_shares"], request["secret_threshold"]
        tail = [
            f"Hush initialized with {shares} key shares and a key threshold of {threshold}.",
            "Please securely distribute the key shares printed above. When Hush is sealed or",
            f"restarted, {threshold} of these keys are needed to unseal it.",
        ]
    return "\n".join([*lines, "", f"Initial Root Token: {body.get('root_token', '')}", "", *tail])


@operator_group.command("unseal")
@click.argument("key", required=False)
@_flag("reset", "Discard the keys given so far.")
@_flag("migrate", "This share is for a seal migration (Shamir <-> auto-unseal).")
@client_options
@output_options(field=False)
def unseal_command(
    settings: ClientSettings, output: OutputOptions, key: str | None, reset: bool, migrate: bool
) -> None:
    """Submit one unseal (or recovery) key share (KEY, - for stdin, or a hidden prompt)."""
    _exclusive(reset=reset, migrate=migrate)
    body: dict[str, Any] = (
        {"reset": True} if reset else {"key": read_key(key, "Unseal Key (will be hidden)")}
    )
    if migrate:
        body["migrate"] = True
    with Client(settings) as client:
        status = client.write("sys/unseal", body, action="unsealing") or {}
    _emit_seal_status(output, status)


@operator_group.command("seal")
@client_options
def seal_command(settings: ClientSettings) -> None:
    """Seal the server: every key is dropped from its memory."""
    with Client(settings) as client:
        client.write("sys/seal", {}, action="sealing")
    click.echo("Success! Hush is sealed.")


def _emit_key_status(output: OutputOptions, status: Mapping[str, Any]) -> None:
    data = dict(status.get("data") or status)
    rows = [
        ("Key Term", data.get("term")),
        ("Install Time", data.get("install_time")),
        ("Encryption Count", data.get("encryptions")),
    ]
    emit(output, data, rows=rows)


@operator_group.command("key-status")
@client_options
@output_options()
def key_status_command(settings: ClientSettings, output: OutputOptions) -> None:
    """Print the active encryption key's term and install time."""
    with Client(settings) as client:
        status = client.read("sys/key-status", action="reading key status") or {}
    _emit_key_status(output, status)


@operator_group.command("rotate")
@client_options
@output_options()
def rotate_command(settings: ClientSettings, output: OutputOptions) -> None:
    """Rotate the encryption key: new writes use a new term, old terms still decrypt."""
    with Client(settings) as client:
        client.write("sys/rotate", {}, action="rotating key")
        status = client.read("sys/key-status", action="reading key status") or {}
    if output.format == "table" and output.field is None:
        click.echo("Success! Rotated key\n")
    _emit_key_status(output, status)


# --- rekey ------------------------------------------------------------------------------------


def _rekey_rows(status: Mapping[str, Any], verifying: bool) -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = [
        ("Nonce", status.get("nonce") or None),
        ("Started", status.get("started")),
    ]
    if verifying:
        rows.append(("Verification Progress", f"{status.get('progress', 0)}/{status.get('t', 0)}"))
    else:
        rows.append(("Rekey Progress", f"{status.get('progress', 0)}/{status.get('required', 0)}"))
    rows += [("New Shares", status.get("n")), ("New Threshold", status.get("t"))]
    if not verifying:
        rows.append(("Verification Required", status.get("verification_required")))
    return rows


def _rekey_complete_text(body: Mapping[str, Any], shares: int, threshold: int) -> str:
    lines = [f"Key {i}: {key}" for i, key in enumerate(body.get("keys_base64") or [], start=1)]
    lines += ["", f"Operation nonce: {body.get('nonce', '')}", ""]
    lines.append(f"New unseal key: {shares} key shares, a key threshold of {threshold}.")
    if body.get("verification_required"):
        lines += [
            f"It takes effect once {threshold} of the new shares are verified with",
            "hush operator rekey -verify KEY",
            "",
            f"Verification nonce: {body.get('verification_nonce', '')}",
        ]
    else:
        lines.append("It is in use now; distribute the key shares printed above securely.")
    return "\n".join(lines)


@operator_group.command("rekey")
@click.argument("key", required=False)
@_flag("init", "Start a rekey.")
@_flag("status", "Print the rekey's progress.")
@_flag("cancel", "Cancel the rekey.")
@_flag(
    "verify", "With -init: require verification of the new shares; otherwise act on verification."
)
@_value("nonce", "Nonce of the rekey in progress.")
@_key_shares
@_key_threshold
@client_options
@output_options(field=False)
def rekey_command(
    settings: ClientSettings,
    output: OutputOptions,
    key: str | None,
    init: bool,
    status: bool,
    cancel: bool,
    verify: bool,
    nonce: str,
    key_shares: int,
    key_threshold: int,
) -> None:
    """Replace the unseal key and its shares (KEY: one current share, or a new one to verify)."""
    _exclusive(init=init, status=status, cancel=cancel)
    endpoint = "sys/rekey/verify" if verify else "sys/rekey/init"
    with Client(settings) as client:
        if init:
            body = client.write(
                "sys/rekey/init",
                {
                    "secret_shares": key_shares,
                    "secret_threshold": key_threshold,
                    "require_verification": verify,
                },
                action="initializing rekey",
            )
            emit(output, body or {}, rows=_rekey_rows(body or {}, False))
            return
        if cancel:
            # Without a sudo token the server wants the attempt's nonce to cancel it.
            params = {"nonce": nonce} if nonce else None
            client.request("DELETE", endpoint, params=params, action="canceling rekey")
            click.echo("Success! Canceled rekeying (if it was started)")
            return
        current = client.read(endpoint, action="reading rekey status") or {}
        if status:
            emit(output, current, rows=_rekey_rows(current, verify))
            return
        target = "sys/rekey/verify" if verify else "sys/rekey/update"
        body = _submit_share(client, current, target, key, nonce, "rekey")
    if not body.get("complete"):
        emit(output, body, rows=_rekey_rows(body, verify))
    elif verify:
        emit(output, body, text="Success! Rekey verified: the new unseal keys are now in use.")
    else:
        n, t = int(current.get("n") or 0), int(current.get("t") or 0)
        emit(output, body, text=_rekey_complete_text(body, n, t))


# --- generate-root ----------------------------------------------------------------------------

_DEFAULT_OTP_LENGTH = 28


def _root_rows(status: Mapping[str, Any]) -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = [
        ("Nonce", status.get("nonce") or None),
        ("Started", status.get("started")),
        ("Progress", f"{status.get('progress', 0)}/{status.get('required', 0)}"),
        ("Complete", status.get("complete")),
    ]
    if status.get("encoded_token"):
        rows.append(("Encoded Token", status["encoded_token"]))
    if status.get("otp"):
        rows.append(("OTP", status["otp"]))
    if status.get("otp_length"):
        rows.append(("OTP Length", status["otp_length"]))
    return rows


@operator_group.command("generate-root")
@click.argument("key", required=False)
@_flag("init", "Start generating a root token.")
@_flag("status", "Print the attempt's progress.")
@_flag("cancel", "Cancel the attempt.")
@_value("nonce", "Nonce of the attempt in progress.")
@_value("otp", "OTP to encode with (-init) or decode.")
@_value("decode", "Encoded token to decode (-: stdin).")
@_flag("generate-otp", "Print an OTP.")
@client_options
@output_options(field=False)
def generate_root_command(
    settings: ClientSettings,
    output: OutputOptions,
    key: str | None,
    init: bool,
    status: bool,
    cancel: bool,
    nonce: str,
    otp: str,
    decode: str,
    generate_otp: bool,
) -> None:
    """Generate a new root token from a quorum of unseal key shares."""
    _exclusive(
        init=init, status=status, cancel=cancel, decode=bool(decode), generate_otp=generate_otp
    )
    if decode:
        if not otp:
            raise click.UsageError("-decode needs -otp")
        # Imported here: hush.core pulls in the storage drivers, which other commands never need.
        from hush.core.generate_root import decode_token

        encoded = sys.stdin.read().strip() if decode == "-" else decode
        try:
            token = decode_token(encoded, otp)
        except ValueError as exc:
            raise UserError(f"Error decoding root token: {exc}") from None
        emit_raw(output, {"token": token}, token)
        return
    with Client(settings) as client:
        if generate_otp:
            current = client.read("sys/generate-root/attempt", action="reading status") or {}
            length = int(current.get("otp_length") or _DEFAULT_OTP_LENGTH)
            from hush.crypto import random_token_string

            fresh = random_token_string(length)
            emit_raw(output, {"otp": fresh}, fresh)
            return
        if init:
            body = (
                client.write(
                    "sys/generate-root/attempt",
                    {"otp": otp} if otp else {},
                    action="initializing root generation",
                )
                or {}
            )
            emit(output, body, rows=_root_rows(body))
            return
        if cancel:
            client.request(
                "DELETE",
                "sys/generate-root/attempt",
                params={"nonce": nonce} if nonce else None,
                action="canceling root generation",
            )
            click.echo("Success! Root token generation canceled (if it was started)")
            return
        current = client.read("sys/generate-root/attempt", action="reading status") or {}
        if status:
            emit(output, current, rows=_root_rows(current))
            return
        body = _submit_share(
            client, current, "sys/generate-root/update", key, nonce, "generate-root"
        )
    emit(output, body, rows=_root_rows(body))
