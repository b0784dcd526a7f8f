"""Every output format of the CLI in one place: ``-format=table|json|yaml`` and ``-field=NAME``.

Commands hand this module *what* to show (the JSON body, the Key/Value rows of its table, or a
block of text for table mode) and it decides *how*. Table output mimics Vault's CLI: two columns,
``Key`` and ``Value``, with a dashed rule under the header; values print the way Vault's Go code
prints them (``true``, ``n/a``, ``[a b]``, ``map[k:v]``, ``768h``).
"""

from __future__ import annotations

import functools
import importlib
import io
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any, TypeVar

import click
import orjson

__all__ = [
    "FORMATS",
    "CLIError",
    "OutputOptions",
    "UserError",
    "emit",
    "emit_list",
    "emit_raw",
    "emit_secret",
    "format_value",
    "human_duration",
    "output_options",
    "secret_rows",
]

T = TypeVar("T")
Rows = Sequence[tuple[str, Any]]

FORMATS = ("table", "json", "yaml")


class CLIError(click.ClickException):
    """A failure reported on stderr exactly as worded; exit code 2 (Vault's for API errors)."""

    exit_code = 2

    def show(self, file: IO[Any] | None = None) -> None:
        """Print the message without click's ``Error:`` prefix (messages carry their own)."""
        click.echo(self.message, err=True)


class UserError(CLIError):
    """The command cannot do what was asked (bad input, nothing in progress); exit code 1."""

    exit_code = 1


@dataclass(frozen=True, slots=True)
class OutputOptions:
    """What the user asked for with ``-format`` and ``-field``."""

    format: str = "table"
    field: str | None = None


def output_options(*, field: bool = True) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Add ``-format`` (and ``-field`` unless ``field=False``) and pass them as ``output=``."""

    def decorate(command: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(command)
        def wrapper(
            *args: Any, output_format: str, output_field: str | None = None, **kw: Any
        ) -> T:
            options = OutputOptions(format=output_format.lower(), field=output_field or None)
            return command(*args, output=options, **kw)

        decorated: Callable[..., T] = click.option(
            "-format",
            "--format",
            "output_format",
            type=click.Choice(FORMATS, case_sensitive=False),
            default="table",
            show_default=True,
            envvar=["HUSH_FORMAT", "VAULT_FORMAT"],
            help="Output format (env HUSH_FORMAT or VAULT_FORMAT).",
        )(wrapper)
        if field:
            decorated = click.option(
                "-field",
                "--field",
                "output_field",
                default=None,
                metavar="NAME",
                help="Print only this field, raw, with no trailing formatting.",
            )(decorated)
        return decorated

    return decorate


def human_duration(seconds: int) -> str:
    """Seconds as Vault prints a duration: ``768h``, ``1h30m``, ``45s``, ``0s``."""
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "")
    return text + (f"{secs}s" if secs or not text else "")


def format_value(value: Any) -> str:
    """One table cell, printed the way Vault's Go CLI prints the value."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "[" + " ".join(format_value(item) for item in value) + "]"
    if isinstance(value, Mapping):
        return "map[" + " ".join(f"{k}:{format_value(v)}" for k, v in value.items()) + "]"
    return str(value)


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode()


def _yaml(value: Any) -> str:
    try:
        yaml = importlib.import_module("yaml")
    except ImportError:
        raise UserError(
            "-format=yaml needs PyYAML, which is not installed (pip install pyyaml); "
            "use -format=json or -format=table"
        ) from None
    text: str = yaml.safe_dump(value, sort_keys=False, default_flow_style=False)
    return text.rstrip("\n")


def _print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    from rich.console import Console  # imported on use: rich is slow to import
    from rich.table import Table

    table = Table(box=None, show_edge=False, pad_edge=False, padding=(0, 4, 0, 0))
    for header in headers:
        table.add_column(header, no_wrap=True, overflow="ignore")
    table.add_row(*("-" * len(header) for header in headers))
    for row in rows:
        table.add_row(*row)
    # Wide enough that nothing folds: a key or token cut across lines cannot be copied.
    width = sum(max(len(c) for c in [h, *(r[i] for r in rows)]) + 4 for i, h in enumerate(headers))
    buffer = io.StringIO()
    console = Console(file=buffer, width=max(width, 20), markup=False, highlight=False, emoji=False)
    console.print(table)
    click.echo("\n".join(line.rstrip() for line in buffer.getvalue().splitlines()))


def _print_field(options: OutputOptions, fields: Mapping[str, Any]) -> None:
    name = options.field or ""
    if name not in fields:
        # Vault: `Field "x" not present in secret`, exit 1.
        raise UserError(f'Field "{name}" not present in secret')
    value = fields[name]
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    emit_raw(OutputOptions(format=options.format), value, text)


def emit_raw(options: OutputOptions, data: Any, text: str) -> None:
    """A value meant for scripts (a field, a token, an OTP).

    json/yaml print ``data``; table prints ``text`` alone, with a newline only on a terminal
    (Vault's ``PrintRaw``), so ``$(hush ... -field=x)`` and pipes get the exact value.
    """
    if options.format == "json":
        click.echo(_json(data))
    elif options.format == "yaml":
        click.echo(_yaml(data))
    else:
        click.echo(text, nl=sys.stdout.isatty())


def emit(
    options: OutputOptions,
    data: Any,
    *,
    rows: Rows | None = None,
    text: str | None = None,
    fields: Mapping[str, Any] | None = None,
) -> None:
    """Print ``data`` in the chosen format.

    json/yaml print ``data`` itself. Table prints ``text`` as-is if given, else ``rows`` (or the
    items of ``data``) as a Key/Value table. ``-field`` prints one entry of ``fields`` (default
    ``data``) raw.
    """
    if options.field is not None:
        _print_field(options, fields if fields is not None else data)
    elif options.format == "json":
        click.echo(_json(data))
    elif options.format == "yaml":
        click.echo(_yaml(data))
    elif text is not None:
        click.echo(text)
    else:
        items = rows if rows is not None else list(dict(data).items())
        _print_table(("Key", "Value"), [(key, format_value(value)) for key, value in items])


def emit_list(options: OutputOptions, keys: Sequence[str]) -> None:
    """A listing: a ``Keys`` column in table mode, the array of keys in json/yaml (as Vault)."""
    if options.format == "table":
        _print_table(("Keys",), [(str(key),) for key in keys])
    else:
        emit(options, list(keys))


def secret_rows(secret: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """A secret envelope's table rows: lease information first, then the data, sorted by key."""
    rows: list[tuple[str, Any]] = []
    duration = int(secret.get("lease_duration") or 0)
    if duration > 0:
        if secret.get("lease_id"):
            rows += [
                ("lease_id", secret["lease_id"]),
                ("lease_duration", human_duration(duration)),
                ("lease_renewable", bool(secret.get("renewable"))),
            ]
        else:
            rows.append(("refresh_interval", human_duration(duration)))
    rows += sorted(_secret_data(secret).items())
    return rows


def _secret_data(secret: Mapping[str, Any]) -> Mapping[str, Any]:
    # Raw sys/ bodies (seal-status, health, init) have no envelope: their fields are the data.
    if "data" not in secret and "request_id" not in secret:
        return secret
    data = secret.get("data")
    return data if isinstance(data, Mapping) else {}


def emit_secret(options: OutputOptions, secret: Mapping[str, Any]) -> None:
    """A Vault secret envelope: whole in json/yaml, Key/Value rows in a table, data for -field."""
    fields = dict(_secret_data(secret))
    for name, value in secret_rows(secret):
        fields.setdefault(name, value)
    emit(options, dict(secret), rows=secret_rows(secret), fields=fields)
    for warning in secret.get("warnings") or []:
        click.echo(f"WARNING! {warning}", err=True)
