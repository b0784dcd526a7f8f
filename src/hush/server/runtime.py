"""Building a node from configuration and serving it with uvicorn.

One event loop owns everything: storage connections, the core and the HTTP server are created in
the same ``asyncio.run`` so async drivers (psycopg) and the SQLite writer thread are bound to it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from dataclasses import dataclass, field

import uvicorn

from hush.api.app import HushApp
from hush.api.vault import DEFAULT_MAX_REQUEST_SIZE
from hush.core.core import Core
from hush.core.mounts import MountEntry
from hush.crypto import SecretBytes
from hush.engines import register_builtin_engines
from hush.framework.registry import Registry
from hush.logs import configure_logging
from hush.server.http_protocol import VaultHttpProtocol
from hush.storage import open_storage

__all__ = [
    "GRACEFUL_SHUTDOWN_SECONDS",
    "DevOptions",
    "ListenOptions",
    "banner",
    "build_core",
    "make_server",
    "prepare_core",
    "reopen_audit_on_sighup",
    "serve",
]

# After SIGTERM, requests in flight get this long to finish before connections are cut.
GRACEFUL_SHUTDOWN_SECONDS = 30

log = logging.getLogger("hush.server")


@dataclass(frozen=True, slots=True)
class ListenOptions:
    """Where and how the HTTP listener binds."""

    host: str = "127.0.0.1"
    port: int = 8200
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    max_request_size: int = DEFAULT_MAX_REQUEST_SIZE
    unauthenticated_metrics_access: bool = False
    api_addr: str | None = None

    @property
    def url(self) -> str:
        """The address clients use."""
        scheme = "https" if self.tls_cert_file else "http"
        return f"{scheme}://{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class DevOptions:
    """Dev mode: initialise and unseal at start with one share, print the root token."""

    root_token_id: str | None = None
    kv_path: str = "secret/"
    kv_version: str = "2"
    extra: dict[str, str] = field(default_factory=dict)
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None


@dataclass(frozen=True, slots=True)
class _DevInfo:
    """What the dev banner prints."""

    unseal_key: str
    root_token: str
    aws_access_key_id: str
    aws_secret_access_key: str


def build_core(storage_kind: str, storage_options: dict[str, str]) -> Core:
    """A core over the named storage backend with every built-in engine registered."""
    from hush.auth import register_builtin_auth_methods

    registry = Registry("secrets engine")
    register_builtin_engines(registry)
    auth_methods = Registry("auth method")
    register_builtin_auth_methods(auth_methods)
    storage = open_storage(storage_kind, storage_options)
    core = Core(storage, storage_type=storage_kind, engines=registry, auth_methods=auth_methods)
    from hush.engines.awssm.metrics import RotationCollector
    from hush.engines.ssm.metrics import PolicyNotificationCollector

    # A lambda, not the bound method: the mount table replaces its backends dict on (un)seal.
    mounted = lambda: core.mounts.backends.items()  # noqa: E731, PLW0108
    core.metrics.registry.register(RotationCollector(mounted))
    core.metrics.registry.register(PolicyNotificationCollector(mounted))
    return core


async def _dev_setup(core: Core, dev: DevOptions) -> _DevInfo:
    import base64

    result = await core.initialize(1, 1)
    unseal_key = SecretBytes(result.shares[0])
    await core.unseal_with_key(unseal_key)
    token = result.root_token.reveal().decode()
    if dev.root_token_id:
        await core.tokens.create_root(dev.root_token_id)
        token = dev.root_token_id
    await core.mount(
        MountEntry(
            path=dev.kv_path,
            type="kv",
            options={"version": dev.kv_version},
            description="key/value secret storage",
        )
    )
    await core.mount(
        MountEntry(
            path="awssm/",
            type="awssm",
            description="AWS Secrets Manager",
            # Audit entries name the action and region in clear; values stay HMAC'd.
            config={"audit_non_hmac_request_keys": ["aws_action", "aws_region"]},
        )
    )
    await core.mount(
        MountEntry(path="ssm/", type="ssm", description="AWS Systems Manager Parameter Store")
    )
    aws_id, aws_secret = await _dev_aws_key(core, dev)
    return _DevInfo(base64.b64encode(unseal_key.reveal()).decode(), token, aws_id, aws_secret)


async def _dev_aws_key(core: Core, dev: DevOptions) -> tuple[str, str]:
    """Enable ``auth/aws`` and create the dev key pair bound to the root policy."""
    from hush.auth.aws import AwsAuthBackend

    await core.mount_auth(MountEntry(path="aws/", type="aws", description="AWS access keys"))
    backend = core.auth_mounts.backends["aws/"]
    assert isinstance(backend, AwsAuthBackend)
    secret = dev.aws_secret_access_key
    key = await backend.create_key(
        ["root"],
        display_name="dev",
        description="dev mode key pair",
        access_key_id=dev.aws_access_key_id,
        secret_access_key=SecretBytes(secret.encode()) if secret else None,
        allow_root=True,
    )
    return key.access_key_id, key.secret_access_key.reveal().decode()


def banner(listen: ListenOptions, core: Core, dev: _DevInfo | None) -> str:
    """The start-up banner (Vault's layout), with the dev unseal key and root token in dev mode."""
    lines = [
        "==> Hush server configuration:",
        "",
        f"             Api Address: {listen.url}",
        f"                 Storage: {core.storage_type}",
        f"                 Version: Hush {__import__('hush').__version__}",
        "",
        "==> Hush server started! Log data will stream in below:",
    ]
    if dev is not None:
        lines += [
            "",
            "WARNING! dev mode is enabled! In this mode, Hush runs entirely unsealed with a",
            "single unseal key, and the root token below is already authenticated.",
            "",
            "You may need to set the following environment variables:",
            "",
            f"    $ export VAULT_ADDR='{listen.url}'",
            "",
            "and, for the AWS APIs (aws --endpoint-url, boto3 endpoint_url):",
            "",
            f"    $ export AWS_ENDPOINT_URL='{listen.url}'",
            f"    $ export AWS_ACCESS_KEY_ID='{dev.aws_access_key_id}'",
            f"    $ export AWS_SECRET_ACCESS_KEY='{dev.aws_secret_access_key}'",
            "    $ export AWS_DEFAULT_REGION='us-east-1'",
            "",
            "The unseal key and root token are displayed below in case you want to",
            "seal/unseal the server or re-authenticate.",
            "",
            f"Unseal Key: {dev.unseal_key}",
            f"Root Token: {dev.root_token}",
            "",
            "Development mode should NOT be used in production installations!",
        ]
    return "\n".join(lines)


def reopen_audit_on_sighup(core: Core) -> None:
    """SIGHUP reopens audit files (log rotation), as Vault does; the hash chain continues."""
    loop = asyncio.get_running_loop()
    pending: set[asyncio.Task[None]] = set()

    def reopen() -> None:
        log.info("SIGHUP received: reopening audit devices")
        task = loop.create_task(core.audit.reopen())
        pending.add(task)
        task.add_done_callback(pending.discard)

    loop.add_signal_handler(signal.SIGHUP, reopen)


def prepare_core(core: Core, listen: ListenOptions) -> None:
    """Apply the listener's settings to the core before it opens."""
    core.unauthenticated_metrics = listen.unauthenticated_metrics_access
    # What sys/leader and sys/ha-status tell clients to use for this node.
    core.node.api_address = listen.api_addr or listen.url
    # How often background work ticks (seconds); tests shorten it to observe takeovers quickly.
    interval = os.environ.get("HUSH_SCHEDULER_INTERVAL")
    if interval:
        core.scheduler.interval = max(0.1, float(interval))


def make_server(core: Core, listen: ListenOptions) -> uvicorn.Server:
    """The uvicorn server for ``core``; SIGTERM drains in-flight requests before it stops."""
    app = HushApp(core, max_request_size=listen.max_request_size)
    config = uvicorn.Config(
        app,
        host=listen.host,
        port=listen.port,
        ssl_certfile=listen.tls_cert_file,
        ssl_keyfile=listen.tls_key_file,
        log_config=None,
        access_log=False,
        lifespan="off",
        server_header=False,
        # httptools (llhttp), taught the LIST verb Vault clients send and given a head limit.
        http=VaultHttpProtocol,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    return uvicorn.Server(config)


async def _serve(core: Core, listen: ListenOptions, dev: DevOptions | None) -> None:
    prepare_core(core, listen)
    await core.open()
    core.seals.start_auto_unseal()
    try:
        dev_info = await _dev_setup(core, dev) if dev is not None else None
        server = make_server(core, listen)
        reopen_audit_on_sighup(core)
        print(banner(listen, core, dev_info), flush=True)
        await server.serve()
    finally:
        await core.close()


def serve(
    core: Core,
    listen: ListenOptions,
    dev: DevOptions | None = None,
    log_level: str = "info",
    log_format: str = "standard",
) -> None:
    """Run the node until SIGINT/SIGTERM."""
    from hush.core.system.observability import LOG_LEVELS

    core.log_level = LOG_LEVELS.get(log_level, logging.INFO)
    configure_logging(core.log_level, log_format)
    asyncio.run(_serve(core, listen, dev))
