"""``sys/metrics`` and ``sys/loggers``: what operators watch and tune at run time."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from hush.core.errors import InvalidRequest
from hush.core.request import Request, Response
from hush.core.system.common import ops
from hush.framework.fields import Field, FieldData, FieldType
from hush.framework.path import Path

if TYPE_CHECKING:
    from hush.core.core import Core

__all__ = ["LOG_LEVELS", "observability_paths"]

LOG_LEVELS = {
    "trace": logging.DEBUG,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}
_ROOT_LOGGER = "hush"


def _level_name(level: int) -> str:
    return {
        logging.DEBUG: "debug",
        logging.INFO: "info",
        logging.WARNING: "warn",
        logging.ERROR: "error",
    }.get(level, logging.getLevelName(level).lower())


def _hush_loggers() -> dict[str, logging.Logger]:
    found = {_ROOT_LOGGER: logging.getLogger(_ROOT_LOGGER)}
    for name in list(logging.root.manager.loggerDict):
        if name.startswith(_ROOT_LOGGER + "."):
            found[name] = logging.getLogger(name)
    return found


def observability_paths(core: Core) -> list[Path]:
    """Metrics and logger-level endpoints of the system backend."""

    async def read_metrics(request: Request, fields: FieldData) -> Response:
        """Node metrics as Prometheus text (format=prometheus) or Vault's JSON shape."""
        if fields.string("format") == "prometheus":
            return Response(
                body_bytes=core.metrics.prometheus_text(),
                content_type="text/plain; version=0.0.4; charset=utf-8",
            )
        return Response(raw_body=core.metrics.vault_json())

    async def read_loggers(request: Request, fields: FieldData) -> Response:
        """Current level of every Hush logger."""
        return Response(
            data={
                name: _level_name(logger.getEffectiveLevel())
                for name, logger in sorted(_hush_loggers().items())
            }
        )

    async def write_level(request: Request, fields: FieldData) -> None:
        """Set the level of all Hush loggers, or of one (sys/loggers/:name)."""
        level = fields.string("level").lower()
        if level not in LOG_LEVELS:
            raise InvalidRequest(f'invalid level "{level}"; use one of {", ".join(LOG_LEVELS)}')
        name = fields.string("name") or _ROOT_LOGGER
        if name != _ROOT_LOGGER and not name.startswith(_ROOT_LOGGER + "."):
            name = f"{_ROOT_LOGGER}.{name}"
        logging.getLogger(name).setLevel(LOG_LEVELS[level])

    async def reset_level(request: Request, fields: FieldData) -> None:
        """Reset a logger (or all Hush loggers) to the configured level."""
        name = fields.string("name")
        targets = [logging.getLogger(name)] if name else list(_hush_loggers().values())
        for logger in targets:
            logger.setLevel(logging.NOTSET if logger.name != _ROOT_LOGGER else core.log_level)

    level_fields = {
        "level": Field(FieldType.STRING, "trace, debug, info, warn or error."),
        "name": Field(FieldType.STRING, "Logger name (hush.api, hush.core, ...)."),
    }
    return [
        Path(
            "metrics",
            "Node metrics.",
            ops(read=read_metrics),
            fields={
                "format": Field(
                    FieldType.STRING, "prometheus or empty for JSON.", allowed=("", "prometheus")
                )
            },
        ),
        Path(
            "loggers",
            "Log levels of all loggers.",
            ops(read=read_loggers, update=write_level, delete=reset_level),
            fields=level_fields,
        ),
        Path(
            "loggers/(?P<name>[^/]+)",
            "Log level of one logger.",
            ops(update=write_level, delete=reset_level),
            fields=level_fields,
        ),
    ]
