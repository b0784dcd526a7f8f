"""``hush operator migrate``: copy all storage to another backend, offline (Vault's command)."""

from __future__ import annotations

import asyncio
import sys

import click

from hush.cli.output import UserError

__all__ = ["migrate_command"]


@click.command("migrate")
@click.option(
    "-config", "--config", "config_path", required=True, type=click.Path(),
    help="Migration file with storage_source and storage_destination blocks.",
)  # fmt: skip
@click.option(
    "-start", "--start", "start", default=None,
    help="Copy only keys at or after this one (resume by hand); the destination may hold data.",
)  # fmt: skip
def migrate_command(config_path: str, start: str | None) -> None:
    """Copy every storage entry from the source to the destination backend, verified.

    Run it while no Hush server uses either store. Entries are copied as stored (encrypted);
    a stopped migration resumes where it left off when run again.
    """
    from hush.server.config import ConfigError
    from hush.server.config.migrate import load_migrate_config
    from hush.storage import StorageError, open_storage
    from hush.storage.migrate import MigrationError, MigrationResult, migrate_storage

    try:
        config = load_migrate_config(config_path)
    except ConfigError as exc:
        raise UserError(f"Error loading the migration file: {exc}") from None
    if (config.source.kind, dict(config.source.options)) == (
        config.destination.kind,
        dict(config.destination.options),
    ):
        raise UserError("Error: storage_source and storage_destination are the same store")

    async def run() -> MigrationResult:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

        source = open_storage(config.source.kind, config.source.options)
        destination = open_storage(config.destination.kind, config.destination.options)
        await source.open()
        try:
            await destination.open()
            try:
                with Progress(
                    "[progress.description]{task.description}",
                    BarColumn(),
                    MofNCompleteColumn(),
                    TimeRemainingColumn(),
                    console=Console(stderr=True),
                    transient=False,
                ) as bar:
                    task = bar.add_task("Migrating", total=None)

                    def progress(done: int, total: int) -> None:
                        bar.update(task, completed=done, total=total)

                    return await migrate_storage(
                        source, destination, start=start, progress=progress
                    )
            finally:
                await destination.close()
        finally:
            await source.close()

    try:
        result = asyncio.run(run())
    except (MigrationError, StorageError, ValueError) as exc:
        raise UserError(f"Error migrating: {exc}") from None
    resumed = f" (resumed after {result.resumed_after!r})" if result.resumed_after else ""
    click.echo(
        f"Success! All of the keys have been migrated: {result.copied} entries and "
        f"{result.due_entries} due-time entries from {config.source.kind} to "
        f"{config.destination.kind} in {result.seconds:.1f}s{resumed}."
    )
    sys.stdout.flush()
