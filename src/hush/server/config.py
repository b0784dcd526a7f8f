"""Server configuration: a Vault-style HCL (or JSON) file parsed once into typed, frozen objects.

The file is read in two steps. First the HCL or JSON text (chosen by the ``.json`` suffix, as in
Vault) becomes a neutral list of ``key = value`` attributes and blocks, each with its line. Then
that list is checked against the tables of known keys below and turned into :class:`ServerConfig`.
Every problem is a :class:`ConfigError` naming the file and, where it has one, the line.

Error messages never repeat storage option values: ``connection_url`` holds a password.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import hcl2
from hcl2.rules.base import AttributeRule, BlockRule
from lark.exceptions import LarkError, UnexpectedInput, UnexpectedToken

from hush.core.ttl import parse_ttl

__all__ = [
    "ConfigError",
    "ListenerConfig",
    "ServerConfig",
    "StorageConfig",
    "load_config",
    "parse_config",
]

_DEFAULT_ADDRESS = "127.0.0.1:8200"
_DEFAULT_MAX_REQUEST_SIZE = 32 * 1024 * 1024
_DEFAULT_LEASE_TTL = 768 * 3600
_MAX_WORKERS = 256  # Vault's default and max lease TTL: 32 days.

_TOP_LEVEL_VALUES = frozenset(
    {"ui", "api_addr", "cluster_addr", "log_level", "log_format", "disable_mlock",
     "default_lease_ttl", "max_lease_ttl", "cluster_name", "workers"}
)  # fmt: skip
# Vault keys Hush knows about but does not implement; they fail loudly instead of being ignored.
_UNSUPPORTED_TOP_LEVEL = frozenset(
    {"seal", "telemetry", "ha_storage", "plugin_directory", "service_registration", "backend",
     "ha_backend", "entropy", "hsm", "cache_size", "disable_cache", "disable_clustering",
     "disable_sealwrap", "disable_performance_standby", "disable_printable_check",
     "raw_storage_endpoint", "introspection_endpoint", "pid_file", "log_file",
     "log_rotate_duration", "log_rotate_bytes", "log_rotate_max_files", "log_requests_level",
     "enable_response_header_hostname", "enable_response_header_raft_node_id", "license_path",
     "plugin_file_uid", "plugin_file_permissions", "plugin_tmpdir", "user_lockout",
     "administrative_namespace_path", "experiments", "imprecise_lease_role_tracking",
     "detect_deadlocks", "cluster_cipher_suites", "reporting", "replication", "sentinel"}
)  # fmt: skip
_LISTENER_KEYS = frozenset(
    {"address", "tls_disable", "tls_cert_file", "tls_key_file", "max_request_size",
     "unauthenticated_metrics_access"}
)  # fmt: skip
_UNSUPPORTED_LISTENER = frozenset(
    {"cluster_address", "tls_min_version", "tls_max_version", "tls_cipher_suites",
     "tls_prefer_server_cipher_suites", "tls_client_ca_file", "tls_require_and_verify_client_cert",
     "tls_disable_client_certs", "x_forwarded_for_authorized_addrs",
     "x_forwarded_for_hop_skips", "x_forwarded_for_reject_not_authorized",
     "x_forwarded_for_reject_not_present", "proxy_protocol_behavior",
     "proxy_protocol_authorized_addrs", "http_idle_timeout", "http_read_header_timeout",
     "http_read_timeout", "http_write_timeout", "max_request_duration", "profiling",
     "inflight_requests_logging", "custom_response_headers", "chroot_namespace",
     "redact_addresses", "redact_cluster_name", "redact_version",
     "disable_replication_status_endpoints", "disable_request_limiter"}
)  # fmt: skip
# Storage kind -> (required keys, optional keys).
_STORAGE_KEYS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "inmem": (frozenset(), frozenset()),
    "sqlite": (frozenset({"path"}), frozenset()),
    "postgresql": (
        frozenset({"connection_url"}),
        frozenset({"table", "max_parallel", "max_idle_connections"}),
    ),
}
_REDACTED_OPTIONS = frozenset({"connection_url"})
# Vault's log level names and aliases (sdk/helper/logging.ParseLogLevel) -> Hush's name.
_LOG_LEVELS = {
    "trace": "trace", "debug": "debug", "info": "info", "notice": "info",
    "warn": "warn", "warning": "warn", "error": "error", "err": "error",
}  # fmt: skip
_LOG_FORMATS = {"standard": "standard", "json": "json"}
# Go's strconv.ParseBool, which Vault's parseutil applies to quoted booleans.
_TRUE_STRINGS = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE_STRINGS = frozenset({"0", "f", "F", "FALSE", "false", "False"})


class ConfigError(ValueError):
    """The configuration file cannot be used; the message names the file and line."""

    def __init__(self, problem: str, *, filename: str, line: int | None = None) -> None:
        super().__init__(f"{filename}: {problem}")
        self.filename = filename
        self.line = line


@dataclass(frozen=True, slots=True, repr=False)
class StorageConfig:
    """The ``storage "<kind>" { ... }`` block: the backend kind and its options as strings."""

    kind: str
    options: Mapping[str, str] = field(hash=False)

    def __repr__(self) -> str:
        shown = {k: "<redacted>" if k in _REDACTED_OPTIONS else v for k, v in self.options.items()}
        return f"StorageConfig(kind={self.kind!r}, options={shown!r})"


@dataclass(frozen=True, slots=True)
class ListenerConfig:
    """One ``listener "tcp" { ... }`` block."""

    address: str
    tls_disable: bool
    tls_cert_file: str | None
    tls_key_file: str | None
    max_request_size: int
    unauthenticated_metrics_access: bool


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
    # Worker processes sharing the listener; 0 means "not set" (the server picks the default).
    workers: int = 0


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
        items = _read_json(text) if filename.endswith(".json") else _read_hcl(text)
        return _server_config(items)
    except _Invalid as exc:
        raise ConfigError(exc.problem, filename=filename, line=exc.line) from None


# --- step 1: HCL or JSON text -> neutral items with line numbers ---------------------------------


class _Invalid(Exception):
    """A problem found while reading; :func:`parse_config` adds the file name."""

    def __init__(self, line: int | None, problem: str) -> None:
        super().__init__(problem)
        self.line = line
        self.problem = problem


@dataclass(frozen=True, slots=True)
class _Attr:
    name: str
    value: object
    line: int | None
    literal: bool = True  # False for an HCL expression such as a variable or function call


@dataclass(frozen=True, slots=True)
class _Block:
    name: str
    labels: tuple[str, ...]
    body: tuple[_Attr | _Block, ...]
    line: int | None


_HCL_RAW = hcl2.SerializationOptions(
    with_comments=False, preserve_heredocs=False, preserve_scientific_notation=False
)
_HCL_VALUES = dataclasses.replace(_HCL_RAW, strip_string_quotes=True)


def _read_hcl(text: str) -> tuple[_Attr | _Block, ...]:
    try:
        tree: Any = hcl2.parses(text)
    except UnexpectedInput as exc:
        line = exc.line if exc.line > 0 else None
        # Never quote the offending token: a broken line may hold a password.
        found = " (unexpected end of file)" if _at_end(exc) else ""
        raise _Invalid(line, f"syntax error{_at(line)}, column {exc.column}{found}") from None
    except LarkError:
        raise _Invalid(None, "syntax error") from None
    return _hcl_body(tree.body)


def _at_end(exc: UnexpectedInput) -> bool:
    return isinstance(exc, UnexpectedToken) and exc.token.type == "$END"


def _hcl_body(body: Any) -> tuple[_Attr | _Block, ...]:
    items: list[_Attr | _Block] = []
    for child in body.children:
        if not isinstance(child, AttributeRule | BlockRule):
            continue  # newlines and comments
        line = getattr(child.to_lark().meta, "line", None)
        if isinstance(child, AttributeRule):
            raw = child.expression.serialize(_HCL_RAW)
            # Quoted strings keep their quotes in the raw form; anything else unquoted that is
            # not a number/bool/list is an expression, which Vault's HCL 1 never evaluated.
            literal = not isinstance(raw, str) or raw.startswith('"')
            value = child.expression.serialize(_HCL_VALUES)
            items.append(_Attr(child.identifier.serialize(_HCL_VALUES), value, line, literal))
        else:
            name, *labels = (str(label.serialize(_HCL_VALUES)) for label in child.labels)
            items.append(_Block(name, tuple(labels), _hcl_body(child.body), line))
    return tuple(items)


class _JsonObject:
    """A JSON object as its (key, value) pairs in file order (duplicates kept), with key lines."""

    __slots__ = ("lines", "pairs")

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        self.pairs = pairs
        self.lines: list[int | None] = []


# A JSON string followed by a colon is an object key. Run over valid JSON only, matches come
# in document order, so they pair up with a pre-order walk of the parsed objects.
_JSON_KEY = re.compile(r'"(?:[^"\\]|\\.)*"\s*:')
# Blocks that carry a type label: {"storage": {"sqlite": {...}}}.
_LABELED_BLOCKS = frozenset({"storage", "listener", "seal", "ha_storage", "service_registration"})


def _read_json(text: str) -> tuple[_Attr | _Block, ...]:
    try:
        document = json.loads(text, object_pairs_hook=_JsonObject)
    except json.JSONDecodeError as exc:
        raise _Invalid(exc.lineno, f"invalid JSON at line {exc.lineno}: {exc.msg}") from None
    if not isinstance(document, _JsonObject):
        raise _Invalid(1, "a JSON configuration must be an object")
    lines = (text.count("\n", 0, match.start()) + 1 for match in _JSON_KEY.finditer(text))
    _attach_lines(document, lines)
    return _json_body(document, top_level=True)


def _attach_lines(value: object, lines: Iterator[int]) -> None:
    if isinstance(value, _JsonObject):
        for _key, child in value.pairs:
            value.lines.append(next(lines, None))
            _attach_lines(child, lines)
    elif isinstance(value, list):
        for child in value:
            _attach_lines(child, lines)


def _json_body(obj: _JsonObject, *, top_level: bool = False) -> tuple[_Attr | _Block, ...]:
    items: list[_Attr | _Block] = []
    for (key, value), line in zip(obj.pairs, obj.lines, strict=True):
        if top_level and key in _LABELED_BLOCKS:
            items.extend(_json_labeled_blocks(key, value, line))
        elif isinstance(value, _JsonObject):
            items.append(_Block(key, (), _json_body(value), line))
        elif isinstance(value, list) and value and all(isinstance(v, _JsonObject) for v in value):
            items.extend(_Block(key, (), _json_body(v), line) for v in value)
        else:
            items.append(_Attr(key, value, line))
    return tuple(items)


def _json_labeled_blocks(name: str, value: object, line: int | None) -> list[_Block]:
    """``{"tcp": {...}}``, ``{"tcp": [{...}, ...]}`` or a list of those -> labeled blocks."""
    groups = value if isinstance(value, list) else [value]
    blocks: list[_Block] = []
    for group in groups:
        if not isinstance(group, _JsonObject):
            raise _Invalid(
                line, f'"{name}"{_at(line)} must be an object like {{"<type>": {{...}}}}'
            )
        for (label, bodies), label_line in zip(group.pairs, group.lines, strict=True):
            for body in bodies if isinstance(bodies, list) else [bodies]:
                if not isinstance(body, _JsonObject):
                    raise _Invalid(
                        label_line, f'{name} "{label}"{_at(label_line)} must be an object'
                    )
                blocks.append(_Block(name, (label,), _json_body(body), label_line))
    return blocks


# --- step 2: items -> typed configuration --------------------------------------------------------


def _server_config(items: tuple[_Attr | _Block, ...]) -> ServerConfig:
    values, blocks = _collect(
        items,
        allowed=_TOP_LEVEL_VALUES,
        blocks=frozenset({"storage", "listener"}),
        unsupported=_UNSUPPORTED_TOP_LEVEL,
        where="",
    )
    storage, listeners = blocks.get("storage", []), blocks.get("listener", [])
    if not storage:
        raise _Invalid(
            None,
            "no storage block: exactly one is required, for example "
            'storage "sqlite" { path = "/var/lib/hush/hush.db" }',
        )
    if len(storage) > 1:
        raise _Invalid(
            storage[1].line,
            f"a second storage block{_at(storage[1].line)}: exactly one is allowed "
            f"(the first is{_at(storage[0].line)})",
        )
    storage_config = _storage(storage[0])
    if not listeners:
        raise _Invalid(
            None,
            "no listener block: at least one is required, for example "
            'listener "tcp" { address = "127.0.0.1:8200" tls_disable = true }',
        )
    parsed_listeners = tuple(_listener(block) for block in listeners)
    first_use: dict[str, int | None] = {}
    for block, listener in zip(listeners, parsed_listeners, strict=True):
        if listener.address in first_use:
            raise _Invalid(
                block.line,
                f'listener{_at(block.line)} uses address "{listener.address}" again '
                f"(also{_at(first_use[listener.address])})",
            )
        first_use[listener.address] = block.line

    default_ttl = _ttl(values.get("default_lease_ttl")) or _DEFAULT_LEASE_TTL
    max_ttl = _ttl(values.get("max_lease_ttl")) or _DEFAULT_LEASE_TTL
    if default_ttl > max_ttl:  # Vault refuses this too ("cannot have DefaultLeaseTTL larger ...")
        line = (values.get("default_lease_ttl") or values["max_lease_ttl"]).line
        raise _Invalid(
            line,
            f"default_lease_ttl ({_hours(default_ttl)}) is longer than max_lease_ttl "
            f"({_hours(max_ttl)}){_at(line)}; when unset, each defaults to 768h",
        )
    return ServerConfig(
        storage=storage_config,
        listeners=parsed_listeners,
        ui=_bool(values.get("ui"), default=False),
        api_addr=_url(values.get("api_addr")),
        cluster_addr=_url(values.get("cluster_addr")),
        log_level=_choice(values.get("log_level"), _LOG_LEVELS, default="info"),
        log_format=_choice(values.get("log_format"), _LOG_FORMATS, default="standard"),
        default_lease_ttl=default_ttl,
        max_lease_ttl=max_ttl,
        cluster_name=_string(values.get("cluster_name")),
        disable_mlock=_bool(values.get("disable_mlock"), default=False),  # accepted, ignored
        workers=_workers(values.get("workers")),
    )


def _workers(attr: _Attr | None) -> int:
    if attr is None:
        return 0
    value = _scalar(attr)
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= _MAX_WORKERS:
        raise _bad(attr, f"must be a number of processes from 1 to {_MAX_WORKERS}")
    return value


def _collect(
    items: tuple[_Attr | _Block, ...],
    *,
    allowed: frozenset[str],
    blocks: frozenset[str],
    where: str,
    unsupported: frozenset[str] = frozenset(),
) -> tuple[dict[str, _Attr], dict[str, list[_Block]]]:
    """Check the names and shapes in one body; return its values and its blocks by name.

    ``allowed`` names must be values (set once), ``blocks`` names must be blocks (the caller
    decides how many it accepts), ``unsupported`` names are known but refused.
    """
    values: dict[str, _Attr] = {}
    found_blocks: dict[str, list[_Block]] = {}
    for item in items:
        name, line = item.name, item.line
        if name in unsupported:
            raise _Invalid(line, f'"{name}"{where}{_at(line)} is not supported yet; remove it')
        if name in blocks and isinstance(item, _Block):
            found_blocks.setdefault(name, []).append(item)
        elif name in allowed and isinstance(item, _Attr):
            if name in values:
                raise _Invalid(
                    line,
                    f'"{name}"{where} is set twice{_at(values[name].line)} and{_at(line)}',
                )
            values[name] = item
        elif name in allowed or name in blocks:
            shape = "a block" if name in blocks else "a value, not a block"
            raise _Invalid(line, f'"{name}"{where}{_at(line)} must be {shape}')
        else:
            raise _Invalid(line, _unknown_key(name, where, line, allowed | blocks))
    return values, found_blocks


def _unknown_key(name: str, where: str, line: int | None, valid: frozenset[str]) -> str:
    close = difflib.get_close_matches(name, sorted(valid), n=1)
    hint = f'did you mean "{close[0]}"?' if close else "valid keys: " + ", ".join(sorted(valid))
    return f"unknown key {json.dumps(name)}{where}{_at(line)} ({hint})"


def _block_type(block: _Block, what: str, example: str) -> str:
    if len(block.labels) != 1:
        raise _Invalid(
            block.line,
            f"{what} block{_at(block.line)} needs exactly one type label, "
            f'for example {what} "{example}" {{ ... }}',
        )
    return block.labels[0]


def _storage(block: _Block) -> StorageConfig:
    kind = _block_type(block, "storage", "sqlite")
    if kind not in _STORAGE_KEYS:
        choices = ", ".join(f'"{k}"' for k in sorted(_STORAGE_KEYS))
        raise _Invalid(
            block.line,
            f'storage type "{kind}"{_at(block.line)} is not supported; use one of {choices}',
        )
    required, optional = _STORAGE_KEYS[kind]
    where = f' in storage "{kind}"'
    values, _ = _collect(block.body, allowed=required | optional, blocks=frozenset(), where=where)
    missing = sorted(required - values.keys())
    if missing:
        raise _Invalid(block.line, f'storage "{kind}" block{_at(block.line)} needs "{missing[0]}"')
    options = {name: _option_string(attr, where) for name, attr in values.items()}
    for name in sorted(required):
        if not options[name]:
            raise _bad(values[name], "is empty", where)
    return StorageConfig(kind=kind, options=MappingProxyType(options))


def _listener(block: _Block) -> ListenerConfig:
    kind = _block_type(block, "listener", "tcp")
    if kind != "tcp":
        raise _Invalid(
            block.line,
            f'listener type "{kind}"{_at(block.line)} is not supported yet; only "tcp" is',
        )
    where = " in listener"
    values, nested = _collect(
        block.body,
        allowed=_LISTENER_KEYS,
        blocks=frozenset({"telemetry"}),
        unsupported=_UNSUPPORTED_LISTENER,
        where=where,
    )
    metrics = values.get("unauthenticated_metrics_access")
    telemetry_blocks = nested.get("telemetry", [])
    if len(telemetry_blocks) > 1:
        line = telemetry_blocks[1].line
        raise _Invalid(line, f"a second telemetry block{where}{_at(line)}")
    for telemetry in telemetry_blocks:  # Vault's spelling: listener "tcp" { telemetry { ... } }
        inner, _ = _collect(
            telemetry.body,
            allowed=frozenset({"unauthenticated_metrics_access"}),
            blocks=frozenset(),
            where=" in listener telemetry",
        )
        if metrics is not None and inner:
            raise _Invalid(
                telemetry.line,
                "unauthenticated_metrics_access is set both in the listener and in its "
                f"telemetry block{_at(telemetry.line)}; keep one",
            )
        metrics = inner.get("unauthenticated_metrics_access", metrics)

    address = _string(values.get("address")) or _DEFAULT_ADDRESS
    port = re.fullmatch(r".*:([0-9]{1,5})", address)
    if port is None or int(port.group(1)) > 65535:
        raise _bad(values["address"], 'must be host:port, such as "127.0.0.1:8200"', where)
    tls_disable = _bool(values.get("tls_disable"), default=False)
    cert, key = _string(values.get("tls_cert_file")), _string(values.get("tls_key_file"))
    if not tls_disable and not (cert and key):
        missing = [name for name, v in (("tls_cert_file", cert), ("tls_key_file", key)) if not v]
        raise _Invalid(
            block.line,
            f"listener{_at(block.line)} has TLS enabled but no {' or '.join(missing)}; "
            "set tls_cert_file and tls_key_file, or tls_disable = true",
        )
    size = _integer(values.get("max_request_size"), default=_DEFAULT_MAX_REQUEST_SIZE)
    return ListenerConfig(
        address=address,
        tls_disable=tls_disable,
        tls_cert_file=cert,
        tls_key_file=key,
        max_request_size=size if size > 0 else _DEFAULT_MAX_REQUEST_SIZE,
        unauthenticated_metrics_access=_bool(metrics, default=False),
    )


# --- typed values ------------------------------------------------------------------------------


def _at(line: int | None) -> str:
    return f" at line {line}" if line is not None else ""


def _hours(seconds: int) -> str:
    return f"{seconds // 3600}h" if seconds % 3600 == 0 else f"{seconds}s"


def _bad(attr: _Attr, problem: str, where: str = "") -> _Invalid:
    return _Invalid(attr.line, f'"{attr.name}"{where}{_at(attr.line)} {problem}')


def _scalar(attr: _Attr, where: str = "") -> str | int | float | bool:
    if not attr.literal:
        problem = "must be a literal value; expressions and variables are not supported"
        raise _bad(attr, problem, where)
    if not isinstance(attr.value, str | int | float | bool):
        raise _bad(attr, "must be a string, number or boolean", where)
    return attr.value


def _string(attr: _Attr | None) -> str | None:
    if attr is None:
        return None
    value = _scalar(attr)
    if not isinstance(value, str):
        raise _bad(attr, "must be a string")
    return value


def _bool(attr: _Attr | None, *, default: bool) -> bool:
    if attr is None:
        return default
    value = _scalar(attr)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value in _TRUE_STRINGS | _FALSE_STRINGS:
        return value in _TRUE_STRINGS
    raise _bad(attr, f"must be true or false, not {json.dumps(value)}")


def _integer(attr: _Attr | None, *, default: int) -> int:
    if attr is None:
        return default
    value = _scalar(attr)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value):
        return int(value)
    raise _bad(attr, f"must be a whole number of bytes, not {json.dumps(value)}")


def _ttl(attr: _Attr | None) -> int:
    if attr is None:
        return 0
    value = _scalar(attr)
    try:
        if isinstance(value, bool | float):
            raise ValueError(f"time: invalid duration {json.dumps(value)}")
        return parse_ttl(value)
    except ValueError as exc:
        hint = 'use seconds or a duration such as "768h" or "1h30m"'
        raise _bad(attr, f"is not a valid duration: {exc} ({hint})") from None


def _choice(attr: _Attr | None, choices: Mapping[str, str], *, default: str) -> str:
    """One of ``choices`` (case-insensitive, aliases allowed), returned under its canonical name."""
    value = _string(attr)
    if attr is None or value is None:
        return default
    canonical = choices.get(value.strip().lower())
    if canonical is None:
        listed = ", ".join(sorted(set(choices.values())))
        raise _bad(attr, f"is {json.dumps(value)}; use one of {listed}")
    return canonical


def _url(attr: _Attr | None) -> str | None:
    value = _string(attr)
    if attr is not None and value is not None and not value.startswith(("http://", "https://")):
        example = '"https://hush.example.com:8200"'
        raise _bad(attr, f"must be a full URL such as {example}, not {json.dumps(value)}")
    return value


def _option_string(attr: _Attr, where: str) -> str:
    """A storage option as a string; its value is never put in an error (it may be a password)."""
    value = _scalar(attr, where)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
