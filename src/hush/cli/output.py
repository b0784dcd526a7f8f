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
    "Section",
    "UserError",
    "auth_rows",
    "emit",
    "emit_columns",
    "emit_list",
    "emit_raw",
    "emit_secret",
    "emit_sections",
    "emit_warnings",
    "format_value",
    "human_duration",
    "output_options",
    "pad_equal_signs",
    "secret_rows",
    "wrap_rows",
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
    if value is None or value == "":  # Vault's columnize prints empty cells as n/a
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


def _looks_like_duration(key: str) -> bool:
    # Vault's looksLikeDuration: such fields print as durations ("768h") in tables.
    return key in ("period", "ttl") or key.endswith(("_period", "_ttl", "_timeout"))


def _data_rows(data: Mapping[str, Any]) -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = []
    for key, item in sorted(data.items()):
        duration = _looks_like_duration(key) and type(item) is int
        rows.append((key, human_duration(item) if duration else item))
    return rows


def _quoted_list(items: Any) -> str:
    # Go's %q of a []string, which Vault uses for policy lists: ["default" "web"].
    return "[" + " ".join(orjson.dumps(str(item)).decode() for item in items or []) + "]"


def auth_rows(auth: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """Rows for a response's ``auth`` block, as Vault prints a new or renewed token."""
    rows: list[tuple[str, Any]] = []
    if auth.get("client_token"):
        rows.append(("token", auth["client_token"]))
    duration = int(auth.get("lease_duration") or 0)
    rows += [
        ("token_accessor", auth.get("accessor")),
        # Vault: a duration of 0 is most likely a root token, shown as infinity.
        ("token_duration", human_duration(duration) if duration else "\u221e"),
        ("token_renewable", bool(auth.get("renewable"))),
        ("token_policies", _quoted_list(auth.get("token_policies"))),
        ("identity_policies", _quoted_list(auth.get("identity_policies"))),
        ("policies", _quoted_list(auth.get("policies"))),
    ]
    metadata = auth.get("metadata")
    if isinstance(metadata, Mapping):
        rows += [(f"token_meta_{key}", item) for key, item in sorted(metadata.items())]
    return rows


def _auth_fields(auth: Mapping[str, Any]) -> dict[str, Any]:
    # What -field=NAME finds in an auth block (Vault's PrintRawField names).
    return {
        "token": auth.get("client_token"),
        "token_accessor": auth.get("accessor"),
        "token_duration": auth.get("lease_duration"),
        "token_renewable": auth.get("renewable"),
        "token_policies": auth.get("token_policies"),
        "identity_policies": auth.get("identity_policies"),
        "policies": auth.get("policies"),
    }


def secret_rows(secret: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """A secret envelope's table rows: lease information, the data sorted by key, then auth."""
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
    rows += _data_rows(_secret_data(secret))
    auth = secret.get("auth")
    if isinstance(auth, Mapping):
        rows += auth_rows(auth)
    wrap_info = secret.get("wrap_info")
    if isinstance(wrap_info, Mapping):
        rows += wrap_rows(wrap_info)
    return rows


def wrap_rows(wrap_info: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """Rows for a wrapped response, named as Vault's CLI names them."""
    rows: list[tuple[str, Any]] = [
        ("wrapping_token:", wrap_info.get("token")),
        ("wrapping_accessor:", wrap_info.get("accessor")),
        ("wrapping_token_ttl:", human_duration(int(wrap_info.get("ttl") or 0))),
        ("wrapping_token_creation_time:", wrap_info.get("creation_time")),
        ("wrapping_token_creation_path:", wrap_info.get("creation_path")),
    ]
    if wrap_info.get("wrapped_accessor"):
        rows.append(("wrapped_accessor:", wrap_info["wrapped_accessor"]))
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
    auth = secret.get("auth")
    if isinstance(auth, Mapping):
        fields.update(_auth_fields(auth))
    wrap_info = secret.get("wrap_info")
    if isinstance(wrap_info, Mapping):
        fields.update({name.rstrip(":"): item for name, item in wrap_rows(wrap_info)})
    for name, value in secret_rows(secret):
        fields.setdefault(name, value)
    emit(options, dict(secret), rows=secret_rows(secret), fields=fields)
    emit_warnings(secret)


def emit_warnings(secret: Mapping[str, Any]) -> None:
    """The response's warnings, on stderr, one ``WARNING!`` line each."""
    for warning in secret.get("warnings") or []:
        click.echo(f"WARNING! {warning}", err=True)


def emit_columns(
    options: OutputOptions, data: Any, headers: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """A table with named columns (``secrets list``) in table mode; ``data`` in json/yaml."""
    if options.format == "table":
        _print_table(headers, [[format_value(cell) for cell in row] for row in rows])
    else:
        emit(options, data)


def pad_equal_signs(title: str, width: int) -> str:
    """A section title centred in equal signs, as Vault's ``padEqualSigns`` draws it."""
    signs = width - (len(title) + 2)
    signs = 4 if signs <= 0 else signs + signs % 2
    return f"{'=' * (signs // 2)} {title} {'=' * (signs // 2)}"


@dataclass(frozen=True, slots=True)
class Section:
    """One titled block of table output: a line of ``text`` or Key/Value ``rows``."""

    title: str
    rows: Rows = ()
    text: str | None = None


def emit_sections(
    options: OutputOptions,
    data: Any,
    sections: Sequence[Section],
    *,
    fields: Mapping[str, Any] | None = None,
) -> None:
    """Vault's sectioned tables (``kv get`` on KV v2): ``== Title ==`` blocks.

    json/yaml print ``data``; ``-field`` picks from ``fields``. In table mode each section is
    its title, then its text or its Key/Value table; sections are separated by a blank line.
    """
    if options.field is not None or options.format != "table":
        emit(options, data, fields=fields)
        return
    for index, section in enumerate(sections):
        if index:
            click.echo("")
        if section.text is not None:
            click.echo(pad_equal_signs(section.title, len(section.text)))
            click.echo(section.text)
            continue
        # Vault's getHeaderForMap: the longest key, 4 spaces, and len("Value").
        width = max((len(key) for key, _ in section.rows), default=0) + 4 + 5
        click.echo(pad_equal_signs(section.title, width))
        _print_table(("Key", "Value"), [(key, format_value(cell)) for key, cell in section.rows])
