"""The ``listener "tcp" { ... }`` block."""

from __future__ import annotations

import re
from dataclasses import dataclass

from hush.server.config.reader import Block, Invalid, at_line
from hush.server.config.values import (
    bad_value,
    block_type,
    bool_value,
    collect,
    integer_value,
    string_value,
)

__all__ = ["ListenerConfig", "parse_listener"]

_DEFAULT_ADDRESS = "127.0.0.1:8200"
_DEFAULT_MAX_REQUEST_SIZE = 32 * 1024 * 1024
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


@dataclass(frozen=True, slots=True)
class ListenerConfig:
    """One ``listener "tcp" { ... }`` block."""

    address: str
    tls_disable: bool
    tls_cert_file: str | None
    tls_key_file: str | None
    max_request_size: int
    unauthenticated_metrics_access: bool


def parse_listener(block: Block) -> ListenerConfig:
    kind = block_type(block, "listener", "tcp")
    if kind != "tcp":
        raise Invalid(
            block.line,
            f'listener type "{kind}"{at_line(block.line)} is not supported yet; only "tcp" is',
        )
    where = " in listener"
    values, nested = collect(
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
        raise Invalid(line, f"a second telemetry block{where}{at_line(line)}")
    for telemetry in telemetry_blocks:  # Vault's spelling: listener "tcp" { telemetry { ... } }
        inner, _ = collect(
            telemetry.body,
            allowed=frozenset({"unauthenticated_metrics_access"}),
            blocks=frozenset(),
            where=" in listener telemetry",
        )
        if metrics is not None and inner:
            raise Invalid(
                telemetry.line,
                "unauthenticated_metrics_access is set both in the listener and in its "
                f"telemetry block{at_line(telemetry.line)}; keep one",
            )
        metrics = inner.get("unauthenticated_metrics_access", metrics)

    address = string_value(values.get("address")) or _DEFAULT_ADDRESS
    port = re.fullmatch(r".*:([0-9]{1,5})", address)
    if port is None or int(port.group(1)) > 65535:
        raise bad_value(values["address"], 'must be host:port, such as "127.0.0.1:8200"', where)
    tls_disable = bool_value(values.get("tls_disable"), default=False)
    cert, key = string_value(values.get("tls_cert_file")), string_value(values.get("tls_key_file"))
    if not tls_disable and not (cert and key):
        missing = [name for name, v in (("tls_cert_file", cert), ("tls_key_file", key)) if not v]
        raise Invalid(
            block.line,
            f"listener{at_line(block.line)} has TLS enabled but no {' or '.join(missing)}; "
            "set tls_cert_file and tls_key_file, or tls_disable = true",
        )
    size = integer_value(values.get("max_request_size"), default=_DEFAULT_MAX_REQUEST_SIZE)
    return ListenerConfig(
        address=address,
        tls_disable=tls_disable,
        tls_cert_file=cert,
        tls_key_file=key,
        max_request_size=size if size > 0 else _DEFAULT_MAX_REQUEST_SIZE,
        unauthenticated_metrics_access=bool_value(metrics, default=False),
    )
