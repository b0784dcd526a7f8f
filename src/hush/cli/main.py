"""The ``hush`` command line: one group, one module per command family."""

from __future__ import annotations

import click

from hush import __version__
from hush.cli.server import server_command

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "-help", "--help"]})
@click.version_option(__version__, "-version", "--version", prog_name="Hush")
def cli() -> None:
    """Hush: a self-hosted secrets manager that speaks Vault's and AWS's APIs."""


cli.add_command(server_command)


def main() -> None:
    """Console-script entry point."""
    cli()


if __name__ == "__main__":
    main()
