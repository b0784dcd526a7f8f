"""Database plugins by Vault plugin name."""

from __future__ import annotations

from hush.core.errors import InvalidRequest
from hush.engines.database.plugins.base import ConnectionSettings, DatabaseError, DatabasePlugin
from hush.engines.database.plugins.mysql import MySQLPlugin
from hush.engines.database.plugins.postgresql import PostgreSQLPlugin

__all__ = [
    "PLUGIN_NAMES",
    "ConnectionSettings",
    "DatabaseError",
    "DatabasePlugin",
    "check_plugin_name",
    "make_plugin",
]

#: Every plugin name Hush accepts (Vault's builtin names for PostgreSQL and MySQL/MariaDB).
PLUGIN_NAMES = (
    "postgresql-database-plugin",
    "mysql-database-plugin",
    "mysql-aurora-database-plugin",
    "mysql-rds-database-plugin",
    "mysql-legacy-database-plugin",
)


def check_plugin_name(name: str) -> None:
    """400 unless ``name`` is a plugin Hush ships."""
    if name not in PLUGIN_NAMES:
        raise InvalidRequest(
            f'error creating database object: unknown plugin_name "{name}" '
            f"(supported: {', '.join(PLUGIN_NAMES)})"
        )


def make_plugin(name: str, settings: ConnectionSettings) -> DatabasePlugin:
    """A plugin instance (no connection is opened yet)."""
    check_plugin_name(name)
    if name == "postgresql-database-plugin":
        return PostgreSQLPlugin(settings)
    # Vault gives the aurora, rds and legacy variants MySQL 5.6's 16-character usernames.
    return MySQLPlugin(settings, legacy=name != "mysql-database-plugin")
