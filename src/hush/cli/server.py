"""``hush server``: run a node from a config file, or a throwaway dev node."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from hush.core.core import Core
    from hush.server.config import ServerConfig
    from hush.server.runtime import ListenOptions

__all__ = ["server_command"]


def _split_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise click.BadParameter(f'listen address "{address}" must look like 127.0.0.1:8200')
    return host.strip("[]"), int(port)


def _configure_core(core: Core, config: ServerConfig) -> None:
    """Apply the config file's lease TTLs and ``seal`` stanzas (environment overrides applied)."""
    core.expiration.use_system_ttls(config.default_lease_ttl, config.max_lease_ttl)
    from hush.barrier.seals import build_seal

    active, disabled = config.seal, config.disabled_seal
    core.seals.configure(
        build_seal(active.kind, active.options) if active else None,
        build_seal(disabled.kind, disabled.options) if disabled else None,
    )


@click.command("server")
@click.option("-dev", "--dev", "dev", is_flag=True, help="Dev mode: unsealed, root token printed.")
@click.option(
    "-dev-root-token-id",
    "--dev-root-token-id",
    "dev_root_token_id",
    default=None,
    envvar="HUSH_DEV_ROOT_TOKEN_ID",
    help="Use this root token in dev mode.",
)
@click.option(
    "-dev-listen-address",
    "--dev-listen-address",
    "dev_listen_address",
    default="127.0.0.1:8200",
    envvar="HUSH_DEV_LISTEN_ADDRESS",
    help="Address the dev server listens on.",
)
@click.option(
    "-dev-storage",
    "--dev-storage",
    "dev_storage",
    default="inmem",
    type=click.Choice(["inmem", "sqlite", "postgresql"]),
    help="Storage backend for dev mode.",
)
@click.option(
    "-dev-storage-path",
    "--dev-storage-path",
    "dev_storage_path",
    default=None,
    help="SQLite file for -dev-storage=sqlite (recreated at every start).",
)
@click.option(
    "-dev-kv-v1",
    "--dev-kv-v1",
    "dev_kv_v1",
    is_flag=True,
    help="Mount KV version 1 at secret/ in dev mode (default: version 2, as Vault).",
)
@click.option(
    "-workers",
    "--workers",
    "workers",
    default=None,
    type=click.IntRange(0, 256),
    help="Worker processes sharing the listener (0: one per core). Overrides `workers` in the "
    "config file; default one per core (1 with in-memory storage). Dev mode always runs 1.",
)
@click.option(
    "-dev-aws-access-key-id",
    "--dev-aws-access-key-id",
    "dev_aws_access_key_id",
    default=None,
    help="Use this access key id for the dev AWS key pair (bound to the root policy).",
)
@click.option(
    "-dev-aws-secret-access-key",
    "--dev-aws-secret-access-key",
    "dev_aws_secret_access_key",
    default=None,
    help="Use this secret access key for the dev AWS key pair.",
)
@click.option(
    "-config",
    "--config",
    "config_path",
    default=None,
    type=click.Path(),
    help="HCL or JSON configuration file.",
)
def server_command(
    dev: bool,
    dev_root_token_id: str | None,
    dev_listen_address: str,
    dev_storage: str,
    dev_storage_path: str | None,
    dev_kv_v1: bool,
    workers: int | None,
    dev_aws_access_key_id: str | None,
    dev_aws_secret_access_key: str | None,
    config_path: str | None,
) -> None:
    """Start a Hush server."""
    from hush.server.runtime import DevOptions, ListenOptions, build_core, serve

    if dev:
        from hush.auth.aws.keys import pair_problem

        problem = pair_problem(dev_aws_access_key_id, dev_aws_secret_access_key)
        if problem:
            raise click.UsageError(f"-dev-aws-*: {problem}")
        options: dict[str, str] = {}
        if dev_storage == "sqlite":
            path = dev_storage_path or os.path.join(os.getcwd(), ".hush-dev", "hush.db")
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(path + suffix):
                    os.remove(path + suffix)
            options["path"] = path
        host, port = _split_address(dev_listen_address)
        core = build_core(dev_storage, options)
        serve(
            core,
            ListenOptions(host=host, port=port),
            DevOptions(
                root_token_id=dev_root_token_id,
                kv_version="1" if dev_kv_v1 else "2",
                aws_access_key_id=dev_aws_access_key_id,
                aws_secret_access_key=dev_aws_secret_access_key,
            ),
        )
        return
    if config_path is None:
        raise click.UsageError("either -dev or -config=FILE is required")
    from hush.server.config import ConfigError, load_config

    try:
        config = load_config(config_path)
    except (ConfigError, OSError) as exc:
        click.echo(f"Error loading configuration: {exc}", err=True)
        sys.exit(1)
    listener = config.listeners[0]
    if not listener.tls_disable:
        for name, file in (
            ("tls_cert_file", listener.tls_cert_file),
            ("tls_key_file", listener.tls_key_file),
        ):
            if file is None or not os.path.isfile(file):
                click.echo(
                    f'Error loading configuration: {name} "{file}" does not exist or is not a file',
                    err=True,
                )
                sys.exit(1)
    host, port = _split_address(listener.address)
    listen = ListenOptions(
        host=host,
        port=port,
        tls_cert_file=None if listener.tls_disable else listener.tls_cert_file,
        tls_key_file=None if listener.tls_disable else listener.tls_key_file,
        max_request_size=listener.max_request_size,
        unauthenticated_metrics_access=listener.unauthenticated_metrics_access,
        api_addr=config.api_addr,
    )
    count = _worker_count(workers, config)
    if count != 1:
        _serve_workers(config.storage.kind, dict(config.storage.options), listen, config, count)
        return
    core = build_core(config.storage.kind, dict(config.storage.options))
    _configure_core(core, config)
    serve(
        core,
        listen,
        log_level=config.log_level,
        log_format=config.log_format,
    )


def _worker_count(flag: int | None, config: ServerConfig) -> int:
    """The worker count asked for (``-workers``, else ``workers`` in the file; 0: one per core).

    Unset, it is one per core, except for in-memory storage, which one process alone can hold.
    """
    if flag is not None:
        return flag
    if config.workers is not None:
        return config.workers
    return 1 if config.storage.kind in ("inmem", "memory") else 0


def _serve_workers(
    kind: str,
    options: dict[str, str],
    listen: ListenOptions,
    config: ServerConfig,
    count: int,
) -> None:
    """Run a supervisor with ``count`` worker processes (0: one per core)."""
    from hush.server.process import WorkerSpec, default_workers, run_workers

    if kind in ("inmem", "memory"):
        raise click.UsageError(
            "in-memory storage cannot be shared by worker processes; use -workers=1"
        )
    workers = count or default_workers()
    spec = WorkerSpec(
        kind,
        options,
        listen,
        config.log_level,
        config.log_format,
        configure=lambda core: _configure_core(core, config),
    )
    banner = "\n".join(
        [
            "==> Hush server configuration:",
            "",
            f"             Api Address: {listen.url}",
            f"                 Storage: {kind}",
            f"                 Workers: {workers}",
            f"                 Version: Hush {__import__('hush').__version__}",
            "",
            "==> Hush server started! Log data will stream in below:",
        ]
    )
    run_workers(spec, workers, banner)
