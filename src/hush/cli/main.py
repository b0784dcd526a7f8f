"""The ``hush`` command line: one group, one module per command family."""

from __future__ import annotations

import sys

import click

from hush import __version__
from hush.cli.audit import audit_group
from hush.cli.auth import auth_group
from hush.cli.generic import (
    delete_command,
    list_command,
    read_command,
    write_command,
)
from hush.cli.kv import kv_group
from hush.cli.kv_metadata import kv_metadata_group
from hush.cli.lease import lease_group
from hush.cli.login import login_command
from hush.cli.migrate import migrate_command
from hush.cli.operator import operator_group, status_command
from hush.cli.policy import policy_group
from hush.cli.secrets import secrets_group
from hush.cli.server import server_command
from hush.cli.snapshot import snapshot_group
from hush.cli.token import token_group
from hush.cli.transit import transit_group
from hush.cli.unwrap import unwrap_command

__all__ = ["cli", "main"]

# Vault's CLI exits 1 on usage errors (click's default is 2, which Vault keeps for API errors).
USAGE_ERROR_EXIT = 1


@click.group(context_settings={"help_option_names": ["-h", "-help", "--help"]})
@click.version_option(__version__, "-version", "--version", prog_name="Hush")
def cli() -> None:
    """Hush: a self-hosted secrets manager that speaks Vault's and AWS's APIs."""


for _command in (
    server_command,
    status_command,
    operator_group,
    read_command,
    write_command,
    list_command,
    delete_command,
    kv_group,
    login_command,
    token_group,
    policy_group,
    secrets_group,
):
    cli.add_command(_command)
kv_group.add_command(kv_metadata_group)
operator_group.add_command(migrate_command)
operator_group.add_command(snapshot_group)
cli.add_command(audit_group)
cli.add_command(transit_group)
cli.add_command(lease_group)
cli.add_command(auth_group)
cli.add_command(unwrap_command)


def main() -> None:
    """Console-script entry point: run the CLI and map failures to Vault's exit codes."""
    try:
        result = cli.main(prog_name="hush", standalone_mode=False)
    except click.UsageError as exc:
        exc.show()
        sys.exit(USAGE_ERROR_EXIT)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("Aborted!", err=True)
        sys.exit(USAGE_ERROR_EXIT)
    sys.exit(result if isinstance(result, int) else 0)


if __name__ == "__main__":
    main()
