"""The whole server configuration file: top-level values and the blocks, checked together."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hush.server.config.listener import ListenerConfig, parse_listener
from hush.server.config.reader import (
    Attr,
    Block,
    ConfigError,
    Invalid,
    at_line,
    read_hcl,
    read_json,
)
from hush.server.config.seal import SealStanza, parse_seals
from hush.server.config.storage import StorageConfig, parse_storage
from hush.server.config.values import (
    bad_value,
    bool_value,
    choice_value,
    collect,
    hours,
    scalar_value,
    string_value,
    ttl_value,
    url_value,
)

__all__ = ["ServerConfig", "load_config", "parse_config"]

_DEFAULT_LEASE_TTL = 768 * 3600  # Vault's default and max lease TTL: 32 days.
_MAX_WORKERS = 256

_TOP_LEVEL_VALUES = frozenset(
    {"ui", "api_addr", "cluster_addr", "log_level", "log_format", "disable_mlock",
     "default_lease_ttl", "max_lease_ttl", "cluster_name", "workers"}
)  # fmt: skip
# Vault keys Hush knows about but does not implement; they fail loudly instead of being ignored.
_UNSUPPORTED_TOP_LEVEL = frozenset(
    {"telemetry", "ha_storage", "plugin_directory", "service_registration", "backend",
     "ha_backend", "entropy", "hsm", "cache_size", "disable_cache", "disable_clustering",
     "disable_sealwrap", "disable_performance_standby", "disable_printable_check",
     "raw_storage_endpoint", "introspection_endpoint", "pid_file", "log_file",
     "log_rotate_duration", "log_rotate_bytes", "log_rotate_max_files", "log_requests_level",
     "enable_response_header_hostname", "enable_response_header_raft_node_id", "license_path",
     "plugin_file_uid", "plugin_file_permissions", "plugin_tmpdir", "user_lockout",
     "administrative_namespace_path", "experiments", "imprecise_lease_role_tracking",
     "detect_deadlocks", "cluster_cipher_suites", "reporting", "replication", "sentinel"}
)  # fmt: skip
# Vault's log level names and aliases (sdk/helper/logging.ParseLogLevel) -> Hush's name.
_LOG_LEVELS = {
    "trace": "trace", "debug": "debug", "info": "info", "notice": "info",
    "warn": "warn", "warning": "warn", "error": "error", "err": "error",
}  # fmt: skip
_LOG_FORMATS = {"standard": "standard", "json": "json"}


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """The whole server configuration; TTLs are in seconds."""

    storage: StorageConfig
    listeners: tuple[ListenerConfig, ...]
    ui: bool
    api_addr: str | None
    cluster_addr: str | None
    log_level: str
    log_format: str
    default_lease_ttl: int
    max_lease_ttl: int
    cluster_name: str | None
    disable_mlock: bool
    seals: tuple[SealStanza, ...] = ()
    # Worker processes sharing the listener: 0 is one per core; None (not set) lets the server
    # pick its default (one per core, or 1 for in-memory storage).
    workers: int | None = None

    @property
    def seal(self) -> SealStanza | None:
        """The active (not disabled) seal, or ``None`` for Shamir."""
        return next((s for s in self.seals if not s.disabled), None)

    @property
    def disabled_seal(self) -> SealStanza | None:
        """The seal being migrated away from, if any."""
        return next((s for s in self.seals if s.disabled), None)


def load_config(path: str | Path) -> ServerConfig:
    """Read and parse the configuration file at ``path`` (JSON if it ends in ``.json``)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not valid UTF-8"
        problem = f"cannot read the configuration file: {reason}"
        raise ConfigError(problem, filename=str(path)) from None
    return parse_config(text, filename=str(path))


def parse_config(text: str, *, filename: str = "<config>") -> ServerConfig:
    """Parse configuration text; ``filename`` picks the format (``.json``) and names errors."""
    try:
        items = read_json(text) if filename.endswith(".json") else read_hcl(text)
        return server_config(items)
    except Invalid as exc:
        raise ConfigError(exc.problem, filename=filename, line=exc.line) from None


def server_config(items: tuple[Attr | Block, ...]) -> ServerConfig:
    values, blocks = collect(
        items,
        allowed=_TOP_LEVEL_VALUES,
        blocks=frozenset({"storage", "listener", "seal"}),
        unsupported=_UNSUPPORTED_TOP_LEVEL,
        where="",
    )
    storage, listeners = blocks.get("storage", []), blocks.get("listener", [])
    if not storage:
        raise Invalid(
            None,
            "no storage block: exactly one is required, for example "
            'storage "sqlite" { path = "/var/lib/hush/hush.db" }',
        )
    if len(storage) > 1:
        raise Invalid(
            storage[1].line,
            f"a second storage block{at_line(storage[1].line)}: exactly one is allowed "
            f"(the first is{at_line(storage[0].line)})",
        )
    storage_config = parse_storage(storage[0])
    if not listeners:
        raise Invalid(
            None,
            "no listener block: at least one is required, for example "
            'listener "tcp" { address = "127.0.0.1:8200" tls_disable = true }',
        )
    parsed_listeners = tuple(parse_listener(block) for block in listeners)
    first_use: dict[str, int | None] = {}
    for block, listener in zip(listeners, parsed_listeners, strict=True):
        if listener.address in first_use:
            raise Invalid(
                block.line,
                f'listener{at_line(block.line)} uses address "{listener.address}" again '
                f"(also{at_line(first_use[listener.address])})",
            )
        first_use[listener.address] = block.line

    default_ttl = ttl_value(values.get("default_lease_ttl")) or _DEFAULT_LEASE_TTL
    max_ttl = ttl_value(values.get("max_lease_ttl")) or _DEFAULT_LEASE_TTL
    if default_ttl > max_ttl:  # Vault refuses this too ("cannot have DefaultLeaseTTL larger ...")
        line = (values.get("default_lease_ttl") or values["max_lease_ttl"]).line
        raise Invalid(
            line,
            f"default_lease_ttl ({hours(default_ttl)}) is longer than max_lease_ttl "
            f"({hours(max_ttl)}){at_line(line)}; when unset, each defaults to 768h",
        )
    return ServerConfig(
        storage=storage_config,
        listeners=parsed_listeners,
        ui=bool_value(values.get("ui"), default=False),
        api_addr=url_value(values.get("api_addr")),
        cluster_addr=url_value(values.get("cluster_addr")),
        log_level=choice_value(values.get("log_level"), _LOG_LEVELS, default="info"),
        log_format=choice_value(values.get("log_format"), _LOG_FORMATS, default="standard"),
        default_lease_ttl=default_ttl,
        max_lease_ttl=max_ttl,
        cluster_name=string_value(values.get("cluster_name")),
        disable_mlock=bool_value(values.get("disable_mlock"), default=False),  # accepted, ignored
        seals=parse_seals(blocks.get("seal", [])),
        workers=_workers(values.get("workers")),
    )


def _workers(attr: Attr | None) -> int | None:
    if attr is None:
        return None
    value = scalar_value(attr)
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_WORKERS:
        raise bad_value(
            attr, f"must be a number of processes from 0 (one per core) to {_MAX_WORKERS}"
        )
    return value
