"""``sys/audit`` (list, enable, disable) and ``sys/audit-hash`` (HMAC a value as a device would).

Patterns are relative to the ``sys/`` mount, like the other system path modules. Behaviour follows
Vault: enabling at a path that is a prefix of another (or under one) is "path already in use";
disabling a path with no device answers 204 as if it had worked; the hash answer carries
``hash`` both in ``data`` and at the top level.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from hush.core.errors import InvalidRequest
from hush.core.request import Request, Response
from hush.core.system.common import ops
from hush.framework.fields import Field, FieldData, FieldType
from hush.framework.path import Path

if TYPE_CHECKING:
    from hush.core.audit.broker import AuditBroker

__all__ = ["audit_paths"]


def audit_paths(broker_getter: Callable[[], AuditBroker]) -> list[Path]:
    """The audit endpoints of the system backend; ``broker_getter`` returns the live broker."""

    async def list_devices(request: Request, fields: FieldData) -> Response:
        """Every enabled audit device."""
        return Response(data=broker_getter().list(), flatten=True)

    async def enable(request: Request, fields: FieldData) -> None:
        """Enable an audit device at a path."""
        device_type = fields.string("type")
        if not device_type:
            raise InvalidRequest('missing required field "type"')
        options = {key: str(value) for key, value in fields.mapping("options").items()}
        await broker_getter().enable(
            fields.string("path"),
            device_type,
            options,
            fields.string("description"),
            fields.boolean("local"),
        )

    async def disable(request: Request, fields: FieldData) -> None:
        """Disable the audit device at a path (no error if there is none)."""
        await broker_getter().disable(fields.string("path"))

    async def audit_hash(request: Request, fields: FieldData) -> Response:
        """HMAC-SHA256 of a value with the device's salt, as it would appear in that log."""
        value = fields.string("input")
        if not value:
            raise InvalidRequest('the "input" parameter is empty')
        digest = await broker_getter().hash(fields.string("path"), value)
        return Response(data={"hash": digest}, flatten=True)

    path_field = Field(FieldType.STRING, "Where the audit device is enabled.", required=True)
    device_fields = {
        "path": path_field,
        "type": Field(FieldType.STRING, "Device type: file, socket or syslog."),
        "description": Field(FieldType.STRING, "Human-friendly description."),
        "options": Field(
            FieldType.KV_PAIRS,
            "Device options, e.g. file_path, mode, format, prefix, log_raw, hmac_accessor.",
        ),
        "local": Field(FieldType.BOOL, "Not replicated (accepted for compatibility)."),
    }
    hash_fields = {
        "path": path_field,
        "input": Field(FieldType.STRING, "The value to hash.", sensitive=True),
    }
    return [
        Path("audit/?", "List the enabled audit devices.", ops(read=list_devices)),
        Path(
            "audit/(?P<path>.+)",
            "Enable or disable an audit device.",
            ops(update=enable, delete=disable),
            fields=device_fields,
        ),
        Path(
            "audit-hash/(?P<path>.+)",
            "Hash a value with an audit device's HMAC key.",
            ops(update=audit_hash),
            fields=hash_fields,
        ),
    ]
