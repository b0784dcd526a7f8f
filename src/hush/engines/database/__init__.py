"""The database secrets engine: dynamic and static credentials for PostgreSQL and MySQL."""

from hush.engines.database.backend import DatabaseBackend

__all__ = ["DatabaseBackend"]
