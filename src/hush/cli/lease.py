"""``hush lease lookup|renew|revoke``: leases of dynamic secrets and tokens, as Vault's CLI has it.

Messages follow ``vault lease``: ``-force`` needs ``-prefix``; without ``-sync`` revocation is
queued (the server answers 202 and its expiry loop revokes), with it the command waits.
"""

from __future__ import annotations

import click

from hush.cli.client import Client, ClientSettings, client_options
from hush.cli.options import DURATION, VaultGroup, flag, value
from hush.cli.output import CLIError, OutputOptions, UserError, emit_secret, output_options

__all__ = ["lease_group"]


@click.group("lease", cls=VaultGroup)
def lease_group() -> None:
    """Look up, renew and revoke leases."""


def _lease_id(lease_id: str) -> str:
    lease_id = lease_id.strip()
    if not lease_id:
        raise UserError("Missing ID!")
    return lease_id


@lease_group.command("lookup")
@click.argument("lease_id")
@client_options
@output_options()
def lease_lookup(settings: ClientSettings, output: OutputOptions, lease_id: str) -> None:
    """Show the issue time, expiry, TTL and renewability of LEASE_ID."""
    lease_id = _lease_id(lease_id)
    with Client(settings) as client:
        secret = client.write(
            "sys/leases/lookup", {"lease_id": lease_id}, action=f"looking up lease id {lease_id}"
        )
    if not secret:
        raise CLIError(f"Error looking up lease id {lease_id}: the server returned nothing")
    emit_secret(output, secret)


@lease_group.command("renew")
@click.argument("lease_id")
@value("increment", "Requested extension of the lease (the server may grant less).", type=DURATION)
@client_options
@output_options()
def lease_renew(
    settings: ClientSettings, output: OutputOptions, lease_id: str, increment: str | None
) -> None:
    """Renew LEASE_ID by -increment (or the backend's default), within its max TTL."""
    lease_id = _lease_id(lease_id)
    body: dict[str, object] = {"lease_id": lease_id}
    if increment:
        body["increment"] = increment
    with Client(settings) as client:
        secret = client.write("sys/leases/renew", body, action=f"renewing {lease_id}") or {}
    emit_secret(output, secret)


@lease_group.command("revoke")
@click.argument("lease_id")
@flag("prefix", "Treat LEASE_ID as a prefix and revoke every lease under it (needs sudo).")
@flag("force", "With -prefix: delete the leases even if their backend fails to revoke them.")
@flag("sync", "Wait for the revocation instead of queuing it.")
@client_options
def lease_revoke(
    settings: ClientSettings, lease_id: str, prefix: bool, force: bool, sync: bool
) -> None:
    """Revoke LEASE_ID (or, with -prefix, every lease under it)."""
    if force and not prefix:
        raise UserError("Specifying -force requires also specifying -prefix")
    lease_id = _lease_id(lease_id)
    with Client(settings) as client:
        if force:
            click.echo(
                "Warning! Force-removing leases can cause Hush to become out of sync with "
                "secret engines!",
                err=True,
            )
            client.write(
                f"sys/leases/revoke-force/{lease_id}",
                {},
                action=f"force revoking leases with prefix {lease_id}",
            )
            click.echo(f"Success! Force revoked any leases with prefix: {lease_id}")
            return
        if prefix:
            client.write(
                f"sys/leases/revoke-prefix/{lease_id}",
                {"sync": sync},
                action=f"revoking leases with prefix {lease_id}",
            )
            message = f"Success! Revoked any leases with prefix: {lease_id}"
        else:
            client.write(
                "sys/leases/revoke",
                {"lease_id": lease_id, "sync": sync},
                action=f"revoking lease {lease_id}",
            )
            message = f"Success! Revoked lease: {lease_id}"
    click.echo(message if sync else "All revocation operations queued successfully!")
