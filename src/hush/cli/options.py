"""Vault-style command-line options: ``-name=V``, repeated ``-name k=v``, and ``-flag=false``.

Vault's CLI uses Go's ``flag`` package: one dash, ``-name=value`` or ``-name value``, boolean
flags as ``-flag`` or ``-flag=true|false``, list flags repeated or comma-separated, map flags as
repeated ``-name key=value``. The helpers here declare click options that accept those spellings
(also with two dashes), and :class:`VaultCommand` accepts ``-flag=true|false`` for boolean flags.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import click

__all__ = [
    "DURATION",
    "Decorator",
    "VaultCommand",
    "VaultGroup",
    "flag",
    "key_values",
    "split_list",
    "value",
]

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


class VaultCommand(click.Command):
    """A command whose boolean flags also accept Vault's ``-flag=true`` and ``-flag=false``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Rewrite ``-flag=BOOL`` for boolean flags, then parse as click does."""
        rewritten: list[str] = []
        for index, arg in enumerate(args):
            if arg == "--":
                rewritten += args[index:]
                break
            rewritten += self._bool_flag(arg)
        return super().parse_args(ctx, rewritten)

    def _bool_flag(self, arg: str) -> list[str]:
        name, sep, text = arg.partition("=")
        if not sep or not name.startswith("-"):
            return [arg]
        for param in self.params:
            if not (isinstance(param, click.Option) and param.is_bool_flag):
                continue
            if name in param.opts:
                on = click.BOOL.convert(text, param, None)
                if on:
                    return [name]
                # false: the "off" spelling if there is one, else nothing (off is the default)
                return param.secondary_opts[:1]
        return [arg]


class VaultGroup(click.Group):
    """A group whose subcommands and subgroups are :class:`VaultCommand`/:class:`VaultGroup`."""

    command_class = VaultCommand
    group_class = type  # subgroups are VaultGroup too


def _names(name: str) -> tuple[str, str]:
    return f"-{name}", f"--{name}"


def flag(name: str, help_text: str, dest: str | None = None, **attrs: Any) -> Decorator:
    """A boolean flag: ``-name`` (also ``-name=true|false`` under :class:`VaultCommand`)."""
    return click.option(
        *_names(name), dest or name.replace("-", "_"), is_flag=True, help=help_text, **attrs
    )


def value(name: str, help_text: str, dest: str | None = None, **attrs: Any) -> Decorator:
    """A valued option accepted as ``-name=V``, ``-name V`` and ``--name V``."""
    attrs.setdefault("default", None)
    return click.option(*_names(name), dest or name.replace("-", "_"), help=help_text, **attrs)


def split_list(values: Sequence[str]) -> list[str]:
    """Repeated and comma-separated values as one list (Vault's ``StringSliceVar``)."""
    return [part.strip() for item in values for part in item.split(",") if part.strip()]


def key_values(values: Sequence[str], flag_name: str) -> dict[str, str]:
    """Repeated ``key=value`` options as a mapping (Vault's ``StringMapVar``)."""
    result: dict[str, str] = {}
    for item in values:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise click.UsageError(f'invalid value "{item}" for -{flag_name}: expected key=value')
        result[key] = text
    return result


class _Duration(click.ParamType[str, Any]):
    """A Vault duration (``30m``, ``768h``, ``3600``), checked here and sent as typed."""

    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from hush.core.ttl import parse_ttl  # imported on use: keeps CLI start-up light

        text = str(value).strip()
        try:
            parse_ttl(text)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        return text


DURATION = _Duration()
